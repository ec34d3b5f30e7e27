-- A phone method enabled with the older `delivery: TextMessage` form is sent its code as soon
-- as a login asks for the second factor, as applications written for that form expect.
ALTER TABLE two_factor_methods ADD COLUMN sends_code_on_login BIGINT NOT NULL DEFAULT 0;
