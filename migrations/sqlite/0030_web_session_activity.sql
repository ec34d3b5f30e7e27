-- A web session ends when unused for the inactivity timeout ([session]): its last recorded use
-- (at most once a minute, so that forward-auth's every request costs no write). Sessions open at
-- the upgrade count as used at the upgrade, so that none ends for an idleness nobody recorded.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;

-- "Remember me": the session lives remember_me_seconds, its cookie outlives the browser's
-- session, and the inactivity timeout spares it. A login waiting for its second factor keeps
-- the choice made with the password, on the server, until the session opens.
ALTER TABLE sessions ADD COLUMN remembered BIGINT NOT NULL DEFAULT 0 CHECK (remembered IN (0, 1));
ALTER TABLE login_challenges ADD COLUMN remember_me BIGINT NOT NULL DEFAULT 0 CHECK (remember_me IN (0, 1));
