-- 0007: a stream's continuation within one window (Xero pages by number
-- under one If-Modified-Since), kept with its position so that a slice cut
-- after any page resumes at the next one.

ALTER TABLE sync_streams ADD COLUMN page_token TEXT;

-- A run's discovery answers (systems, organisations) kept as they come, so
-- that a discovery needing more provider calls than one slice may make
-- resumes where it stopped; dropped when the run's streams begin.
CREATE TABLE sync_discovery (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
