-- Rule performance reads the live decisions of a time range (GET /rules/performance, bounded to
-- 92 days): an index on their decision time instead of a scan of every decision (issue 20).
CREATE INDEX IF NOT EXISTS decisions_live_decided_at ON decisions (decided_at) WHERE live;
