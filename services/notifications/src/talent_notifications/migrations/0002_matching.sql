-- The contract's matching rules, in one place, used by every query that matches jobs to
-- candidates: category is one of the interests (any case; none = any), the location contains one
-- of the locations (none = any), and when there are keywords one occurs in title or description.
CREATE FUNCTION matched_keyword(keywords text[], title text, description text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT k FROM unnest(keywords) WITH ORDINALITY AS t(k, n)
    WHERE strpos(lower(title || ' ' || description), lower(k)) > 0
    ORDER BY n LIMIT 1
$$;

CREATE FUNCTION job_matches(
    interests text[], locations text[], keywords text[],
    category text, location text, title text, description text
) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (cardinality(interests) = 0
            OR EXISTS (SELECT 1 FROM unnest(interests) AS i WHERE lower(i) = lower(category)))
       AND (cardinality(locations) = 0
            OR EXISTS (SELECT 1 FROM unnest(locations) AS l
                       WHERE strpos(lower(location), lower(l)) > 0))
       AND (cardinality(keywords) = 0 OR matched_keyword(keywords, title, description) IS NOT NULL)
$$;
