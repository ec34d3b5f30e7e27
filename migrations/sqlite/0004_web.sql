-- For the web pages: secrets waiting for their first code, a user's own trust choice, and the
-- Authy-migration flag.

CREATE TABLE pending_secrets (
    id_hash            TEXT PRIMARY KEY NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_ciphertext  TEXT NOT NULL,
    secret_key_id      TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL
);

-- 1: this user wants a second factor at every login, even where computers may be trusted.
ALTER TABLE users ADD COLUMN every_login BIGINT NOT NULL DEFAULT 0;
-- 1: moved from Authy; the first login sends an SMS code at once.
ALTER TABLE users ADD COLUMN authy_migrated BIGINT NOT NULL DEFAULT 0;
