//! Accounts of the Twilio-compatible Verify API: an Account SID (`AC` + 32 hex digits) and an
//! Auth Token (32 hex digits, shown once, kept as a SHA-256).

use rand::RngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

use crate::clock::Instant;
use crate::core::Core;
use crate::crypto::random;

impl Core {
    /// Makes an account; returns (Account SID, Auth Token).
    pub async fn create_verify_account(
        &self,
        name: &str,
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
        self.store
            .insert_verify_account(&sid, name, &random::lookup_digest(&token), now)
            .await?;
        tracing::info!(target: "security", account = %sid, "Verify API account created");
        Ok((sid, token))
    }

    /// Whether this Account SID and Auth Token belong together.
    pub async fn authenticate_verify_account(
        &self,
        sid: &str,
        token: &str,
    ) -> anyhow::Result<bool> {
        if sid.len() != 34 || !sid.starts_with("AC") || token.len() > 128 {
            return Ok(false);
        }
        let Some(stored) = self.store.verify_account_token_hash(sid).await? else {
            return Ok(false);
        };
        Ok(bool::from(
            random::lookup_digest(token)
                .as_bytes()
                .ct_eq(stored.as_bytes()),
        ))
    }
}
