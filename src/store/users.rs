use super::UserStore;
use super::two_factor::Trusts;
use std::sync::LazyLock;

use sqlx::any::AnyRow;

use rusqlite::OptionalExtension;

use super::row::{Columns, SqliteRow, sqlite_numbered};
use super::{StoreError, audit, classify_unique, flag};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::crypto::PasswordHash;
use crate::domain::{Email, FullName, LoginId, PhoneNumber, Roles, User, UserId, Username};

/// A user read by one of its login keys, in both placeholder styles.
struct ByLoginKey {
    numbered: String,
    sqlite: String,
}

impl ByLoginKey {
    fn new(column: &str) -> Self {
        let numbered = format!("SELECT {COLUMNS} FROM users WHERE {column} = $1");
        Self {
            sqlite: sqlite_numbered(&numbered),
            numbered,
        }
    }
}

static BY_USERNAME_KEY: LazyLock<ByLoginKey> = LazyLock::new(|| ByLoginKey::new("username_key"));
static BY_EMAIL_KEY: LazyLock<ByLoginKey> = LazyLock::new(|| ByLoginKey::new("email_key"));

pub(super) const COLUMNS: &str = "id, username, username_key, email, email_key, full_name, mobile_phone, roles, active, \
    two_factor_required, every_login, authy_migrated, terms_version_accepted, password_hash, password_changed_at, \
    created_at, updated_at, last_login_at, password_change_required, email_verified_at, \
    pending_email, pending_email_key, email_verification_required";

const UNIQUE_FIELDS: &[(&str, &str)] = &[("email", "email_key"), ("username", "username_key")];

/// Everything needed to create a user.
/// What a change of a user must leave standing, checked in the statement that makes it, so
/// that two changes at once cannot both pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Nothing beyond the change itself.
    Anything,
    /// At least one active administrator.
    AnActiveAdministrator,
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Keep::Anything => "thing it was asked to keep",
            Keep::AnActiveAdministrator => "active administrator",
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub profile: UserChanges,
    pub password_hash: PasswordHash,
    /// The account logs in only once its address is verified (a self-registration's).
    pub email_verification_required: bool,
}

/// A user's editable profile, written whole.
#[derive(Debug, Clone)]
pub struct UserChanges {
    pub username: Username,
    pub email: Option<Email>,
    /// When `email` was proven the user's, as the service decided it stands after the change.
    pub email_verified_at: Option<Instant>,
    /// A new address the person asked for and has not verified yet.
    pub pending_email: Option<Email>,
    pub full_name: Option<FullName>,
    pub mobile_phone: Option<PhoneNumber>,
    pub roles: Roles,
    pub active: bool,
    pub two_factor_required: bool,
    pub authy_migrated: bool,
    /// The password is temporary: the next login with it asks for one of the user's own.
    pub password_change_required: bool,
}

impl UserChanges {
    pub fn from_user(user: &User) -> Self {
        Self {
            username: user.username.clone(),
            email: user.email.clone(),
            email_verified_at: user.email_verified_at,
            pending_email: user.pending_email.clone(),
            full_name: user.full_name.clone(),
            mobile_phone: user.mobile_phone.clone(),
            roles: user.roles.clone(),
            active: user.active,
            two_factor_required: user.two_factor_required,
            authy_migrated: user.authy_migrated,
            password_change_required: user.password_change_required,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserWithHash {
    pub user: User,
    pub password_hash: PasswordHash,
    /// The account was made by its owner and logs in only once its address is verified
    /// (`account_policy::awaits_first_verification`).
    pub email_verification_required: bool,
}

/// Which of a user's sessions a password change ends, in its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessions {
    All,
    /// Every one but this session (by id): the one the person changed the password from.
    AllBut(String),
}

/// A new password as the service decided to write it.
#[derive(Debug, Clone)]
pub struct PasswordChange<'a> {
    pub hash: &'a PasswordHash,
    /// The hash the current password was checked against, when it was: the change is made only
    /// while that hash is still the stored one, so two changes at once cannot both pass.
    pub replacing: Option<&'a PasswordHash>,
    /// The digest of the one-time link the change comes by, when it does: the change is made
    /// only while the link is unspent and unexpired, and spends it.
    pub spends: Option<&'a str>,
    /// The new password is temporary (an administrator's): the next login asks for another.
    pub change_required: bool,
    /// The address the link of `spends` was emailed to (an invitation's), which its use proves:
    /// verified in the same transaction while it is still the user's and unverified.
    pub verifies_email: Option<super::address_proofs::ProvenAddress<'a>>,
    pub sessions: EndSessions,
    pub trusts: Trusts,
    pub app_passwords: super::AppPasswords,
}

/// How `set_password` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSet {
    Set {
        sessions_ended: u64,
    },
    NoSuchUser,
    /// The stored hash is not the one `replacing` named: another change came first.
    ChangedMeanwhile,
    /// The link of `spends` was spent already (by a change that came first) or has expired.
    LinkSpent,
}

