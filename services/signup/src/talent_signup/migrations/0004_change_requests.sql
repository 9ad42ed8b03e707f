-- A sign-up for an address that already belongs to a candidate changes nothing by itself: it
-- records what was asked for here, and the email to that address carries a link bound to this row.
-- `requested` is NULL for "you are already a member" (nothing would change); such a row still
-- counts towards the one email per address per hour.
CREATE TABLE change_requests (
    change_id    uuid PRIMARY KEY,
    candidate_id uuid NOT NULL REFERENCES candidates ON DELETE CASCADE,
    requested    jsonb,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_at   timestamptz
);

CREATE INDEX change_requests_latest ON change_requests (candidate_id, requested_at DESC);
