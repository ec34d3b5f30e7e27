use sqlx::Row;
use sqlx::any::AnyRow;

use super::VerifyStore;
use super::{StoreError, flag};
use crate::clock::Instant;

const SERVICE_COLUMNS: &str = "sid, account_sid, friendly_name, code_length, \
    do_not_share_warning_enabled, custom_code_enabled, totp_issuer, totp_time_step, \
    totp_code_length, totp_skew, created_at, updated_at";

/// A Verify service of the Twilio-compatible API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    pub sid: String,
    pub account_sid: String,
    pub friendly_name: String,
    pub code_length: i64,
    pub do_not_share_warning_enabled: bool,
    pub custom_code_enabled: bool,
    pub totp_issuer: Option<String>,
    pub totp_time_step: i64,
    pub totp_code_length: i64,
    pub totp_skew: i64,
    pub created_at: Instant,
    pub updated_at: Instant,
}

impl VerifyStore {
    pub async fn insert_verify_account(
        &self,
        sid: &str,
        name: &str,
        token_hash: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO verify_accounts (sid, friendly_name, token_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(sid.to_owned())
            .bind(name.to_owned())
            .bind(token_hash.to_owned())
            .bind(now.millis())
            .execute(self.store.writes())
            .await?;
        Ok(())
    }

    /// The token hash of a live account.
    pub async fn verify_account_token_hash(&self, sid: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT token_hash FROM verify_accounts WHERE sid = $1 AND revoked_at IS NULL",
        )
        .bind(sid.to_owned())
        .fetch_optional(self.store.pool())
        .await?)
    }

    pub async fn insert_verify_api_key(
        &self,
        sid: &str,
        account: &str,
        name: &str,
        secret_hash: &str,
        now: Instant,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO verify_api_keys (sid, account_sid, friendly_name, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(sid.to_owned())
        .bind(account.to_owned())
        .bind(name.to_owned())
        .bind(secret_hash.to_owned())
        .bind(now.millis())
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    /// (account SID, secret hash) of a live API key of a live account.
    pub async fn verify_api_key(&self, sid: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT k.account_sid, k.secret_hash FROM verify_api_keys k JOIN verify_accounts a ON a.sid = k.account_sid \
             WHERE k.sid = $1 AND k.revoked_at IS NULL AND a.revoked_at IS NULL",
        )
        .bind(sid.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| Ok((r.try_get("account_sid")?, r.try_get("secret_hash")?)))
            .transpose()
            .map_err(|e: sqlx::Error| e.into())
    }

    pub async fn verify_accounts(&self) -> Result<Vec<(String, String, Instant)>, StoreError> {
        let rows = sqlx::query("SELECT sid, friendly_name, created_at FROM verify_accounts WHERE revoked_at IS NULL ORDER BY created_at")
            .fetch_all(self.store.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("sid")?,
                    r.try_get("friendly_name")?,
                    Instant::from_millis(r.try_get("created_at")?),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    pub async fn save_service(&self, service: &ServiceRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO verify_services (sid, account_sid, friendly_name, code_length, \
               do_not_share_warning_enabled, custom_code_enabled, totp_issuer, totp_time_step, \
               totp_code_length, totp_skew, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (sid) DO UPDATE SET friendly_name = $3, code_length = $4, \
               do_not_share_warning_enabled = $5, custom_code_enabled = $6, totp_issuer = $7, \
               totp_time_step = $8, totp_code_length = $9, totp_skew = $10, updated_at = $12",
        )
        .bind(service.sid.clone())
        .bind(service.account_sid.clone())
        .bind(service.friendly_name.clone())
        .bind(service.code_length)
        .bind(flag(service.do_not_share_warning_enabled))
        .bind(flag(service.custom_code_enabled))
        .bind(service.totp_issuer.clone())
        .bind(service.totp_time_step)
        .bind(service.totp_code_length)
        .bind(service.totp_skew)
        .bind(service.created_at.millis())
        .bind(service.updated_at.millis())
        .execute(self.store.writes())
        .await?;
        Ok(())
    }

    /// A service of this account (no other account's).
    pub async fn service(
        &self,
        account: &str,
        sid: &str,
    ) -> Result<Option<ServiceRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {SERVICE_COLUMNS} FROM verify_services WHERE account_sid = $1 AND sid = $2"
        ))
        .bind(account.to_owned())
        .bind(sid.to_owned())
        .fetch_optional(self.store.pool())
        .await?;
        row.map(|r| service_from_row(&r)).transpose()
    }

    pub async fn services(
        &self,
        account: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ServiceRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SERVICE_COLUMNS} FROM verify_services WHERE account_sid = $1 \
             ORDER BY created_at, sid LIMIT $2 OFFSET $3"
        ))
        .bind(account.to_owned())
        .bind(limit)
        .bind(offset)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(service_from_row).collect()
    }

    pub async fn delete_service(&self, account: &str, sid: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM verify_services WHERE account_sid = $1 AND sid = $2")
                .bind(account.to_owned())
                .bind(sid.to_owned())
                .execute(self.store.writes())
                .await?
                .rows_affected()
                == 1,
        )
    }
}

fn service_from_row(row: &AnyRow) -> Result<ServiceRecord, StoreError> {
    Ok(ServiceRecord {
        sid: row.try_get("sid")?,
        account_sid: row.try_get("account_sid")?,
        friendly_name: row.try_get("friendly_name")?,
        code_length: row.try_get("code_length")?,
        do_not_share_warning_enabled: row.try_get::<i64, _>("do_not_share_warning_enabled")? != 0,
        custom_code_enabled: row.try_get::<i64, _>("custom_code_enabled")? != 0,
        totp_issuer: row.try_get("totp_issuer")?,
        totp_time_step: row.try_get("totp_time_step")?,
        totp_code_length: row.try_get("totp_code_length")?,
        totp_skew: row.try_get("totp_skew")?,
        created_at: Instant::from_millis(row.try_get("created_at")?),
        updated_at: Instant::from_millis(row.try_get("updated_at")?),
    })
}
