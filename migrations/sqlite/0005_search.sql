-- SQLite finds username and email prefixes with range conditions on the unique indexes of
-- migration 0001; nothing to add. (Kept so both backends count the same migrations.)
SELECT 1;
