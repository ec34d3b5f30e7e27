-- Security notices: the audit log is read in order by the notices worker, which tells people of
-- what happened to their accounts. `device` is a digest of the browser's id cookie, so that a
-- login can be told from a new computer's.
ALTER TABLE audit_events ADD COLUMN device TEXT;

-- How far the worker has read the audit log; one row. It starts at the log's end: events from
-- before the upgrade are not told.
CREATE TABLE notice_cursor (
    name           TEXT PRIMARY KEY NOT NULL,
    last_event_id  BIGINT NOT NULL
);
INSERT INTO notice_cursor (name, last_event_id)
    SELECT 'notices', COALESCE(MAX(id), 0) FROM audit_events;

-- Each notice sent, with the "this was not me" link it carried, found by the SHA-256 of the
-- link's secret (never kept in clear). One notice per event: the worker that claims the event
-- is the one that sends.
CREATE TABLE security_notices (
    link_key     TEXT PRIMARY KEY NOT NULL,
    event_id     BIGINT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    disowned_at  BIGINT
);
CREATE INDEX security_notices_by_user ON security_notices (user_id);
CREATE INDEX security_notices_by_expiry ON security_notices (expires_at);

-- The computers (browsers, or API clients by address and user agent) each account has logged
-- in from; a login from one not in the list is a new computer.
CREATE TABLE known_devices (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device      TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, device)
);
CREATE INDEX known_devices_by_expiry ON known_devices (expires_at);
