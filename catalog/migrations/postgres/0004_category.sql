-- Dataset category: sets the redaction defaults (issue #4).
ALTER TABLE datasets ADD COLUMN category TEXT NOT NULL DEFAULT 'other';
