//! Groups and their members. Every change is written with its audit events, in one transaction;
//! a change of members that names a group or a user that is not there writes nothing.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{GroupStore, StoreError, audit, classify_unique};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::domain::{Group, GroupId, GroupName, UserId};

const COLUMNS: &str = "g.id, g.name, g.name_key, g.description, g.created_at, g.updated_at";
const RETURNED: &str = "id, name, name_key, description, created_at, updated_at";
/// SQLite names the column, PostgreSQL the constraint.
const UNIQUE_FIELDS: &[(&str, &str)] = &[
    ("name", "name_key"),
    ("id", "groups.id"),
    ("id", "groups_pkey"),
];

/// The ids of a user's groups, by the index on `user_id`: what a login reads when the
/// two-factor settings name groups (`code_check`).
pub(super) const GROUP_IDS_OF_USER: &str = "SELECT group_id FROM group_members WHERE user_id = $1";

/// A member of a group, with the name to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub user: UserId,
    pub username: String,
    pub added_at: Instant,
}

/// A user's membership of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group: GroupId,
    pub user: UserId,
    pub added_at: Instant,
}

/// How a change of members ended: only `Done` wrote anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembersChange {
    /// The memberships asked for, as they stand now (for an addition: new or already there).
    Done(Vec<Membership>),
    UnknownGroup(GroupId),
    UnknownUser(UserId),
}

