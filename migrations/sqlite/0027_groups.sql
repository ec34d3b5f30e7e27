-- Groups of users: named teams that feed claims, client access and the two-factor policy.
-- `name_key` is the name's canonical form (NFKC, lowercase): unique, so that two groups never
-- share a name told apart only by case or width.
CREATE TABLE groups (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL UNIQUE,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- A user's membership of a group: gone with the user or the group.
CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
-- A user's groups (a login's, a token's claims) are read by user.
CREATE INDEX group_members_by_user ON group_members (user_id, group_id);
