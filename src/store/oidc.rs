//! OpenID Connect's rows: registered clients, authorization requests waiting for a login, and
//! one-time authorization codes (traded by `exchange_code`, `oidc_exchange.rs`). The OIDC service
//! decides; this executes.

use sqlx::Row;

use super::row::Columns;
use super::{OidcStore, StoreError, audit, flag};
use crate::audit::AuditEvent;
use crate::clock::Instant;
use crate::crypto::oidc_keys::Algorithm;
use crate::domain::UserId;

/// A client as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub name: String,
    /// SHA-256 of the secret; `None` for a public client (PKCE only).
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    /// Group ids: when any, only their members may sign in.
    pub allowed_groups: Vec<String>,
    pub requires_second_factor: bool,
    pub first_party: bool,
    pub access_token_seconds: i64,
    pub id_token_seconds: i64,
    pub refresh_token_seconds: i64,
    /// Signs its ID tokens and access tokens.
    pub id_token_alg: Algorithm,
    pub created_at: Instant,
    pub updated_at: Instant,
}

/// A code to keep, as the service made it.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_hash: String,
    pub client_id: String,
    pub user: UserId,
    pub session_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub auth_time: Instant,
    pub amr: Vec<String>,
    pub expires_at: Instant,
}

/// A code as kept.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub client_id: String,
    pub user: UserId,
    pub session_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub scope: String,
    pub auth_time: Instant,
    pub amr: Vec<String>,
    pub expires_at: Instant,
    pub used_at: Option<Instant>,
    /// The grant it was traded for, once it was.
    pub grant_id: Option<String>,
}

pub(super) const CODE_COLUMNS: &str = "client_id, user_id, session_id, redirect_uri, \
    code_challenge, nonce, scope, auth_time, amr, expires_at, used_at, grant_id";

pub(super) const CLIENT_COLUMNS: &str = "client_id, name, secret_hash, redirect_uris, \
    post_logout_redirect_uris, scopes, allowed_groups, requires_second_factor, first_party, \
    access_token_seconds, id_token_seconds, refresh_token_seconds, created_at, updated_at, \
    id_token_signed_response_alg";

