-- Case queues (issue 37): a supervisor escalates a case (it goes to the `escalated` queue until it
-- is resolved) and says why. Priorities and the other queues are computed when cases are read
-- (src/cases/case-store.ts), from the decision's score, the model's score and the amount, so the
-- scoring path (which opens cases) pays nothing for them: no column, no index.
ALTER TABLE cases ADD COLUMN escalated_at timestamptz;
ALTER TABLE cases ADD COLUMN escalated_by text;
ALTER TABLE cases ADD COLUMN escalation_reason text;
