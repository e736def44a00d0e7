-- Keyed pseudonyms (issue #4): one secret key per publisher, never exported.
ALTER TABLE agencies ADD COLUMN pseudonym_key TEXT;
CREATE TABLE platform_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
