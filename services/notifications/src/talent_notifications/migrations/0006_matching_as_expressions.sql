-- Matching as plain expressions over stored columns. job_matches (0002) runs as a function call
-- per (subscriber, job) pair: its sub-selects keep PostgreSQL from inlining it, and a pair took
-- about 15 µs; a job of the reference data set (3,000 jobs, 200,000 members) checks 80,000
-- members, a sign-up 900 jobs. The same rules, evaluated in place (repository.MATCHES):
-- * a place matches when the job's location contains it (any case): the job's lower-case
--   location LIKE '%<place>%', the place lower-cased with LIKE's wildcards escaped;
-- * a keyword likewise in the job's lower-case title and description.
-- job_matches stays: a running older version calls it while this applies.
CREATE FUNCTION contains_patterns(terms text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(
               '%' || replace(replace(replace(lower(term), '\', '\\'), '%', '\%'), '_', '\_') || '%'
               ORDER BY n), '{}')
    FROM unnest(terms) WITH ORDINALITY AS t(term, n)
$$;

ALTER TABLE subscribers
    ADD COLUMN location_patterns text[] GENERATED ALWAYS AS (contains_patterns(locations)) STORED,
    ADD COLUMN keyword_patterns text[] GENERATED ALWAYS AS (contains_patterns(keywords)) STORED;
ALTER TABLE jobs ADD COLUMN match_text text GENERATED ALWAYS AS (lower(title || ' ' || description)) STORED;
