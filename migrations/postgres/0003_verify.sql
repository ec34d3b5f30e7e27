-- The verify engine: verifications, their sends, the delivery queue, and shared rate limits.

CREATE TABLE verifications (
    id               TEXT PRIMARY KEY NOT NULL,
    service_id       TEXT NOT NULL,
    destination      TEXT NOT NULL,
    channel          TEXT NOT NULL,
    status           TEXT NOT NULL,
    provider         TEXT NOT NULL,
    -- The provider's id for it (Twilio Verify's VE sid).
    provider_ref     TEXT,
    -- Keyed hash of the code, and the code sealed so that a resend can send it again.
    code_hash        TEXT,
    code_ciphertext  TEXT,
    code_key_id      TEXT,
    locale           TEXT NOT NULL,
    check_attempts   BIGINT NOT NULL DEFAULT 0,
    send_attempts    BIGINT NOT NULL DEFAULT 0,
    -- What the code is for inside Tessera (a login challenge, an enrolment); NULL for the
    -- Verify API.
    context          TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
-- One pending verification per destination and service: concurrent starts meet here.
CREATE UNIQUE INDEX verifications_one_pending ON verifications (service_id, destination)
    WHERE status = 'pending';
CREATE INDEX verifications_by_context ON verifications (context);

CREATE TABLE verification_sends (
    id               TEXT PRIMARY KEY NOT NULL,
    verification_id  TEXT NOT NULL REFERENCES verifications(id) ON DELETE CASCADE,
    channel          TEXT NOT NULL,
    at               BIGINT NOT NULL
);
CREATE INDEX verification_sends_by_verification ON verification_sends (verification_id);

-- The delivery queue. A message is claimed with a lease; a crash leaves it to be claimed again
-- when the lease runs out (delivery is at least once).
CREATE TABLE messages (
    id                TEXT PRIMARY KEY NOT NULL,
    verification_id   TEXT,
    sender            TEXT NOT NULL,
    channel           TEXT NOT NULL,
    destination       TEXT NOT NULL,
    body_ciphertext   TEXT NOT NULL,
    body_key_id       TEXT NOT NULL,
    status            TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    lease_until       BIGINT,
    idempotency_key   TEXT NOT NULL UNIQUE,
    provider_ref      TEXT,
    last_error        TEXT,
    created_at        BIGINT NOT NULL,
    sent_at           BIGINT
);
CREATE INDEX messages_due ON messages (status, next_attempt_at);

CREATE TABLE rate_limits (
    key           TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
