-- This service's own replica of the candidates it may email, built from talent.candidates.v1.
CREATE TABLE subscribers (
    candidate_id    uuid PRIMARY KEY,
    email           text NOT NULL,
    first_name      text NOT NULL,
    interests       text[] NOT NULL DEFAULT '{}',
    locations       text[] NOT NULL DEFAULT '{}',
    keywords        text[] NOT NULL DEFAULT '{}',
    alert_frequency text NOT NULL,
    subscribed      boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX subscribers_alertable ON subscribers (alert_frequency) WHERE subscribed;

-- Erased candidates: nothing personal, only the id, so a replayed or late event cannot bring
-- them back.
CREATE TABLE erased_candidates (
    candidate_id uuid PRIMARY KEY,
    erased_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Replica of the job catalogue, built from jobs.postings.v1. `updated_at` is the source's, so
-- an older snapshot arriving late never overwrites a newer one.
CREATE TABLE jobs (
    job_id      uuid PRIMARY KEY,
    title       text NOT NULL,
    category    text NOT NULL,
    location    text NOT NULL,
    description text NOT NULL,
    status      text NOT NULL CHECK (status IN ('open', 'closed')),
    posted_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX jobs_open_newest ON jobs (posted_at DESC) WHERE status = 'open';

-- The delivery log. A row is written before its email is sent; dedup_key (candidate, kind,
-- job or period) makes a second email for the same reason impossible.
CREATE TABLE deliveries (
    delivery_id     uuid PRIMARY KEY,
    dedup_key       text NOT NULL UNIQUE,
    candidate_id    uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('welcome', 'job_alert', 'digest')),
    to_address      text,
    subject         text,
    body_text       text,
    body_html       text,
    job_ids         uuid[] NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at         timestamptz
);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_address ON deliveries (lower(to_address));
CREATE INDEX deliveries_by_candidate ON deliveries (candidate_id);

-- Every job ever put in an alert or digest for a candidate: a job is never alerted twice.
CREATE TABLE alerted_jobs (
    candidate_id uuid NOT NULL,
    job_id       uuid NOT NULL,
    delivery_id  uuid NOT NULL,
    PRIMARY KEY (candidate_id, job_id)
);

-- Matching jobs waiting for a daily or weekly candidate's next digest.
CREATE TABLE digest_queue (
    candidate_id uuid NOT NULL,
    job_id       uuid NOT NULL,
    queued_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (candidate_id, job_id)
);
