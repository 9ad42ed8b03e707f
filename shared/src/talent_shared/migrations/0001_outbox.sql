-- Transactional outbox: an event row written in the same transaction as the state change it
-- follows; the relay publishes pending rows in id order and marks them published.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE,
    topic           text NOT NULL,
    message_key     text NOT NULL,
    event_type      text NOT NULL,
    payload         bytea NOT NULL,
    headers         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text
);

CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
