-- TOTP through the Twilio-compatible API: entities (your users), their factors, challenges.

CREATE TABLE verify_entities (
    sid          TEXT PRIMARY KEY NOT NULL,
    service_sid  TEXT NOT NULL REFERENCES verify_services(sid) ON DELETE CASCADE,
    identity     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (service_sid, identity)
);

CREATE TABLE verify_factors (
    sid                TEXT PRIMARY KEY NOT NULL,
    entity_sid         TEXT NOT NULL REFERENCES verify_entities(sid) ON DELETE CASCADE,
    friendly_name      TEXT NOT NULL,
    secret_ciphertext  TEXT NOT NULL,
    secret_key_id      TEXT NOT NULL,
    algorithm          TEXT NOT NULL,
    code_length        BIGINT NOT NULL,
    time_step          BIGINT NOT NULL,
    skew               BIGINT NOT NULL,
    status             TEXT NOT NULL,
    last_used_step     BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX verify_factors_by_entity ON verify_factors (entity_sid);

CREATE TABLE verify_challenges (
    sid              TEXT PRIMARY KEY NOT NULL,
    factor_sid       TEXT NOT NULL REFERENCES verify_factors(sid) ON DELETE CASCADE,
    status           TEXT NOT NULL,
    responded_reason TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
