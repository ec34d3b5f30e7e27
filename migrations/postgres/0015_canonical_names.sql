-- Usernames and emails are keyed by their canonical forms from now on (PRECIS for usernames,
-- NFKC and IDNA for emails; #26 item 10). SQL cannot normalise Unicode: this marks the rows
-- for the pass that runs in Rust right after the migrations (src/store/names.rs), which keys
-- every row whose canonical form is its own and reports, without changing them, the rows
-- whose canonical forms collide. The pass deletes the mark in the transaction of its writes.
INSERT INTO settings (key, value, updated_at, updated_by)
VALUES ('migration.canonical_names', 'pending', 0, 'migration');
