-- The country of a phone method's number (ISO code, from its numbering plan), so that the
-- fraud guard can tell a country where users have enrolled numbers from one where nobody has.
-- Rows from before are filled in at start (the store's migrate), which parses their numbers.
ALTER TABLE two_factor_methods ADD COLUMN country TEXT;
CREATE INDEX two_factor_methods_country ON two_factor_methods (country) WHERE country IS NOT NULL;
