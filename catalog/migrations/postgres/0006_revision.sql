-- Optimistic concurrency (issue #32): every statement that changes a dataset
-- row bumps its revision; GET returns it as the ETag and PATCH with If-Match
-- or a compare-and-swap refuses to write over a change it has not seen.
ALTER TABLE datasets ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
