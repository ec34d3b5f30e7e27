-- The algorithm that signs a client's ID tokens and access tokens (OpenID Connect Dynamic
-- Client Registration's id_token_signed_response_alg): RS256, which every client supports,
-- unless the client was registered for ES256.
ALTER TABLE oidc_clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256'
    CHECK (id_token_signed_response_alg IN ('RS256', 'ES256'));
