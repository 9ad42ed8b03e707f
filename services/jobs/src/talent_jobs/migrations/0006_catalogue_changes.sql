-- The sitemap's lastmod of / and /jobs is the catalogue's last change: read from this index
-- instead of a scan of every job ever posted.
CREATE INDEX jobs_updated_at ON jobs (updated_at DESC);