impl GroupStore {
    /// Keeps a new group with its event. A name (by key) or an id taken is `Duplicate`.
    pub async fn create_group(&self, group: &Group, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query(
            "INSERT INTO groups (id, name, name_key, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(group.id.to_string())
        .bind(group.name.as_str().to_owned())
        .bind(group.name.key().to_owned())
        .bind(group.description.clone())
        .bind(group.created_at.millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| classify_unique(e, UNIQUE_FIELDS))?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives the group `changed.id` the name and description of `changed`, with the event;
    /// `None` when there is no such group.
    pub async fn update_group(
        &self,
        changed: &Group,
        event: &AuditEvent,
    ) -> Result<Option<Group>, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE groups SET name = $2, name_key = $3, description = $4, updated_at = $5 \
             WHERE id = $1 RETURNING {RETURNED}"
        ))
        .bind(changed.id.to_string())
        .bind(changed.name.as_str().to_owned())
        .bind(changed.name.key().to_owned())
        .bind(changed.description.clone())
        .bind(changed.updated_at.millis())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| classify_unique(e, UNIQUE_FIELDS))?;
        let Some(row) = row else {
            return Ok(None);
        };
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(Some(group_from_row(&row)?))
    }

    /// Deletes the group and its memberships with the event (which learns how many there
    /// were); false when there is no such group.
    pub async fn delete_group(&self, id: GroupId, event: &AuditEvent) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let members = sqlx::query("DELETE FROM group_members WHERE group_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let deleted = sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        audit::record(&mut tx, &event.clone().detail("members", members)).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn group(&self, id: GroupId) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM groups g WHERE g.id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.store.pool())
            .await?;
        row.map(|r| group_from_row(&r)).transpose()
    }

    pub async fn group_by_name(&self, name: &GroupName) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM groups g WHERE g.name_key = $1"
        ))
        .bind(name.key().to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| group_from_row(&r)).transpose()
    }

    /// Every group by name, with how many members it has.
    pub async fn groups_with_counts(&self) -> Result<Vec<(Group, i64)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) \
               AS members FROM groups g ORDER BY g.name_key"
        ))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((group_from_row(row)?, row.try_get::<i64, _>("members")?)))
            .collect()
    }

    /// Which of `ids` are groups.
    pub async fn existing(&self, ids: &[GroupId]) -> Result<Vec<GroupId>, StoreError> {
        let mut found = Vec::new();
        for id in ids {
            if self.group(*id).await?.is_some() {
                found.push(*id);
            }
        }
        Ok(found)
    }

    /// The user's groups with when the user joined each, by name: one query.
    pub async fn memberships_of(&self, user: UserId) -> Result<Vec<(Group, Instant)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, m.created_at AS added_at FROM group_members m \
             JOIN groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.name_key"
        ))
        .bind(user.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    group_from_row(row)?,
                    Instant::from_millis(row.try_get("added_at")?),
                ))
            })
            .collect()
    }

    pub async fn group_ids_of(&self, user: UserId) -> Result<Vec<GroupId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(GROUP_IDS_OF_USER)
            .bind(user.to_string())
            .fetch_all(self.store.pool())
            .await?;
        group_ids_from(&ids)
    }

    /// The members of a group by username.
    pub async fn members_of(&self, group: GroupId) -> Result<Vec<MemberRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id, u.username, m.created_at FROM group_members m \
             JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY u.username_key",
        )
        .bind(group.to_string())
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MemberRecord {
                    user: parse_user_id(&row.try_get::<String, _>("id")?)?,
                    username: row.try_get("username")?,
                    added_at: Instant::from_millis(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    /// Memberships of one group, of one user, or of both, oldest first, a page of them and
    /// how many there are in all.
    pub async fn search_members(
        &self,
        group: Option<GroupId>,
        user: Option<UserId>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Membership>, i64), StoreError> {
        let group = group.map(|g| g.to_string()).unwrap_or_default();
        let user = user.map(|u| u.to_string()).unwrap_or_default();
        const WHERE: &str = "WHERE ($1 = '' OR group_id = $1) AND ($2 = '' OR user_id = $2)";
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM group_members {WHERE}"))
            .bind(group.clone())
            .bind(user.clone())
            .fetch_one(self.store.pool())
            .await?;
        let rows = sqlx::query(&format!(
            "SELECT group_id, user_id, created_at FROM group_members {WHERE} \
             ORDER BY created_at, group_id, user_id LIMIT $3 OFFSET $4"
        ))
        .bind(group)
        .bind(user)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.store.pool())
        .await?;
        let members = rows
            .iter()
            .map(membership_from_row)
            .collect::<Result<_, _>>()?;
        Ok((members, total))
    }

    /// Every membership as (user, group name), for the export.
    pub async fn all_memberships(&self) -> Result<Vec<(UserId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.user_id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id \
             ORDER BY g.name_key",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    parse_user_id(&row.try_get::<String, _>("user_id")?)?,
                    row.try_get("name")?,
                ))
            })
            .collect()
    }

    /// Adds each user to each group (a membership already there stays as it was), with one
    /// `event` per membership made, naming its user and group. All or nothing: an unknown
    /// group or user writes nothing.
    pub async fn add_members(
        &self,
        changes: &[(GroupId, Vec<UserId>)],
        event: &AuditEvent,
    ) -> Result<MembersChange, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let mut done = Vec::new();
        for (group, users) in changes {
            let Some(name) = lock_group(&mut tx, *group).await? else {
                return Ok(MembersChange::UnknownGroup(*group));
            };
            for user in users {
                let added = sqlx::query(
                    "INSERT INTO group_members (group_id, user_id, created_at) \
                     SELECT $1, id, $3 FROM users WHERE id = $2 \
                     ON CONFLICT (group_id, user_id) DO NOTHING",
                )
                .bind(group.to_string())
                .bind(user.to_string())
                .bind(event.at.millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if added == 1 {
                    audit::record(&mut tx, &member_event(event, *group, &name, *user)).await?;
                }
                let since: Option<i64> = sqlx::query_scalar(
                    "SELECT created_at FROM group_members WHERE group_id = $1 AND user_id = $2",
                )
                .bind(group.to_string())
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(since) = since else {
                    return Ok(MembersChange::UnknownUser(*user));
                };
                done.push(Membership {
                    group: *group,
                    user: *user,
                    added_at: Instant::from_millis(since),
                });
            }
        }
        tx.commit().await?;
        Ok(MembersChange::Done(done))
    }

    /// Removes each user from each group, with one `event` per membership that ended. Users who
    /// were no members are passed over; an unknown group writes nothing.
    pub async fn remove_members(
        &self,
        changes: &[(GroupId, Vec<UserId>)],
        event: &AuditEvent,
    ) -> Result<MembersChange, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let mut done = Vec::new();
        for (group, users) in changes {
            let Some(name) = lock_group(&mut tx, *group).await? else {
                return Ok(MembersChange::UnknownGroup(*group));
            };
            for user in users {
                let since: Option<i64> = sqlx::query_scalar(
                    "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2 \
                     RETURNING created_at",
                )
                .bind(group.to_string())
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(since) = since {
                    audit::record(&mut tx, &member_event(event, *group, &name, *user)).await?;
                    done.push(Membership {
                        group: *group,
                        user: *user,
                        added_at: Instant::from_millis(since),
                    });
                }
            }
        }
        tx.commit().await?;
        Ok(MembersChange::Done(done))
    }
}

