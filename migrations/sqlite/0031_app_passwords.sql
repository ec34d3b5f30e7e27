-- App passwords: a secret a person makes in their security settings for a client without a
-- browser (Basic authentication at forward-auth). Only a keyed SHA-256 of it is kept (it is
-- shown once); `two_factor`: made in a session that gave a second factor, so it stands for
-- both. Revoking one deletes its row; the audit log keeps its story.
CREATE TABLE app_passwords (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL UNIQUE,
    two_factor    BIGINT NOT NULL CHECK (two_factor IN (0, 1)),
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX app_passwords_by_user ON app_passwords (user_id, created_at);
