-- OpenID Connect: the clients an administrator registers, the authorization requests waiting
-- while a person logs in, the one-time authorization codes, the grants a code is traded for and
-- their refresh tokens. Secrets, codes and tokens are kept as their SHA-256 only. Lists are JSON
-- arrays of text; flags are BIGINT 0/1.
CREATE TABLE oidc_clients (
    client_id                  TEXT PRIMARY KEY NOT NULL,
    name                       TEXT NOT NULL,
    secret_hash                TEXT,
    redirect_uris              TEXT NOT NULL,
    post_logout_redirect_uris  TEXT NOT NULL,
    scopes                     TEXT NOT NULL,
    -- Group ids: when any, only their members may sign in to the client.
    allowed_groups             TEXT NOT NULL,
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
    used_at         BIGINT,
    -- The grant the code was traded for: a second use of the code revokes it.
    grant_id        TEXT
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);

-- What a person granted a client by one sign-in: its access and refresh tokens live while the
-- grant does (and, without offline_access, while the sign-in's session does).
CREATE TABLE oidc_grants (
    id          TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES oidc_clients(client_id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL,
    scope       TEXT NOT NULL,
    auth_time   BIGINT NOT NULL,
    amr         TEXT NOT NULL,
    offline     BIGINT NOT NULL CHECK (offline IN (0, 1)),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX oidc_grants_by_user ON oidc_grants (user_id);
CREATE INDEX oidc_grants_by_expiry ON oidc_grants (expires_at);

-- A refresh token is spent by the refresh that makes the next one; one spent that comes back
-- revokes its grant.
CREATE TABLE oidc_refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    grant_id    TEXT NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- What a person allowed a client that is not the site's own: asked once, until revoked.
CREATE TABLE oidc_consents (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES oidc_clients(client_id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
