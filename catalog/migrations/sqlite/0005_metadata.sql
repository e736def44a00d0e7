-- Descriptive metadata for catalogues and feeds (issue #5): English title and
-- description, themes, keywords, licence, update frequency, coverage, index
-- number (索引号) and produced date, as one JSON object.
ALTER TABLE datasets ADD COLUMN metadata_json TEXT NOT NULL DEFAULT '{}';
