-- A key or passkey registered during a login that must enrol a second factor (issue #32): its
-- registration ceremony is bound to that login too (`login_id_hash`), so that only that login
-- may finish it, and no session's registration may. Ceremonies live five minutes, so the table
-- is made again rather than altered (SQLite cannot change a CHECK): one begun during the
-- upgrade starts again.
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
    -- Only a passkey sign-in has no user; a second factor always has a login, and a
    -- registration may (one during a login); nothing else has one.
    CHECK ((user_id IS NULL) = (purpose = 'passkey')),
    CHECK (purpose <> 'second_factor' OR login_id_hash IS NOT NULL),
    CHECK (login_id_hash IS NULL
           OR purpose IN ('second_factor', 'registration', 'passkey_registration'))
);
CREATE INDEX webauthn_challenges_by_expiry ON webauthn_challenges (expires_at);
