-- Core tables: users, sessions, API keys, audit events.
-- Instants are milliseconds since the Unix epoch (BIGINT), ids are TEXT, so that the SQLite and
-- PostgreSQL schemas answer the same queries. Flags are BIGINT 0/1: the Any driver cannot map
-- SQLite booleans.

CREATE TABLE users (
    id                      TEXT PRIMARY KEY NOT NULL,
    username                TEXT NOT NULL,
    username_key            TEXT NOT NULL UNIQUE,
    email                   TEXT,
    email_key               TEXT UNIQUE,
    full_name               TEXT,
    mobile_phone            TEXT,
    roles                   TEXT NOT NULL,
    active                  BIGINT NOT NULL CHECK (active IN (0, 1)),
    two_factor_required     BIGINT NOT NULL DEFAULT 0 CHECK (two_factor_required IN (0, 1)),
    terms_version_accepted  BIGINT,
    password_hash           TEXT NOT NULL,
    password_changed_at     BIGINT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    last_login_at           BIGINT
);

CREATE TABLE sessions (
    id               TEXT PRIMARY KEY NOT NULL,
    user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    amr              TEXT NOT NULL,
    application_id   TEXT,
    refresh_hash     TEXT NOT NULL UNIQUE,
    created_at       BIGINT NOT NULL,
    authenticated_at BIGINT NOT NULL,
    refreshed_at     BIGINT,
    expires_at       BIGINT NOT NULL,
    revoked_at       BIGINT,
    ip               TEXT,
    user_agent       TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    target      TEXT,
    event       TEXT NOT NULL,
    ip          TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_by_time ON audit_events (at);
CREATE INDEX audit_events_by_target ON audit_events (target, at);
CREATE INDEX audit_events_by_event ON audit_events (event, at);
