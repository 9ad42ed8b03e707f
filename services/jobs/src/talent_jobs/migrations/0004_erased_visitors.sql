-- Visitors whose candidate was erased, as a SHA-256 of the visitor id (nothing readable kept),
-- with the time of the erasure: a view that happened before it, consumed after it, is dropped.
CREATE TABLE erased_visitors (
    visitor_hash bytea PRIMARY KEY,
    erased_at    timestamptz NOT NULL
);

-- A view projected while an erasure deletes the visitor's rows could slip past the DELETE
-- (READ COMMITTED: neither sees the other's uncommitted row). Projecting takes this advisory lock
-- shared (batches still run side by side), erasing takes it exclusive; being VOLATILE, the
-- function's later statements see whatever the erasure committed before the lock was granted.
CREATE OR REPLACE FUNCTION project_job_views(
    visitor_ids text[], job_ids uuid[], viewed_ats timestamptz[], kept integer
) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock_shared(7461722201);

    INSERT INTO recently_viewed (visitor_id, job_id, viewed_at)
    SELECT visitor_id, job_id, max(viewed_at)
    FROM unnest(visitor_ids, job_ids, viewed_ats) AS v(visitor_id, job_id, viewed_at)
    WHERE NOT EXISTS (SELECT 1 FROM erased_visitors AS e
                      WHERE e.visitor_hash = sha256(convert_to(v.visitor_id, 'UTF8'))
                        AND v.viewed_at <= e.erased_at)
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

-- Erases visitors in one transaction: tombstones first, then their rows, the lock held
-- exclusively so no projection runs in between.
CREATE FUNCTION erase_visitors(visitor_ids text[], erased_at timestamptz)
RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(7461722201);

    INSERT INTO erased_visitors (visitor_hash, erased_at)
    SELECT sha256(convert_to(visitor_id, 'UTF8')), erased_at FROM unnest(visitor_ids) AS visitor_id
    ON CONFLICT (visitor_hash) DO UPDATE
    SET erased_at = greatest(erased_visitors.erased_at, excluded.erased_at);

    DELETE FROM recently_viewed WHERE visitor_id = ANY (visitor_ids);
$$;
