-- An account a person made for themselves (self-registration) logs in only once the address it
-- was made with is verified; accounts made any other way are not held back (0 by default).
ALTER TABLE users ADD COLUMN email_verification_required BIGINT NOT NULL DEFAULT 0;
