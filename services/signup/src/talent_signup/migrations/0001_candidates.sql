CREATE TABLE candidates (
    candidate_id    uuid PRIMARY KEY,
    email           text NOT NULL,
    -- Identity of an email: the same address in any case is the same candidate.
    email_key       text NOT NULL UNIQUE,
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    phone           text,
    interests       text[] NOT NULL DEFAULT '{}',
    locations       text[] NOT NULL DEFAULT '{}',
    keywords        text[] NOT NULL DEFAULT '{}',
    alert_frequency text NOT NULL CHECK (alert_frequency IN ('instant', 'daily', 'weekly', 'never')),
    status          text NOT NULL DEFAULT 'subscribed' CHECK (status IN ('subscribed', 'unsubscribed')),
    visitor_id      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    unsubscribed_at timestamptz
);

-- The consent given at each sign-up, kept for audit (erased with the candidate).
CREATE TABLE consents (
    consent_id   bigserial PRIMARY KEY,
    candidate_id uuid NOT NULL REFERENCES candidates ON DELETE CASCADE,
    given_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    text_version text NOT NULL,
    source       text NOT NULL CHECK (source IN ('form', 'import')),
    visitor_id   text
);

CREATE INDEX consents_by_candidate ON consents (candidate_id, given_at);

-- What erasure keeps: no personal data, only a keyed hash of the email, so the erasure can be
-- proven and a returning address recognised, and the candidate id, so deletes stay idempotent.
CREATE TABLE erasures (
    candidate_id uuid PRIMARY KEY,
    email_hash   text NOT NULL,
    erased_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX erasures_by_email_hash ON erasures (email_hash);
