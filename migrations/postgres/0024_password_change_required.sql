-- A password an administrator set as temporary (or the first administrator's printed one): the
-- next login with it answers with a one-time link to choose one's own instead of a session.
ALTER TABLE users ADD COLUMN password_change_required BIGINT NOT NULL DEFAULT 0;
