-- Wrong codes given for a TOTP factor of the Verify API in a row, across its challenges and its
-- verification, and when the last one came: each challenge allows 5 attempts, and without a
-- count across them a new challenge gave 5 more guesses, without end. A right code ends the run.
ALTER TABLE verify_factors ADD COLUMN failures_in_a_row BIGINT NOT NULL DEFAULT 0;
ALTER TABLE verify_factors ADD COLUMN last_failure_at BIGINT;
