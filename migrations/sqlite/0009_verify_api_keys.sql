-- API keys of Verify API accounts: an SK sid and a secret (kept as a SHA-256), usable in place
-- of the account's Auth Token.
CREATE TABLE verify_api_keys (
    sid           TEXT PRIMARY KEY NOT NULL,
    account_sid   TEXT NOT NULL REFERENCES verify_accounts(sid) ON DELETE CASCADE,
    friendly_name TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
