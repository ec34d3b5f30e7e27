-- A session is used the way it was opened: a web session through its cookie on the pages, an
-- API session through its refresh token at /api/jwt/refresh, never the other way round.
-- Sessions from before: one that was ever refreshed is an API session; the others are taken
-- for web sessions (web sessions are never refreshed), so an API client whose session was not
-- refreshed yet logs in again.
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'web';
UPDATE sessions SET kind = 'api' WHERE refreshed_at IS NOT NULL;

-- The digests of the refresh tokens a live session has traded in. A spent token that comes
-- back was copied (by a thief, or by a client that sent it twice): its session ends (OAuth 2.0
-- Security BCP, 4.14). They go with their session.
CREATE TABLE spent_refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    spent_at    BIGINT NOT NULL
);
CREATE INDEX spent_refresh_tokens_by_session ON spent_refresh_tokens (session_id);
