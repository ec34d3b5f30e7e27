-- WebAuthn logins (issue #32): a ceremony may now be bound to no user (a passkey sign-in finds
-- its user by the credential's user handle) or to a login waiting for its second factor
-- (`login_id_hash`: the digest of the login's twoFactorId, which only that login may spend it
-- for); the purposes grow with them. Ceremonies live five minutes, so the table is made again
-- rather than altered (SQLite cannot change a CHECK): one begun during the upgrade starts again.
DROP TABLE webauthn_challenges;
CREATE TABLE webauthn_challenges (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT REFERENCES users(id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('registration', 'passkey_registration',
                      'authentication', 'second_factor', 'passkey')),
    login_id_hash TEXT,
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    state         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT,
    -- Only a passkey sign-in has no user; only a second factor has a login.
    CHECK ((user_id IS NULL) = (purpose = 'passkey')),
    CHECK ((login_id_hash IS NOT NULL) = (purpose = 'second_factor'))
);
CREATE INDEX webauthn_challenges_by_expiry ON webauthn_challenges (expires_at);