impl OidcStore {
    /// Keeps a new client with its event. `Duplicate` when the id is taken.
    pub async fn insert_client(
        &self,
        client: &ClientRecord,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO oidc_clients ({CLIENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(client.client_id.clone())
        .bind(client.name.clone())
        .bind(client.secret_hash.clone())
        .bind(json_list(&client.redirect_uris))
        .bind(json_list(&client.post_logout_redirect_uris))
        .bind(json_list(&client.scopes))
        .bind(json_list(&client.allowed_groups))
        .bind(flag(client.requires_second_factor))
        .bind(flag(client.first_party))
        .bind(client.access_token_seconds)
        .bind(client.id_token_seconds)
        .bind(client.refresh_token_seconds)
        .bind(client.created_at.millis())
        .bind(client.updated_at.millis())
        .bind(client.id_token_alg.as_str())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(StoreError::Duplicate { field: "clientId" });
            }
            Err(other) => return Err(other.into()),
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE client_id = $1"
        ))
        .bind(client_id.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| client_from_row(&r)).transpose()
    }

    /// The longest lifetime any client gives its ID tokens or access tokens, in seconds; 0
    /// without clients.
    pub async fn longest_token_seconds(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(CASE WHEN access_token_seconds > id_token_seconds \
             THEN access_token_seconds ELSE id_token_seconds END), 0) AS longest \
             FROM oidc_clients",
        )
        .fetch_one(self.store.pool())
        .await?;
        Ok(row.try_get("longest")?)
    }

    pub async fn clients(&self) -> Result<Vec<ClientRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY name, client_id"
        ))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Replaces a client's secret digest, with the event. `false`: no such client.
    pub async fn set_client_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let changed = sqlx::query(
            "UPDATE oidc_clients SET secret_hash = $2, updated_at = $3 \
             WHERE client_id = $1 AND secret_hash IS NOT NULL",
        )
        .bind(client_id.to_owned())
        .bind(secret_hash.to_owned())
        .bind(event.at.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces a client's settings (never its id, its secret or whether it has one), with the
    /// event. `false`: no such client.
    pub async fn update_client(
        &self,
        client: &ClientRecord,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let changed = sqlx::query(
            "UPDATE oidc_clients SET name = $2, redirect_uris = $3, \
               post_logout_redirect_uris = $4, scopes = $5, allowed_groups = $6, \
               requires_second_factor = $7, first_party = $8, access_token_seconds = $9, \
               id_token_seconds = $10, refresh_token_seconds = $11, updated_at = $12, \
               id_token_signed_response_alg = $13 \
             WHERE client_id = $1",
        )
        .bind(client.client_id.clone())
        .bind(client.name.clone())
        .bind(json_list(&client.redirect_uris))
        .bind(json_list(&client.post_logout_redirect_uris))
        .bind(json_list(&client.scopes))
        .bind(json_list(&client.allowed_groups))
        .bind(flag(client.requires_second_factor))
        .bind(flag(client.first_party))
        .bind(client.access_token_seconds)
        .bind(client.id_token_seconds)
        .bind(client.refresh_token_seconds)
        .bind(client.updated_at.millis())
        .bind(client.id_token_alg.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a client (its codes and waiting requests go with it), with the event.
    pub async fn delete_client(
        &self,
        client_id: &str,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.store.writes().begin().await?;
        let deleted = sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1")
            .bind(client_id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The scope a person allowed a client, if they did.
    pub async fn consent(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row =
            sqlx::query("SELECT scope FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
                .bind(user.to_string())
                .bind(client_id.to_owned())
                .fetch_optional(self.store.pool())
                .await?;
        Ok(row.map(|r| r.try_get("scope")).transpose()?)
    }

    /// Keeps what a person allowed a client (replacing what they allowed before), with the event.
    pub async fn keep_consent(
        &self,
        user: UserId,
        client_id: &str,
        scope: &str,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query(
            "INSERT INTO oidc_consents (user_id, client_id, scope, granted_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4",
        )
        .bind(user.to_string())
        .bind(client_id.to_owned())
        .bind(scope.to_owned())
        .bind(event.at.millis())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A waiting request, left in place (the consent page reads it before the answer).
    pub async fn request(&self, id_hash: &str, now: Instant) -> Result<Option<String>, StoreError> {
        let row =
            sqlx::query("SELECT request FROM oidc_requests WHERE id_hash = $1 AND expires_at > $2")
                .bind(id_hash.to_owned())
                .bind(now.millis())
                .fetch_optional(self.store.pool())
                .await?;
        Ok(row.map(|r| r.try_get("request")).transpose()?)
    }

    /// Keeps an authorization request while its person logs in.
    pub async fn insert_request(
        &self,
        id_hash: &str,
        client_id: &str,
        request: &str,
        now: Instant,
        expires_at: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_requests (id_hash, client_id, request, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash.to_owned())
        .bind(client_id.to_owned())
        .bind(request.to_owned())
        .bind(now.millis())
        .bind(expires_at.millis())
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    /// Takes a waiting request (it is deleted): `None` when there is none, or it expired.
    pub async fn take_request(
        &self,
        id_hash: &str,
        now: Instant,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM oidc_requests WHERE id_hash = $1 AND expires_at > $2 RETURNING request",
        )
        .bind(id_hash.to_owned())
        .bind(now.millis())
        .fetch_optional(self.store.writes())
        .await?;
        Ok(row.map(|r| r.try_get("request")).transpose()?)
    }

    /// Keeps a new code with the event of its grant.
    pub async fn insert_code(&self, code: &NewCode, event: &AuditEvent) -> Result<(), StoreError> {
        let mut tx = self.store.writes().begin().await?;
        sqlx::query(
            "INSERT INTO oidc_codes (code_hash, client_id, user_id, session_id, redirect_uri, \
               code_challenge, nonce, scope, auth_time, amr, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(code.code_hash.clone())
        .bind(code.client_id.clone())
        .bind(code.user.to_string())
        .bind(code.session_id.clone())
        .bind(code.redirect_uri.clone())
        .bind(code.code_challenge.clone())
        .bind(code.nonce.clone())
        .bind(code.scope.clone())
        .bind(code.auth_time.millis())
        .bind(json_list(&code.amr))
        .bind(event.at.millis())
        .bind(code.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn code(&self, code_hash: &str) -> Result<Option<CodeRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CODE_COLUMNS} FROM oidc_codes WHERE code_hash = $1"
        ))
        .bind(code_hash.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| code_from_row(&r)).transpose()
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn list_from(row: &impl Columns, column: &str) -> Result<Vec<String>, StoreError> {
    let text: String = row.column(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(super) fn client_from_row(row: &impl Columns) -> Result<ClientRecord, StoreError> {
    Ok(ClientRecord {
        client_id: row.column("client_id")?,
        name: row.column("name")?,
        secret_hash: row.column("secret_hash")?,
        redirect_uris: list_from(row, "redirect_uris")?,
        post_logout_redirect_uris: list_from(row, "post_logout_redirect_uris")?,
        scopes: list_from(row, "scopes")?,
        allowed_groups: list_from(row, "allowed_groups")?,
        requires_second_factor: row.column::<i64>("requires_second_factor")? == 1,
        first_party: row.column::<i64>("first_party")? == 1,
        access_token_seconds: row.column("access_token_seconds")?,
        id_token_seconds: row.column("id_token_seconds")?,
        refresh_token_seconds: row.column("refresh_token_seconds")?,
        id_token_alg: {
            let name: String = row.column("id_token_signed_response_alg")?;
            Algorithm::parse(&name)
                .ok_or_else(|| StoreError::Corrupt(format!("client signing algorithm {name:?}")))?
        },
        created_at: Instant::from_millis(row.column("created_at")?),
        updated_at: Instant::from_millis(row.column("updated_at")?),
    })
}

pub(super) fn code_from_row(row: &impl Columns) -> Result<CodeRecord, StoreError> {
    let user: String = row.column("user_id")?;
    Ok(CodeRecord {
        client_id: row.column("client_id")?,
        user: UserId::parse(&user)
            .map_err(|_| StoreError::Corrupt(format!("code of user {user:?}")))?,
        session_id: row.column("session_id")?,
        redirect_uri: row.column("redirect_uri")?,
        code_challenge: row.column("code_challenge")?,
        nonce: row.column("nonce")?,
        scope: row.column("scope")?,
        auth_time: Instant::from_millis(row.column("auth_time")?),
        amr: list_from(row, "amr")?,
        expires_at: Instant::from_millis(row.column("expires_at")?),
        used_at: row
            .column::<Option<i64>>("used_at")?
            .map(Instant::from_millis),
        grant_id: row.column("grant_id")?,
    })
}
