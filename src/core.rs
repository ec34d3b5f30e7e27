//! The domain core: what the JSON API, the CLI (and later the web pages) call. One flow is one
//! method here; the adapters only translate requests in and results out.

use crate::config::Config;
use crate::crypto::cipher::SecretBox;
use crate::crypto::{Keys, PasswordHasher, TokenSigner};
use crate::policy::TwoFactorPolicy;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// The `iss` of every token: the public URL.
    pub issuer: String,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
}

#[derive(Clone)]
pub struct Core {
    pub store: Store,
    pub hasher: PasswordHasher,
    pub signer: TokenSigner,
    pub secrets: SecretBox,
    pub tokens: TokenPolicy,
    /// The two-factor settings of the configuration file; stored settings override them.
    pub two_factor_defaults: TwoFactorPolicy,
    /// The issuer shown in authenticator apps.
    pub product_name: String,
    /// Delivery settings of the configuration file; stored settings override them.
    pub delivery_defaults: crate::verify::DeliverySettings,
    /// For the providers (Twilio, webhooks), with time-outs.
    pub http: reqwest::Client,
}

impl Core {
    pub fn new(config: &Config, store: Store, keys: &Keys) -> anyhow::Result<Self> {
        let hasher = PasswordHasher::new(&config.argon2, config.argon2_max_concurrent())?;
        Ok(Self {
            store,
            hasher,
            signer: TokenSigner::new(keys.signing_key()),
            secrets: SecretBox::new(keys.clone()),
            tokens: TokenPolicy {
                issuer: config.public_url(),
                access_ttl_seconds: config.tokens.access_ttl_seconds,
                refresh_ttl_seconds: config.tokens.refresh_ttl_seconds,
            },
            two_factor_defaults: config.two_factor.clone(),
            product_name: config.product_name.clone(),
            delivery_defaults: config.delivery.clone(),
            http: crate::delivery::http_client(),
        })
    }

    /// Whether the database answers (`/health`).
    pub async fn health(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }
}
