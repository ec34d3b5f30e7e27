-- Every login updates three rows in place: its challenge (the attempt, then the completion),
-- the user (last_login_at) and the authenticator (last_used_step). None of those columns is
-- indexed, so PostgreSQL can write the new version as a heap-only tuple, with no new index
-- entries, but only when the row's page has room for it. Full pages (the default fillfactor,
-- 100) made each such update write an entry into every index of the table: five for users.
-- This leaves room on pages written from now on; existing pages fill the room as they are
-- vacuumed. (SQLite updates rows in place: it has no counterpart.)
ALTER TABLE login_challenges SET (fillfactor = 70);
ALTER TABLE users SET (fillfactor = 85);
ALTER TABLE two_factor_methods SET (fillfactor = 85);
