-- Issue 23. Webhooks (Standard Webhooks): endpoints and their signing secrets, one delivery row per
-- event and endpoint (held durably until a 2xx, retried on a schedule), every attempt, and the
-- outbox of the events that have no topic of their own (case.resolved, rules.activated).
CREATE TABLE webhook_endpoints (
  endpoint_id     text PRIMARY KEY,
  url             text NOT NULL,
  events          text[] NOT NULL,
  description     text,
  enabled         boolean NOT NULL DEFAULT true,
  disabled_reason text,
  -- Since when every attempt failed (null after a success): past WEBHOOK_DISABLE_AFTER, disabled.
  failing_since   timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Sealed (AES-256-GCM under WEBHOOK_SECRET_KEY), never stored in clear. A rotated secret keeps
-- signing beside the new one until expires_at.
CREATE TABLE webhook_secrets (
  secret_id   bigserial PRIMARY KEY,
  endpoint_id text NOT NULL REFERENCES webhook_endpoints (endpoint_id) ON DELETE CASCADE,
  sealed      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz
);
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets (endpoint_id);

CREATE TABLE webhook_deliveries (
  delivery_id     bigserial PRIMARY KEY,
  endpoint_id     text NOT NULL REFERENCES webhook_endpoints (endpoint_id) ON DELETE CASCADE,
  -- The `webhook-id` header: the same on every attempt, redelivery and replay of one event.
  message_id      text NOT NULL,
  event_type      text NOT NULL,
  -- The exact body sent (signed with each attempt's timestamp).
  body            text NOT NULL,
  event_at        timestamptz NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        int NOT NULL DEFAULT 0,
  -- When it is due; a claim moves it to the end of its lease (a dispatcher that died releases its
  -- claims so). Null once delivered or failed.
  next_attempt_at timestamptz,
  last_status     int,
  last_error      text,
  delivered_at    timestamptz,
  UNIQUE (endpoint_id, message_id)
) WITH (fillfactor = 80); -- room on the page for the updates of a claim and its result
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at)
  WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event_at ON webhook_deliveries (endpoint_id, event_at);

CREATE TABLE webhook_attempts (
  delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
  attempt      int NOT NULL,
  attempted_at timestamptz NOT NULL,
  status_code  int,
  latency_ms   int NOT NULL,
  error        text,
  PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE event_outbox (
  event_id     bigserial PRIMARY KEY,
  type         text NOT NULL,
  key          text NOT NULL,
  data         jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX event_outbox_pending ON event_outbox (event_id) WHERE published_at IS NULL;
