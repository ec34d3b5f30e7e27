//! Accounts of the Twilio-compatible Verify API: an Account SID (`AC` + 32 hex digits) and an
//! Auth Token (32 hex digits, shown once, kept as a SHA-256).

use rand::RngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

use super::Verify;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;

impl Verify {
    /// Makes an account; returns (Account SID, Auth Token).
    pub async fn create_verify_account(
        &self,
        name: &str,
        actor: Actor,
        now: Instant,
    ) -> anyhow::Result<(String, String)> {
        let name = name.trim();
        anyhow::ensure!(
            !name.is_empty() && name.chars().count() <= 64,
            "an account needs a name of 1 to 64 characters"
        );
        let sid = super::sid("AC");
        let mut token = [0u8; 16];
        OsRng.fill_bytes(&mut token);
        let token = hex::encode(token);
        self.verify_store
            .insert_verify_account(&sid, name, &random::lookup_digest(&token), now)
            .await?;
        let event = AuditEvent::new(
            EventKind::VerifyAccountCreate,
            actor,
            &Origin::default(),
            now,
        )
        .detail("accountSid", sid.clone())
        .detail("name", name);
        self.audit_store.record_event(&event).await?;
        tracing::info!(target: "security", account = %sid, "Verify API account created");
        Ok((sid, token))
    }

    /// The live accounts, oldest first: (Account SID, name, created).
    pub async fn verify_accounts(&self) -> anyhow::Result<Vec<(String, String, Instant)>> {
        Ok(self.verify_store.verify_accounts().await?)
    }

    /// An API key of an account (SK sid and secret), usable in place of its Auth Token.
    pub async fn create_verify_api_key(
        &self,
        account: &str,
        name: &str,
        actor: Actor,
        now: Instant,
    ) -> anyhow::Result<(String, String)> {
        anyhow::ensure!(
            self.verify_store
                .verify_account_token_hash(account)
                .await?
                .is_some(),
            "no account {account}"
        );
        let name = name.trim();
        anyhow::ensure!(
            !name.is_empty() && name.chars().count() <= 64,
            "a key needs a name of 1 to 64 characters"
        );
        let sid = super::sid("SK");
        let mut secret = [0u8; 16];
        OsRng.fill_bytes(&mut secret);
        let secret = hex::encode(secret);
        self.verify_store
            .insert_verify_api_key(&sid, account, name, &random::lookup_digest(&secret), now)
            .await?;
        let event = AuditEvent::new(
            EventKind::VerifyAccountCreate,
            actor,
            &Origin::default(),
            now,
        )
        .detail("accountSid", account)
        .detail("apiKeySid", sid.clone());
        self.audit_store.record_event(&event).await?;
        tracing::info!(target: "security", account = %account, key = %sid, "Verify API key created");
        Ok((sid, secret))
    }

    /// The account behind HTTP Basic credentials: an Account SID and its Auth Token, or an API
    /// key SID (SK…) and its secret.
    pub async fn authenticate_verify_account(
        &self,
        sid: &str,
        secret: &str,
    ) -> anyhow::Result<Option<String>> {
        if sid.len() != 34 || secret.len() > 128 {
            return Ok(None);
        }
        let (account, stored) = if sid.starts_with("AC") {
            match self.verify_store.verify_account_token_hash(sid).await? {
                Some(hash) => (sid.to_owned(), hash),
                None => return Ok(None),
            }
        } else if sid.starts_with("SK") {
            match self.verify_store.verify_api_key(sid).await? {
                Some(found) => found,
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        let right = bool::from(
            random::lookup_digest(secret)
                .as_bytes()
                .ct_eq(stored.as_bytes()),
        );
        Ok(right.then_some(account))
    }
}
