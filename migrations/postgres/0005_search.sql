-- Prefix search of users by username or email (LIKE 'abc%') at any number of users.
CREATE INDEX users_username_prefix ON users (username_key text_pattern_ops);
CREATE INDEX users_email_prefix ON users (email_key text_pattern_ops);
