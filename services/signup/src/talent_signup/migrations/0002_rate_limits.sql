-- Sign-up rate limits, shared by every replica: one row per counter and fixed window.
-- The key of the email scope is a keyed hash of the address, never the address itself.
CREATE TABLE rate_limit_windows (
    scope        text NOT NULL,
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (scope, key, window_start)
);

CREATE INDEX rate_limit_windows_by_end ON rate_limit_windows (window_end);
