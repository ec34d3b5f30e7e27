-- Two-factor methods, recovery codes, pending login challenges, per-user failures, trusted
-- computers, and run-time settings.

CREATE TABLE two_factor_methods (
    id                 TEXT PRIMARY KEY NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind               TEXT NOT NULL,
    name               TEXT,
    secret_ciphertext  TEXT,
    secret_key_id      TEXT,
    algorithm          TEXT,
    digits             BIGINT,
    period             BIGINT,
    mobile_phone       TEXT,
    email              TEXT,
    -- The last authenticator time step accepted: that step and earlier ones never count again.
    last_used_step     BIGINT,
    created_at         BIGINT NOT NULL,
    last_used_at       BIGINT
);
CREATE INDEX two_factor_methods_by_user ON two_factor_methods (user_id);

-- Keyed hashes (HMAC-SHA256) of the normalised codes; the codes themselves are shown once.
CREATE TABLE recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A password login waiting for its second factor, addressed by the SHA-256 of its twoFactorId.
CREATE TABLE login_challenges (
    id_hash               TEXT PRIMARY KEY NOT NULL,
    user_id               TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    login_type            TEXT NOT NULL,
    application_id        TEXT,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    attempts              BIGINT NOT NULL DEFAULT 0,
    completed_at          BIGINT,
    enrollment_code_hash  TEXT,
    ip                    TEXT,
    user_agent            TEXT
);
CREATE INDEX login_challenges_by_user ON login_challenges (user_id);
CREATE INDEX login_challenges_by_expiry ON login_challenges (expires_at);

CREATE TABLE two_factor_failures (
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at       BIGINT NOT NULL
);
CREATE INDEX two_factor_failures_by_user ON two_factor_failures (user_id, at);

CREATE TABLE trusted_computers (
    id              TEXT PRIMARY KEY NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    application_id  TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT,
    ip              TEXT,
    user_agent      TEXT
);
CREATE INDEX trusted_computers_by_user ON trusted_computers (user_id);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT
);
