-- Gongkai catalogue, initial schema (SQLite). Timestamps are RFC 3339 UTC text.
CREATE TABLE agencies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_en     TEXT,
    parent_id   BIGINT REFERENCES agencies(id),
    kind        TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE datasets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    slug            TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    description     TEXT,
    agency_id       BIGINT REFERENCES agencies(id),
    status          TEXT NOT NULL,
    latest_version  BIGINT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    published_at    TEXT
);

CREATE TABLE versions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset_id      BIGINT NOT NULL REFERENCES datasets(id),
    number          BIGINT NOT NULL,
    status          TEXT NOT NULL,
    original_name   TEXT NOT NULL,
    raw_key         TEXT,
    draft_key       TEXT,
    public_key      TEXT,
    row_count       BIGINT NOT NULL,
    byte_size       BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    columns_json    TEXT NOT NULL,
    report_json     TEXT NOT NULL,
    change_note     TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    published_by    TEXT,
    published_at    TEXT,
    UNIQUE (dataset_id, number)
);

CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    agency_id   BIGINT REFERENCES agencies(id),
    created_at  TEXT NOT NULL
);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    details     TEXT NOT NULL
);

-- The audit log is append-only: the database itself refuses edits.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
