-- WebAuthn: security keys and platform authenticators (issue #32). `credential` is webauthn-rs's
-- serialised credential (public key, counter, flags); `credential_id` its base64url id, unique
-- across users (a credential registered twice would let one key answer for two accounts).
-- `counter` is kept beside the blob so that a login can move it forward in one conditional
-- statement. Removing a key deletes its row; the audit log keeps its story.
CREATE TABLE webauthn_credentials (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id   TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('security_key', 'passkey')),
    name            TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    credential      TEXT NOT NULL,
    counter         BIGINT NOT NULL DEFAULT 0,
    backup_eligible BIGINT NOT NULL CHECK (backup_eligible IN (0, 1)),
    backup_state    BIGINT NOT NULL CHECK (backup_state IN (0, 1)),
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX webauthn_credentials_by_user ON webauthn_credentials (user_id, created_at);

-- A ceremony begun and not yet finished: webauthn-rs's state, kept server-side (never sent to
-- the browser) so that any node may finish it. `id` is the SHA-256 (hex) of the challenge the
-- browser signs, which its clientDataJSON carries back. Spent once (`used_at`), within
-- `expires_at`; the janitor deletes the old ones.
CREATE TABLE webauthn_challenges (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('registration', 'authentication')),
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    state         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
CREATE INDEX webauthn_challenges_by_expiry ON webauthn_challenges (expires_at);
