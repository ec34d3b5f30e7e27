-- Limits count in rolling windows: an event is admitted while fewer than the limit's max
-- events under its key fall in the window's length before it, so no run of that length
-- holds more than max, wherever it starts. Each counted event is kept as a row until the
-- longest window has passed (housekeeping).
CREATE TABLE limit_events (
    id    BIGSERIAL PRIMARY KEY,
    key   TEXT NOT NULL,
    at    BIGINT NOT NULL
);
CREATE INDEX limit_events_by_key ON limit_events (key, at);

-- One row per key, locked by the transaction that counts against it, so that two requests
-- cannot both take a limit's last place; `last_at` lets housekeeping forget idle keys.
CREATE TABLE limit_keys (
    key      TEXT PRIMARY KEY NOT NULL,
    last_at  BIGINT NOT NULL
);

-- The counters of fixed clock windows, which let twice a limit through across a boundary.
DROP TABLE rate_limits;
