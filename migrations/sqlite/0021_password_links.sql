-- One-time links that let a person set a password without the current one: a forgotten
-- password's link (or the link an SMS code leads to), found by the SHA-256 of its token, never
-- kept in clear. `password_version` is a digest of the password hash the link was made under,
-- so that any change of password since voids it; `used_at` is set once, by the change it makes.
CREATE TABLE password_links (
    token_hash        TEXT PRIMARY KEY NOT NULL,
    purpose           TEXT NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_version  TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    used_at           BIGINT
);
CREATE INDEX password_links_by_user ON password_links (user_id);
CREATE INDEX password_links_by_expiry ON password_links (expires_at);

-- Messages other than codes (a link to reset a password) carry their own subject.
ALTER TABLE messages ADD COLUMN subject TEXT;
