-- OpenID Connect: the clients an administrator registers, the authorization requests waiting
-- while a person logs in, and the one-time authorization codes. Secrets and codes are kept as
-- their SHA-256 only. Lists are JSON arrays of text; flags are BIGINT 0/1.
CREATE TABLE oidc_clients (
    client_id                  TEXT PRIMARY KEY NOT NULL,
    name                       TEXT NOT NULL,
    secret_hash                TEXT,
    redirect_uris              TEXT NOT NULL,
    post_logout_redirect_uris  TEXT NOT NULL,
    scopes                     TEXT NOT NULL,
    requires_second_factor     BIGINT NOT NULL CHECK (requires_second_factor IN (0, 1)),
    first_party                BIGINT NOT NULL CHECK (first_party IN (0, 1)),
    access_token_seconds       BIGINT NOT NULL,
    id_token_seconds           BIGINT NOT NULL,
    refresh_token_seconds      BIGINT NOT NULL,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);

-- An authorization request whose person is logging in; the browser holds its id in a cookie.
CREATE TABLE oidc_requests (
    id_hash     TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES oidc_clients(client_id) ON DELETE CASCADE,
    request     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX oidc_requests_by_expiry ON oidc_requests (expires_at);

-- A code is spent once, by the exchange that sets `used_at`.
CREATE TABLE oidc_codes (
    code_hash       TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES oidc_clients(client_id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id      TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT,
    nonce           TEXT,
    scope           TEXT NOT NULL,
    auth_time       BIGINT NOT NULL,
    amr             TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);
