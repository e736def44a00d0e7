-- Gongkai catalogue, initial schema (PostgreSQL). Timestamps are RFC 3339 UTC text,
-- the same representation as on SQLite so both backends share one query layer.
CREATE TABLE agencies (
    id          BIGSERIAL PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_en     TEXT,
    parent_id   BIGINT REFERENCES agencies(id),
    kind        TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE datasets (
    id              BIGSERIAL PRIMARY KEY,
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
    id              BIGSERIAL PRIMARY KEY,
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
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    agency_id   BIGINT REFERENCES agencies(id),
    created_at  TEXT NOT NULL
);

CREATE TABLE tokens (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id),
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);

CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    details     TEXT NOT NULL
);

-- The audit log is append-only: the database itself refuses edits.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
