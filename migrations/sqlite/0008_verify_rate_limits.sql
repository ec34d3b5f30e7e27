-- Programmable rate limits of the Twilio-compatible API: a service's named limits and their
-- buckets (max per interval), applied to verifications that name a key for them.

CREATE TABLE verify_rate_limits (
    sid           TEXT PRIMARY KEY NOT NULL,
    service_sid   TEXT NOT NULL REFERENCES verify_services(sid) ON DELETE CASCADE,
    unique_name   TEXT NOT NULL,
    description   TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (service_sid, unique_name)
);

CREATE TABLE verify_buckets (
    sid             TEXT PRIMARY KEY NOT NULL,
    rate_limit_sid  TEXT NOT NULL REFERENCES verify_rate_limits(sid) ON DELETE CASCADE,
    max_count       BIGINT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (rate_limit_sid, interval_seconds)
);
