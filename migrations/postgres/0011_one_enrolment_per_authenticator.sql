-- One authenticator (one secret) is enrolled once per user: a keyed hash of the secret, unique
-- per user, so that two enrolments of the same secret racing each other (a double submission,
-- two nodes) store one method, not two. Rows from before this migration have no fingerprint
-- (the key is not in the database) and are not compared.
ALTER TABLE two_factor_methods ADD COLUMN secret_fingerprint TEXT;
CREATE UNIQUE INDEX two_factor_methods_one_per_secret ON two_factor_methods (user_id, secret_fingerprint);
