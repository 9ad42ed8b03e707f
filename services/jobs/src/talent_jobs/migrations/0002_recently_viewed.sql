-- The recently-viewed projection: per visitor, each job once, with its latest view.
CREATE TABLE recently_viewed (
    visitor_id text NOT NULL,
    job_id     uuid NOT NULL,
    viewed_at  timestamptz NOT NULL,
    PRIMARY KEY (visitor_id, job_id)
);

CREATE INDEX recently_viewed_latest ON recently_viewed (visitor_id, viewed_at DESC, job_id);

-- Applies a batch of views in one round trip: keep the greatest viewed_at per (visitor, job),
-- then keep only each touched visitor's `kept` most recent jobs. Order-independent and
-- idempotent, so redelivered or late views give the same result.
CREATE FUNCTION project_job_views(
    visitor_ids text[], job_ids uuid[], viewed_ats timestamptz[], kept integer
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO recently_viewed (visitor_id, job_id, viewed_at)
    SELECT visitor_id, job_id, max(viewed_at)
    FROM unnest(visitor_ids, job_ids, viewed_ats) AS v(visitor_id, job_id, viewed_at)
    GROUP BY visitor_id, job_id
    ON CONFLICT (visitor_id, job_id)
    DO UPDATE SET viewed_at = greatest(recently_viewed.viewed_at, excluded.viewed_at);

    DELETE FROM recently_viewed AS r
    USING (
        SELECT visitor_id, job_id
        FROM (
            SELECT visitor_id, job_id,
                   row_number() OVER (PARTITION BY visitor_id ORDER BY viewed_at DESC, job_id) AS rank
            FROM recently_viewed
            WHERE visitor_id = ANY (visitor_ids)
        ) AS ranked
        WHERE rank > kept
    ) AS stale
    WHERE r.visitor_id = stale.visitor_id AND r.job_id = stale.job_id;
$$;
