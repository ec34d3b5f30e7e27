-- Email verification. `email_verified_at`: when the address in force was proven to be the
-- user's (a link opened, an email method's code, or an administrator vouching for it); NULL
-- while it is not, and then it is no login id (unless the administrator allows it) and no
-- destination of a reset link. Every address kept before this migration was set by an
-- administrator, the API or an import before verification existed: it counts as verified,
-- as of its row's last change.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = updated_at WHERE email IS NOT NULL;
-- A person's own new address waits here until its link is opened; the address in force stays
-- in force until then. Not unique: whoever verifies an address first gets it.
ALTER TABLE users ADD COLUMN pending_email TEXT;
ALTER TABLE users ADD COLUMN pending_email_key TEXT;

-- One-time links that verify an address, found by the SHA-256 of their token, never kept in
-- clear. `email_key` names the address the link proves: it verifies only while that address is
-- still the one awaiting verification. `used_at` is set once, by the verification it makes.
CREATE TABLE email_links (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX email_links_by_user ON email_links (user_id);
CREATE INDEX email_links_by_expiry ON email_links (expires_at);

-- An invitation's link keeps the key of the address it was emailed to: choosing a password by it
-- proves that mailbox, and verifies the address while it is still the user's.
ALTER TABLE password_links ADD COLUMN email_key TEXT;
