-- A one-time access code an administrator issued for a user who lost their second factor: its
-- SHA-256 (the code itself is shown once), its public id, when it was issued and until when.
-- One per user: a new one replaces the last; using or revoking it deletes the row, and the
-- audit log keeps its story (who issued it and why, who used or revoked it).
CREATE TABLE access_codes (
    user_id     TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX access_codes_by_expiry ON access_codes (expires_at);

-- A login on the pages whose access code was accepted: it goes on to enrol a new method and
-- completes with that method's code; its session's amr says an access code let it in.
ALTER TABLE login_challenges ADD COLUMN access_code_used_at BIGINT;
