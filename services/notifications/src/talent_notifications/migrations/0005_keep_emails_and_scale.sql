-- Round 3: matching served by indexes, coalesced instant alerts, suppressed addresses and
-- fenced sends.

-- Each subscriber's interests as matching compares them (lower case), so a job finds the
-- subscribers of its category through an index instead of checking every member.
CREATE FUNCTION lower_terms(terms text[]) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(lower(term) ORDER BY n), '{}')
    FROM unnest(terms) WITH ORDINALITY AS t(term, n)
$$;

ALTER TABLE subscribers ADD COLUMN interest_keys text[]
    GENERATED ALWAYS AS (lower_terms(interests)) STORED;
CREATE INDEX subscribers_by_interest ON subscribers USING gin (interest_keys)
    WHERE subscribed AND alert_frequency <> 'never';
CREATE INDEX subscribers_of_any_interest ON subscribers (candidate_id)
    WHERE subscribed AND alert_frequency <> 'never' AND interest_keys = '{}';
CREATE INDEX jobs_open_by_category ON jobs (lower(category)) WHERE status = 'open';

-- Coalesced instant alerts: a match is claimed at once (a job is never alerted twice) and waits,
-- without a delivery, until its candidate's window closes; the first waiting match opens it.
ALTER TABLE alerted_jobs ALTER COLUMN delivery_id DROP NOT NULL;
ALTER TABLE alerted_jobs ADD COLUMN matched_at timestamptz NOT NULL DEFAULT clock_timestamp();
CREATE INDEX alerted_jobs_waiting ON alerted_jobs (candidate_id, matched_at)
    WHERE delivery_id IS NULL;

CREATE TABLE alert_windows (
    candidate_id uuid PRIMARY KEY,
    closes_at    timestamptz NOT NULL
);
CREATE INDEX alert_windows_by_close ON alert_windows (closes_at);

-- Addresses nothing more is sent to: a permanent refusal or bounce, or a complaint. Kept as a
-- hash of the address in lower case, so erasure leaves nothing readable.
CREATE TABLE suppressions (
    address_hash  bytea PRIMARY KEY,
    reason        text NOT NULL CHECK (reason IN ('bounce', 'complaint')),
    detail        text,
    suppressed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The transactional emails of a repeat sign-up, and the deliveries not sent to a suppressed
-- address.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_kind_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_kind_check CHECK (kind IN (
    'welcome', 'job_alert', 'digest', 'confirmation', 'change_confirmation', 'already_member'));
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'suppressed'));

-- A fenced send: each lease has its token; a worker confirms it right before sending, and only
-- the holder of the current token may mark the delivery.
ALTER TABLE deliveries ADD COLUMN lease_token uuid;
ALTER TABLE deliveries ADD COLUMN leased_by text;
