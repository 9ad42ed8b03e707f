-- The same projection as 0004 (tombstones, the shared advisory lock, newest wins, `kept` per
-- visitor), with less work per batch:
-- * a visitor's tombstone is looked up once per distinct visitor of the batch, not per view;
-- * the trim walks each touched visitor's rows in the (visitor_id, viewed_at DESC, job_id)
--   index and skips the first `kept`, instead of ranking all of them with a window function.
CREATE OR REPLACE FUNCTION project_job_views(
    visitor_ids text[], job_ids uuid[], viewed_ats timestamptz[], kept integer
) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock_shared(7461722201);

    -- A batch may hold views from before and after an erasure: the newest is after it when
    -- any is, so filtering the newest per (visitor, job) keeps what filtering each view keeps.
    WITH newest AS (
        SELECT visitor_id, job_id, max(viewed_at) AS viewed_at
        FROM unnest(visitor_ids, job_ids, viewed_ats) AS v(visitor_id, job_id, viewed_at)
        GROUP BY visitor_id, job_id
    ), erased AS (
        SELECT touched.visitor_id, e.erased_at
        FROM (SELECT DISTINCT unnest(visitor_ids) AS visitor_id) AS touched
        JOIN erased_visitors AS e
          ON e.visitor_hash = sha256(convert_to(touched.visitor_id, 'UTF8'))
    )
    INSERT INTO recently_viewed (visitor_id, job_id, viewed_at)
    SELECT n.visitor_id, n.job_id, n.viewed_at
    FROM newest AS n LEFT JOIN erased AS e USING (visitor_id)
    WHERE e.erased_at IS NULL OR n.viewed_at > e.erased_at
    ON CONFLICT (visitor_id, job_id)
    DO UPDATE SET viewed_at = greatest(recently_viewed.viewed_at, excluded.viewed_at);

    DELETE FROM recently_viewed AS r
    USING (SELECT DISTINCT unnest(visitor_ids) AS visitor_id) AS touched,
          LATERAL (SELECT x.job_id
                   FROM recently_viewed AS x
                   WHERE x.visitor_id = touched.visitor_id
                   ORDER BY x.viewed_at DESC, x.job_id
                   OFFSET kept) AS stale
    WHERE r.visitor_id = touched.visitor_id AND r.job_id = stale.job_id;
$$;