/// Puts the user in the groups named, making those missing, inside an import's transaction:
/// one `created` event per group made. A group made by another import at the same moment is
/// found, not made twice (the key is unique).
pub(super) async fn join_by_name_in(
    tx: &mut Transaction<'_, Any>,
    user: UserId,
    names: &[GroupName],
    created: &AuditEvent,
) -> Result<(), StoreError> {
    let now = created.at.millis();
    for name in names {
        let id = GroupId::new();
        let made = sqlx::query(
            "INSERT INTO groups (id, name, name_key, description, created_at, updated_at) \
             VALUES ($1, $2, $3, NULL, $4, $4) ON CONFLICT (name_key) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(name.as_str().to_owned())
        .bind(name.key().to_owned())
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if made == 1 {
            let event = created
                .clone()
                .detail("groupId", id.to_string())
                .detail("name", name.as_str());
            audit::record(tx, &event).await?;
        }
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, created_at) \
             SELECT id, $2, $3 FROM groups WHERE name_key = $1 \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(name.key().to_owned())
        .bind(user.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Takes the group's row for the rest of the transaction (a write first, so that SQLite takes
/// its lock up front; on PostgreSQL a concurrent deletion of the group waits) and reads its
/// name; `None` when there is no such group.
async fn lock_group(
    tx: &mut Transaction<'_, Any>,
    group: GroupId,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("UPDATE groups SET name = name WHERE id = $1 RETURNING name")
            .bind(group.to_string())
            .fetch_optional(&mut **tx)
            .await?,
    )
}

fn member_event(template: &AuditEvent, group: GroupId, name: &str, user: UserId) -> AuditEvent {
    template
        .clone()
        .target(user)
        .detail("groupId", group.to_string())
        .detail("group", name)
}

fn group_from_row(row: &AnyRow) -> Result<Group, StoreError> {
    let name: String = row.try_get("name")?;
    let key: String = row.try_get("name_key")?;
    Ok(Group {
        id: parse_group_id(&row.try_get::<String, _>("id")?)?,
        name: GroupName::from_stored(&name, &key),
        description: row.try_get("description")?,
        created_at: Instant::from_millis(row.try_get("created_at")?),
        updated_at: Instant::from_millis(row.try_get("updated_at")?),
    })
}

fn membership_from_row(row: &AnyRow) -> Result<Membership, StoreError> {
    Ok(Membership {
        group: parse_group_id(&row.try_get::<String, _>("group_id")?)?,
        user: parse_user_id(&row.try_get::<String, _>("user_id")?)?,
        added_at: Instant::from_millis(row.try_get("created_at")?),
    })
}

/// Ids as stored, as ids.
pub(super) fn group_ids_from(ids: &[String]) -> Result<Vec<GroupId>, StoreError> {
    ids.iter().map(|id| parse_group_id(id)).collect()
}

fn parse_group_id(raw: &str) -> Result<GroupId, StoreError> {
    GroupId::parse(raw).map_err(|e| StoreError::Corrupt(format!("groups.id: {}", e.message)))
}

fn parse_user_id(raw: &str) -> Result<UserId, StoreError> {
    UserId::parse(raw)
        .map_err(|e| StoreError::Corrupt(format!("group_members.user_id: {}", e.message)))
}
