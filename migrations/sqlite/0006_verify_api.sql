-- The Twilio-Verify-compatible API: accounts (Account SID + hashed Auth Token) and their
-- Verify services.

CREATE TABLE verify_accounts (
    sid            TEXT PRIMARY KEY NOT NULL,
    friendly_name  TEXT NOT NULL,
    token_hash     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT
);

CREATE TABLE verify_services (
    sid                            TEXT PRIMARY KEY NOT NULL,
    account_sid                    TEXT NOT NULL REFERENCES verify_accounts(sid) ON DELETE CASCADE,
    friendly_name                  TEXT NOT NULL,
    code_length                    BIGINT NOT NULL,
    do_not_share_warning_enabled   BIGINT NOT NULL DEFAULT 0,
    custom_code_enabled            BIGINT NOT NULL DEFAULT 0,
    totp_issuer                    TEXT,
    totp_time_step                 BIGINT NOT NULL DEFAULT 30,
    totp_code_length               BIGINT NOT NULL DEFAULT 6,
    totp_skew                      BIGINT NOT NULL DEFAULT 1,
    created_at                     BIGINT NOT NULL,
    updated_at                     BIGINT NOT NULL
);
CREATE INDEX verify_services_by_account ON verify_services (account_sid, created_at);