impl UserStore {
    pub async fn insert_user(&self, new: &NewUser, event: &AuditEvent) -> Result<User, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let row = insert_user_in(&mut tx, new, event.at, false)
            .await
            .map_err(|e| classify_unique(e, UNIQUE_FIELDS))?
            .ok_or(StoreError::Duplicate { field: "username" })?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(user_from_row(&row)?.user)
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.store.pool())
            .await?;
        row.map(|r| user_from_row(&r).map(|u| u.user)).transpose()
    }

    /// A user with the stored hash, by id: what a change of one's own password checks.
    pub async fn user_with_hash(&self, id: UserId) -> Result<Option<UserWithHash>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.store.pool())
            .await?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    pub async fn user_by_login_id(
        &self,
        login_id: &LoginId,
    ) -> Result<Option<UserWithHash>, StoreError> {
        // Built once: every password login starts here.
        let (sql, key) = match login_id {
            LoginId::Username(name) => (&*BY_USERNAME_KEY, name.key().to_owned()),
            LoginId::Email(email) => (&*BY_EMAIL_KEY, email.key().to_owned()),
        };
        match &self.store.shared.sqlite_thread {
            // Every password login starts here. On the SQLite thread it is one hand-off; through
            // sqlx's pool it was three (the query, then the ping sqlx sends every connection
            // given back), each a wake-up that takes a core from a password hash.
            Some(thread) => {
                thread
                    .run(move |connection| {
                        connection
                            .prepare_cached(&sql.sqlite)?
                            .query_row([key], |row| Ok(user_from_row(&SqliteRow::new(row))))
                            .optional()?
                            .transpose()
                    })
                    .await
            }
            None => {
                let row = sqlx::query(&sql.numbered)
                    .bind(key)
                    .fetch_optional(self.store.pool())
                    .await?;
                row.map(|r| user_from_row(&r)).transpose()
            }
        }
    }

    /// Users ordered by username, a page at a time.
    pub async fn users(&self, limit: i64, offset: i64) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users ORDER BY username_key LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| user_from_row(r).map(|u| u.user))
            .collect()
    }

    /// Active accounts with an email address that never logged in, oldest first: those an
    /// invitation may reach.
    pub async fn never_logged_in(&self, limit: i64) -> Result<Vec<UserId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM users WHERE last_login_at IS NULL AND active = 1 \
               AND email IS NOT NULL ORDER BY created_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        ids.iter()
            .map(|id| {
                UserId::parse(id)
                    .map_err(|e| StoreError::Corrupt(format!("users.id: {}", e.message)))
            })
            .collect()
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.store.pool())
            .await?;
        Ok(count)
    }

    /// Whether any user exists, for start-up: one index probe, where `count_users` reads every
    /// row (figures in BENCHMARKS.md, "Why the constants are what they are").
    pub async fn has_users(&self) -> Result<bool, StoreError> {
        let any: Option<String> = sqlx::query_scalar("SELECT id FROM users LIMIT 1")
            .fetch_optional(self.store.pool())
            .await?;
        Ok(any.is_some())
    }

    /// Replaces the profile, unless that would not keep `keep` (`StoreError::NotKept`), in the
    /// same statement. A user made inactive loses every session in the same transaction.
    pub async fn update_user(
        &self,
        id: UserId,
        changes: &UserChanges,
        keep: Keep,
        event: &AuditEvent,
    ) -> Result<Option<User>, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE users SET username = $2, username_key = $3, email = $4, email_key = $5, \
               full_name = $6, mobile_phone = $7, roles = $8, active = $9, \
               two_factor_required = $10, updated_at = $11, authy_migrated = $12, \
               password_change_required = $15, email_verified_at = $16, pending_email = $17, \
               pending_email_key = $18 \
             WHERE id = $1 AND ($13 = 1 OR $14 = 0 OR active = 0 OR roles NOT LIKE '%admin%' \
               OR (SELECT COUNT(*) FROM users other WHERE other.id <> $1 AND other.active = 1 \
                   AND other.roles LIKE '%admin%') > 0) \
             RETURNING {COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(changes.username.as_str().to_owned())
        .bind(changes.username.key().to_owned())
        .bind(changes.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(changes.email.as_ref().map(|e| e.key().to_owned()))
        .bind(changes.full_name.as_ref().map(|n| n.as_str().to_owned()))
        .bind(changes.mobile_phone.as_ref().map(|n| n.e164().to_owned()))
        .bind(changes.roles.to_stored())
        .bind(flag(changes.active))
        .bind(flag(changes.two_factor_required))
        .bind(now.millis())
        .bind(flag(changes.authy_migrated))
        .bind(flag(
            changes.active && changes.roles.contains(crate::domain::Role::Admin),
        ))
        .bind(flag(keep == Keep::AnActiveAdministrator))
        .bind(flag(changes.password_change_required))
        .bind(changes.email_verified_at.map(Instant::millis))
        .bind(
            changes
                .pending_email
                .as_ref()
                .map(|e| e.as_str().to_owned()),
        )
        .bind(changes.pending_email.as_ref().map(|e| e.key().to_owned()))
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| classify_unique(e, UNIQUE_FIELDS))?;
        let Some(row) = row else {
            return match self.user(id).await? {
                // The user is there: the guard refused.
                Some(_) => Err(StoreError::NotKept(keep)),
                None => Ok(None),
            };
        };
        if !changes.active {
            revoke_all_sessions(&mut tx, id, now).await?;
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        user_from_row(&row).map(|u| Some(u.user))
    }

    /// Sets a new password and ends the sessions and trusted computers the change names, in one
    /// transaction with its event (which learns how many sessions ended: `sessionsEnded`).
    pub async fn set_password(
        &self,
        id: UserId,
        change: &PasswordChange<'_>,
        event: &AuditEvent,
    ) -> Result<PasswordSet, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        if let Some(link) = change.spends
            && !super::password_links::spend_link(&mut tx, link, id, now).await?
        {
            return Ok(PasswordSet::LinkSpent);
        }
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $2, password_changed_at = $3, updated_at = $3, \
               password_change_required = $5 \
             WHERE id = $1 AND ($4 IS NULL OR password_hash = $4)",
        )
        .bind(id.to_string())
        .bind(change.hash.as_str().to_owned())
        .bind(now.millis())
        .bind(change.replacing.map(|h| h.as_str().to_owned()))
        .bind(flag(change.change_required))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            drop(tx);
            return Ok(match self.user(id).await? {
                // The user is there: the hash the caller checked is no longer the stored one.
                Some(_) => PasswordSet::ChangedMeanwhile,
                None => PasswordSet::NoSuchUser,
            });
        }
        let sessions_ended = match &change.sessions {
            EndSessions::All => revoke_all_sessions(&mut tx, id, now).await?,
            EndSessions::AllBut(kept) => revoke_sessions_but(&mut tx, id, kept, now).await?,
        };
        if change.trusts == Trusts::Revoked {
            super::trusted_computers::revoke_trusts(&mut tx, id, None, now).await?;
        }
        let app_passwords_revoked = match change.app_passwords {
            super::AppPasswords::Revoked => {
                super::app_passwords::revoke_all_app_passwords(&mut tx, id).await?
            }
            super::AppPasswords::Kept => 0,
        };
        if let Some(proven) = change.verifies_email {
            super::address_proofs::verify_proven(&mut tx, id, proven).await?;
        }
        let event = event
            .clone()
            .detail("sessionsEnded", sessions_ended)
            .detail("appPasswordsRevoked", app_passwords_revoked);
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok(PasswordSet::Set { sessions_ended })
    }

    /// Replaces a hash made with outdated parameters by one made with the current ones (the
    /// password itself is unchanged, so sessions stand).
    pub async fn rehash_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(hash.as_str().to_owned())
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's own choice of a second factor at every login.
    pub async fn set_every_login(
        &self,
        id: UserId,
        every_login: bool,
        trusts: Trusts,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query("UPDATE users SET every_login = $2, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(flag(every_login))
            .bind(event.at.millis())
            .execute(&mut *tx)
            .await?;
        if trusts == Trusts::Revoked {
            super::trusted_computers::revoke_trusts(&mut tx, id, None, event.at).await?;
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn accept_terms(
        &self,
        id: UserId,
        version: i64,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query("UPDATE users SET terms_version_accepted = $2, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(version)
            .bind(event.at.millis())
            .execute(&mut *tx)
            .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Users whose username or email starts with `prefix` (without regard to case), a page at a
    /// time, and how many there are in all. Range conditions on the unique keys, so the indexes
    /// serve it at any number of users.
    pub async fn search_users(
        &self,
        prefix: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<User>, i64), StoreError> {
        let low = prefix.to_lowercase();
        // SQLite compares text bytewise, so a range finds a prefix with the unique indexes;
        // PostgreSQL's collations need LIKE, served by text_pattern_ops indexes (migration 0005).
        let (high, condition) = match self.store.backend() {
            super::Backend::Sqlite => (
                format!("{low}\u{10FFFF}"),
                "($1 = '' OR (username_key >= $1 AND username_key < $2) \
                  OR (email_key >= $1 AND email_key < $2))",
            ),
            super::Backend::Postgres => (
                format!(
                    "{}%",
                    low.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                ),
                "($1 = '' OR username_key LIKE $2 OR email_key LIKE $2)",
            ),
        };
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM users WHERE {condition}"))
                .bind(low.clone())
                .bind(high.clone())
                .fetch_one(self.store.pool())
                .await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users WHERE {condition} ORDER BY username_key LIMIT $3 OFFSET $4"
        ))
        .bind(low)
        .bind(high)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.store.pool())
        .await?;
        let users = rows
            .iter()
            .map(|r| user_from_row(r).map(|u| u.user))
            .collect::<Result<_, _>>()?;
        Ok((users, total))
    }

    /// The usernames of those of `ids` that exist, by id.
    pub async fn usernames(&self, ids: &[UserId]) -> Result<Vec<(UserId, String)>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        // A statement's parameters are bounded (SQLite's at 32,766): a few hundred at a time.
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT id, username FROM users WHERE id IN ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            for row in query.fetch_all(self.store.pool()).await? {
                let id: String = row.column("id")?;
                let id = UserId::parse(&id)
                    .map_err(|e| StoreError::Corrupt(format!("users.id: {}", e.message)))?;
                found.push((id, row.column("username")?));
            }
        }
        Ok(found)
    }

    /// An administrator's change of a user's verified phone: the profile number and the number of
    /// every phone method, in one transaction with the audit event; trusted computers are
    /// revoked, as after any change of second factor.
    pub async fn set_verified_phone(
        &self,
        id: UserId,
        phone: Option<&crate::domain::PhoneNumber>,
        trusts: Trusts,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        let changed =
            sqlx::query("UPDATE users SET mobile_phone = $2, updated_at = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(phone.map(|p| p.e164().to_owned()))
                .bind(now.millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        match phone {
            Some(phone) => {
                sqlx::query(
                    "UPDATE two_factor_methods SET mobile_phone = $2, country = $3 \
                     WHERE user_id = $1 AND kind = 'sms'",
                )
                .bind(id.to_string())
                .bind(phone.e164().to_owned())
                .bind(phone.region())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM two_factor_methods WHERE user_id = $1 AND kind = 'sms'")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if trusts == Trusts::Revoked {
            super::trusted_computers::revoke_trusts(&mut tx, id, None, now).await?;
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Forgets a user's recent wrong codes, so new challenges open at once.
    pub async fn clear_two_factor_failures(
        &self,
        id: UserId,
        event: &AuditEvent,
    ) -> Result<u64, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let cleared = sqlx::query("DELETE FROM two_factor_failures WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        audit::record(&mut tx, &event.clone().detail("clearedFailures", cleared)).await?;
        tx.commit().await?;
        Ok(cleared)
    }

    /// After the first login of a user moved from Authy.
    pub async fn clear_authy_migrated(&self, id: UserId) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET authy_migrated = 0 WHERE id = $1")
            .bind(id.to_string())
            .execute(self.store.writes())
            .await?;
        Ok(())
    }

    /// Deletes the user, unless that would not keep `keep` (`StoreError::NotKept`).
    pub async fn delete_user(
        &self,
        id: UserId,
        keep: Keep,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM users WHERE id = $1 AND ($2 = 0 OR active = 0 \
               OR roles NOT LIKE '%admin%' \
               OR (SELECT COUNT(*) FROM users other WHERE other.id <> $1 AND other.active = 1 \
                   AND other.roles LIKE '%admin%') > 0)",
        )
        .bind(id.to_string())
        .bind(flag(keep == Keep::AnActiveAdministrator))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 0 {
            drop(tx);
            return match self.user(id).await? {
                Some(_) => Err(StoreError::NotKept(keep)),
                None => Ok(false),
            };
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Inserts a user inside a transaction. With `skip_existing`, a user whose username or email is
/// taken is left alone and `None` comes back (an import run twice changes nothing).
pub(super) async fn insert_user_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &NewUser,
    now: Instant,
    skip_existing: bool,
) -> Result<Option<AnyRow>, sqlx::Error> {
    let p = &new.profile;
    let conflict = if skip_existing {
        "ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    sqlx::query(&format!(
        "INSERT INTO users (id, username, username_key, email, email_key, full_name, \
           mobile_phone, roles, active, two_factor_required, password_hash, \
           password_changed_at, created_at, updated_at, authy_migrated, password_change_required, \
           email_verified_at, email_verification_required) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $12, $13, $14, $15, $16) \
         {conflict} \
         RETURNING {COLUMNS}"
    ))
    .bind(new.id.to_string())
    .bind(p.username.as_str().to_owned())
    .bind(p.username.key().to_owned())
    .bind(p.email.as_ref().map(|e| e.as_str().to_owned()))
    .bind(p.email.as_ref().map(|e| e.key().to_owned()))
    .bind(p.full_name.as_ref().map(|n| n.as_str().to_owned()))
    .bind(p.mobile_phone.as_ref().map(|n| n.e164().to_owned()))
    .bind(p.roles.to_stored())
    .bind(flag(p.active))
    .bind(flag(p.two_factor_required))
    .bind(new.password_hash.as_str().to_owned())
    .bind(now.millis())
    .bind(flag(p.authy_migrated))
    .bind(flag(p.password_change_required))
    .bind(p.email_verified_at.map(Instant::millis))
    .bind(flag(new.email_verification_required))
    .fetch_optional(&mut **tx)
    .await
}

pub(super) async fn revoke_all_sessions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: UserId,
    now: Instant,
) -> Result<u64, StoreError> {
    let revoked = sqlx::query(
        "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user.to_string())
    .bind(now.millis())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(revoked)
}

/// Ends every live session of `user` but `kept`.
async fn revoke_sessions_but(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: UserId,
    kept: &str,
    now: Instant,
) -> Result<u64, StoreError> {
    let revoked = sqlx::query(
        "UPDATE sessions SET revoked_at = $2 \
         WHERE user_id = $1 AND revoked_at IS NULL AND id <> $3",
    )
    .bind(user.to_string())
    .bind(now.millis())
    .bind(kept.to_owned())
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(revoked)
}

pub(super) fn user_from_row(row: &impl Columns) -> Result<UserWithHash, StoreError> {
    let corrupt = |what: &str, why: String| StoreError::Corrupt(format!("users.{what}: {why}"));
    let text = |name: &str| row.column::<String>(name);
    let optional = |name: &str| row.column::<Option<String>>(name);
    let id = UserId::parse(&text("id")?).map_err(|e| corrupt("id", e.message))?;
    // As stored, with the keys they are stored under: rows made before today's rules of
    // names stay readable (and keep their keys until renamed).
    let username = Username::from_stored(&text("username")?, &text("username_key")?);
    let email = match (optional("email")?, optional("email_key")?) {
        (Some(address), Some(key)) => Some(Email::from_stored(&address, &key)),
        (None, _) => None,
        (Some(_), None) => return Err(corrupt("email_key", "missing".to_owned())),
    };
    let pending_email = match (optional("pending_email")?, optional("pending_email_key")?) {
        (Some(address), Some(key)) => Some(Email::from_stored(&address, &key)),
        (None, _) => None,
        (Some(_), None) => return Err(corrupt("pending_email_key", "missing".to_owned())),
    };
    let full_name = optional("full_name")?
        .map(|n| FullName::parse(&n))
        .transpose()
        .map_err(|e| corrupt("full_name", e.message))?;
    let mobile_phone = optional("mobile_phone")?
        .map(|n| PhoneNumber::parse(&n))
        .transpose()
        .map_err(|e| corrupt("mobile_phone", e.message))?;
    let user = User {
        id,
        username,
        email,
        email_verified_at: row
            .column::<Option<i64>>("email_verified_at")?
            .map(Instant::from_millis),
        pending_email,
        full_name,
        mobile_phone,
        roles: Roles::from_stored(&text("roles")?),
        active: row.column::<i64>("active")? != 0,
        two_factor_required: row.column::<i64>("two_factor_required")? != 0,
        every_login: row.column::<i64>("every_login")? != 0,
        authy_migrated: row.column::<i64>("authy_migrated")? != 0,
        password_change_required: row.column::<i64>("password_change_required")? != 0,
        terms_version_accepted: row.column("terms_version_accepted")?,
        created_at: Instant::from_millis(row.column("created_at")?),
        updated_at: Instant::from_millis(row.column("updated_at")?),
        password_changed_at: Instant::from_millis(row.column("password_changed_at")?),
        last_login_at: row
            .column::<Option<i64>>("last_login_at")?
            .map(Instant::from_millis),
    };
    Ok(UserWithHash {
        user,
        password_hash: PasswordHash::from_stored(text("password_hash")?),
        email_verification_required: row.column::<i64>("email_verification_required")? != 0,
    })
}
