-- A code guess is counted against the user's failure window before the code is checked, so
-- that many open logins guessed at once cannot outrun the limit; a right guess takes its row
-- back by this id.
ALTER TABLE two_factor_failures ADD COLUMN guess_id TEXT;
CREATE INDEX two_factor_failures_by_guess ON two_factor_failures (guess_id);
