-- 0007: a stream's continuation within one window (Xero pages by number
-- under one If-Modified-Since), kept with its position so that a slice cut
-- after any page resumes at the next one.

ALTER TABLE sync_streams ADD COLUMN page_token TEXT;
