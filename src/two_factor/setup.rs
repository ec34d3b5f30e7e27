//! Setting up an authenticator app from a page: the secret waits on the server (sealed, for
//! `enrollmentTtlSeconds`) between showing the QR code and the first code, so it never rides in
//! a form.

use super::TwoFactor;
use super::TwoFactorError;
use crate::clock::Instant;
use crate::crypto::random;
use crate::domain::UserId;
use crate::otp::{TotpParams, TotpSecret, otpauth_uri};

const SEAL_CONTEXT: &str = "pending-secret";

/// A secret shown to the user, waiting for its first code.
#[derive(Debug, Clone)]
pub struct AuthenticatorSetup {
    /// Names the pending secret (kept in a cookie).
    pub token: String,
    pub secret: TotpSecret,
    pub uri: String,
    pub params: TotpParams,
    /// How long the secret waits for its first code.
    pub lifetime_seconds: i64,
}

impl TwoFactor {
    /// A new secret for `account` (what the app shows under the issuer).
    pub async fn start_authenticator_setup(
        &self,
        user: UserId,
        account: &str,
        now: Instant,
    ) -> Result<AuthenticatorSetup, TwoFactorError> {
        let lifetime_seconds = self.two_factor_policy().await?.enrollment_ttl_seconds;
        let secret = TotpSecret::generate();
        let token = random::token(24);
        let sealed = self.secrets.seal(secret.bytes(), SEAL_CONTEXT);
        self.session_store
            .insert_pending_secret(
                &random::lookup_digest(&token),
                user,
                &sealed,
                now.plus_seconds(lifetime_seconds),
                now,
            )
            .await?;
        Ok(self.setup_view(token, secret, account, lifetime_seconds))
    }

    /// The pending setup behind `token`, while it lives.
    pub async fn authenticator_setup(
        &self,
        user: UserId,
        token: &str,
        account: &str,
        now: Instant,
    ) -> Result<Option<AuthenticatorSetup>, TwoFactorError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let Some(sealed) = self
            .session_store
            .pending_secret(&random::lookup_digest(token), user, now)
            .await?
        else {
            return Ok(None);
        };
        let bytes = self
            .secrets
            .open(&sealed, SEAL_CONTEXT)
            .map_err(anyhow::Error::from)?;
        let secret =
            TotpSecret::from_bytes(bytes).map_err(|e| anyhow::anyhow!("pending secret: {e}"))?;
        let lifetime_seconds = self.two_factor_policy().await?.enrollment_ttl_seconds;
        Ok(Some(self.setup_view(
            token.to_owned(),
            secret,
            account,
            lifetime_seconds,
        )))
    }

    pub async fn finish_authenticator_setup(&self, token: &str) -> Result<(), TwoFactorError> {
        Ok(self
            .session_store
            .delete_pending_secret(&random::lookup_digest(token))
            .await?)
    }

    fn setup_view(
        &self,
        token: String,
        secret: TotpSecret,
        account: &str,
        lifetime_seconds: i64,
    ) -> AuthenticatorSetup {
        let params = TotpParams::default();
        let uri = otpauth_uri(&self.product_name, account, &secret, &params);
        AuthenticatorSetup {
            token,
            secret,
            uri,
            params,
            lifetime_seconds,
        }
    }
}
