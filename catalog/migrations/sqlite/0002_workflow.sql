-- Agencies, roles and the publishing workflow (issue #7).
-- Booleans are 0/1 integers so both backends read them the same way.

ALTER TABLE agencies ADD COLUMN review_required BIGINT NOT NULL DEFAULT 1;

ALTER TABLE datasets ADD COLUMN disclosure TEXT NOT NULL DEFAULT 'public';
ALTER TABLE datasets ADD COLUMN disclosure_reason TEXT;
ALTER TABLE datasets ADD COLUMN decision_date TEXT;
ALTER TABLE datasets ADD COLUMN withdrawn_reason TEXT;
ALTER TABLE datasets ADD COLUMN withdrawn_at TEXT;
ALTER TABLE datasets ADD COLUMN withdrawn_by TEXT;

ALTER TABLE versions ADD COLUMN submitted_by TEXT;
ALTER TABLE versions ADD COLUMN submitted_at TEXT;
ALTER TABLE versions ADD COLUMN reviewed_by TEXT;
ALTER TABLE versions ADD COLUMN reviewed_at TEXT;
ALTER TABLE versions ADD COLUMN review_comment TEXT;
ALTER TABLE versions ADD COLUMN scheduled_at TEXT;
ALTER TABLE versions ADD COLUMN correction_notice TEXT;

ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN disabled_at TEXT;

ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'write';
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';

CREATE INDEX versions_status ON versions (status);
CREATE INDEX tokens_user ON tokens (user_id);
