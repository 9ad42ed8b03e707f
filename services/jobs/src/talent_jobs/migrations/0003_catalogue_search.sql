-- Catalogue filters served by indexes: full-text search on title and description, and
-- case-insensitive "contains" on location (trigram), case-insensitive category equality.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE jobs ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A') ||
    setweight(to_tsvector('english', description), 'B')
) STORED;

CREATE INDEX jobs_search ON jobs USING gin (search);
CREATE INDEX jobs_location_trigram ON jobs USING gin (location gin_trgm_ops);
CREATE INDEX jobs_category_lower ON jobs (lower(category));
CREATE INDEX jobs_featured_open ON jobs (posted_at DESC, job_id DESC)
    WHERE status = 'open' AND featured;
