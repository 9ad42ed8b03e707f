CREATE TABLE jobs (
    job_id          uuid PRIMARY KEY,
    title           text NOT NULL,
    category        text NOT NULL,
    location        text NOT NULL,
    description     text NOT NULL,
    employment_type text,
    featured        boolean NOT NULL DEFAULT false,
    requisition_id  text UNIQUE,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    posted_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    closed_at       timestamptz
);

CREATE INDEX jobs_open_newest ON jobs (posted_at DESC, job_id DESC) WHERE status = 'open';
