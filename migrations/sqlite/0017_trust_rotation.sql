-- A trusted computer's token is spent at each use and replaced by a new one. The digests it
-- had before are kept while the trust lives: a spent token that comes back was copied, and
-- the trust ends.
CREATE TABLE spent_trust_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    trust_id    TEXT NOT NULL REFERENCES trusted_computers(id) ON DELETE CASCADE,
    spent_at    BIGINT NOT NULL
);
CREATE INDEX spent_trust_tokens_by_trust ON spent_trust_tokens (trust_id);

-- A computer trusted on the pages is bound to the browser's long-lived id cookie (its
-- digest): the trust cookie copied without it spares nobody. NULL for the API's
-- twoFactorTrustId, which stands alone, and for trusts from before.
ALTER TABLE trusted_computers ADD COLUMN browser_hash TEXT;
