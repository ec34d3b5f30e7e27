//! Forgetting what has expired: finished or abandoned logins, enrolment secrets nobody
//! confirmed, spent verification codes, old sessions, trusted computers, password links, unused
//! access codes, email links, security notices, WebAuthn ceremonies, and computers an account has not logged in
//! from for long. Each table is one DELETE on its expiry column, so every node may sweep at
//! once without harm.

use super::{Store, StoreError};
use crate::clock::Instant;

/// Rows removed by one sweep, per kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub login_challenges: u64,
    pub pending_secrets: u64,
    pub verifications: u64,
    pub verify_challenges: u64,
    pub sessions: u64,
    pub trusted_computers: u64,
    pub password_links: u64,
    pub access_codes: u64,
    pub email_links: u64,
    pub security_notices: u64,
    pub known_devices: u64,
    pub oidc_requests: u64,
    pub oidc_codes: u64,
    pub oidc_grants: u64,
    pub webauthn_challenges: u64,
}

impl SweepReport {
    pub fn total(&self) -> u64 {
        self.login_challenges
            + self.pending_secrets
            + self.verifications
            + self.verify_challenges
            + self.sessions
            + self.trusted_computers
            + self.password_links
            + self.access_codes
            + self.email_links
            + self.security_notices
            + self.known_devices
            + self.oidc_requests
            + self.oidc_codes
            + self.oidc_grants
            + self.webauthn_challenges
    }
}

/// Tables swept, each with its expiry column (the table names are constants, never input).
const EXPIRING: [(&str, &str); 15] = [
    ("login_challenges", "expires_at"),
    ("pending_secrets", "expires_at"),
    ("verifications", "expires_at"),
    ("verify_challenges", "expires_at"),
    ("sessions", "expires_at"),
    ("trusted_computers", "expires_at"),
    ("password_links", "expires_at"),
    ("access_codes", "expires_at"),
    ("email_links", "expires_at"),
    ("security_notices", "expires_at"),
    ("known_devices", "expires_at"),
    ("oidc_requests", "expires_at"),
    ("oidc_codes", "expires_at"),
    ("oidc_grants", "expires_at"),
    ("webauthn_challenges", "expires_at"),
];

impl Store {
    /// Deletes every row that expired before `before`. Sends of a deleted verification go with
    /// it (ON DELETE CASCADE).
    pub async fn sweep_expired(&self, before: Instant) -> Result<SweepReport, StoreError> {
        let mut removed = [0u64; EXPIRING.len()];
        for (slot, (table, column)) in removed.iter_mut().zip(EXPIRING) {
            *slot = sqlx::query(&format!("DELETE FROM {table} WHERE {column} < $1"))
                .bind(before.millis())
                .execute(self.writes())
                .await?
                .rows_affected();
        }
        let [
            login_challenges,
            pending_secrets,
            verifications,
            verify_challenges,
            sessions,
            trusted_computers,
            password_links,
            access_codes,
            email_links,
            security_notices,
            known_devices,
            oidc_requests,
            oidc_codes,
            oidc_grants,
            webauthn_challenges,
        ] = removed;
        Ok(SweepReport {
            login_challenges,
            pending_secrets,
            verifications,
            verify_challenges,
            sessions,
            trusted_computers,
            password_links,
            access_codes,
            email_links,
            security_notices,
            known_devices,
            oidc_requests,
            oidc_codes,
            oidc_grants,
            webauthn_challenges,
        })
    }

    /// Deletes messages that were sent or given up on before `before`: their sealed bodies
    /// serve no one once the codes in them are long dead, and the audit log keeps the sends.
    pub async fn forget_finished_messages(&self, before: Instant) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM messages WHERE status IN ('sent', 'failed') AND created_at < $1",
        )
        .bind(before.millis())
        .execute(self.writes())
        .await?
        .rows_affected())
    }
}
