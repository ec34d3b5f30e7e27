//! The services the adapters call (the HTTP layer, the CLI), built once from the
//! configuration. Each holds only what it uses; this bundle only carries them.

use crate::access_rules::RulesCache;
use crate::accounts::Accounts;
use crate::addresses::Addresses;
use crate::admin::Administration;
use crate::app_passwords::AppPasswords;
use crate::auth::Logins;
use crate::config::AccessTokenAlgorithm;
use crate::config::Config;
use crate::crypto::cipher::SecretBox;
use crate::crypto::oidc_keys::{Algorithm, KeyRing};
use crate::crypto::{AccessTokenSigner, FormTokens, Keys, PasswordHasher, TokenSigner};
use crate::delivery::Delivery;
use crate::forward_auth::{ForwardAuth, ForwardAuthSettings};
use crate::groups::Groups;
use crate::import::Import;
use crate::notices::Notices;
use crate::oidc::{Oidc, SigningSettings};
use crate::recovery::Recovery;
use crate::registration::Registration;
use crate::sessions::{Sessions, TokenPolicy, WebSessionLimits};
use crate::store::{Store, StoreError};
use crate::two_factor::TwoFactor;
use crate::verify::Verify;
use crate::webauthn::WebAuthn;
use crate::welcome::Welcome;

#[derive(Clone)]
pub struct Core {
    pub accounts: Accounts,
    pub addresses: Addresses,
    pub admin: Administration,
    pub app_passwords: AppPasswords,
    pub delivery: Delivery,
    pub forward_auth: ForwardAuth,
    pub groups: Groups,
    pub import: Import,
    pub logins: Logins,
    pub recovery: Recovery,
    pub notices: Notices,
    pub oidc: Oidc,
    pub registration: Registration,
    pub sessions: Sessions,
    pub two_factor: TwoFactor,
    pub verify: Verify,
    pub webauthn: WebAuthn,
    pub welcome: Welcome,
    /// The database itself, for the operator's commands (migrations, closing) and the tests;
    /// requests reach it only through the services.
    pub store: Store,
}

impl Core {
    /// The services over `store`, their tokens issued as `issuer`. `oidc_keys`: the OpenID
    /// Connect keys, read beforehand; required when the JSON API's access tokens are signed with
    /// them (`published_algorithm`), else read the first time they are used.
    pub fn new(
        config: &Config,
        store: Store,
        keys: &Keys,
        issuer: String,
        oidc_keys: Option<KeyRing>,
    ) -> anyhow::Result<Self> {
        let hasher = PasswordHasher::new(&config.argon2, config.argon2_max_concurrent())?;
        let secrets = SecretBox::new(keys.clone());
        let hs256 = TokenSigner::new(keys.signing_key());
        let signer = match (published_algorithm(config), &oidc_keys) {
            (None, _) => AccessTokenSigner::Hs256(hs256),
            (Some(algorithm), Some(ring)) => AccessTokenSigner::Published {
                keys: ring.clone(),
                algorithm,
                hs256,
            },
            (Some(_), None) => anyhow::bail!(
                "tokens.access_token_algorithm signs with the OpenID Connect keys, which were not read"
            ),
        };
        let sessions = Sessions::new(
            store.clone(),
            signer,
            TokenPolicy {
                issuer: issuer.clone(),
                access_ttl_seconds: config.tokens.access_ttl_seconds,
                refresh_ttl_seconds: config.tokens.refresh_ttl_seconds,
                web: WebSessionLimits {
                    inactivity_seconds: config.session.inactivity_timeout_seconds,
                    absolute_seconds: config.session.absolute_timeout_seconds,
                    remember_me_seconds: config.session.remember_me_seconds,
                },
            },
            FormTokens::new(keys),
        );
        let delivery = Delivery::new(
            store.clone(),
            secrets.clone(),
            config.delivery.defaults.clone(),
        );
        let verify = Verify::new(store.clone(), secrets.clone(), delivery.clone());
        let two_factor = TwoFactor::new(
            store.clone(),
            secrets.clone(),
            config.two_factor.clone(),
            config.product_name.clone(),
            verify.clone(),
            sessions.clone(),
        )
        .with_attestation_roots(config.webauthn.attestation_roots_file.is_some());
        let home_region = config.home_region();
        // One copy of the access rules for the services that read them: forward-auth decides
        // by them, and accounts, groups and sign-ups keep the names they use.
        let access_rules = RulesCache::new(
            store.settings(),
            config.forward_auth.access_rules_file.clone(),
        );
        let accounts = Accounts::new(
            store.clone(),
            hasher.clone(),
            home_region,
            access_rules.clone(),
        );
        let recovery = Recovery::new(
            store.clone(),
            hasher.clone(),
            verify.clone(),
            two_factor.clone(),
            accounts.clone(),
            config.product_name.clone(),
            issuer.clone(),
        );
        let addresses = Addresses::new(
            store.clone(),
            accounts.clone(),
            verify.clone(),
            config.product_name.clone(),
            issuer.clone(),
        );
        let notices = Notices::new(
            store.clone(),
            verify.clone(),
            two_factor.clone(),
            recovery.clone(),
            config.product_name.clone(),
            issuer.clone(),
        );
        let registration = Registration::new(
            store.clone(),
            hasher.clone(),
            addresses.clone(),
            verify.clone(),
            config.product_name.clone(),
            issuer.clone(),
            access_rules.clone(),
        );
        let groups = Groups::new(store.clone(), two_factor.clone(), access_rules.clone());
        let app_passwords = AppPasswords::new(store.clone(), secrets.clone());
        // A public URL without a domain name (the default 127.0.0.1) turns WebAuthn off:
        // `check-config` refuses only an `rp_id` that does not fit.
        let party = match config.webauthn.relying_party("public_url", &issuer) {
            Ok(party) => Some(party),
            Err(why) => {
                tracing::info!("security keys and passkeys are off: {why}");
                None
            }
        };
        let webauthn = WebAuthn::new(
            store.clone(),
            party,
            &config.webauthn,
            &config.product_name,
            two_factor.clone(),
            sessions.clone(),
            secrets
                .keyed_hash("webauthn-made-up-credential-ids", "")
                .as_bytes(),
        )?;
        let logins = Logins::new(
            store.clone(),
            hasher,
            config.password_guard.clone(),
            two_factor.clone(),
            sessions.clone(),
            verify.clone(),
            recovery.clone(),
            addresses.clone(),
            app_passwords.clone(),
            webauthn.clone(),
        );
        let forward_auth = ForwardAuth::new(
            store.clone(),
            sessions.clone(),
            groups.clone(),
            logins.clone(),
            access_rules,
            ForwardAuthSettings {
                // The issuer, not the configured public URL: without one, only the issuer
                // knows the port a listener on port 0 was given.
                portal_url: match &config.forward_auth.portal_url {
                    Some(_) => config.forward_auth_portal_url(),
                    None => issuer.clone(),
                },
                allow_http: config.forward_auth.allow_http(),
                rules_file: config.forward_auth.access_rules_file.clone(),
            },
        );
        Ok(Self {
            webauthn,
            forward_auth,
            admin: Administration::new(store.clone(), home_region, sessions.clone()),
            app_passwords,
            import: Import::new(store.clone(), secrets, two_factor.clone(), home_region),
            recovery,
            notices,
            oidc: Oidc::new(
                store.clone(),
                sessions.clone(),
                groups.clone(),
                logins.clone(),
                SigningSettings {
                    keys: oidc_keys,
                    data_dir: config.data_dir.clone(),
                    api_token_seconds: config.tokens.access_ttl_seconds,
                },
                issuer.clone(),
            ),
            logins,
            registration,
            welcome: Welcome::new(store.clone(), addresses.clone()),
            accounts,
            addresses,
            delivery,
            sessions,
            two_factor,
            verify,
            groups,
            store,
        })
    }

    /// Whether the database answers (`/health`).
    pub async fn health(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }
}

/// The OpenID Connect key that signs the JSON API's access tokens, if the configuration says
/// they are signed by one (`tokens.access_token_algorithm`).
pub fn published_algorithm(config: &Config) -> Option<Algorithm> {
    match config.tokens.access_token_algorithm {
        AccessTokenAlgorithm::Hs256 => None,
        AccessTokenAlgorithm::Rs256 => Some(Algorithm::Rs256),
        AccessTokenAlgorithm::Es256 => Some(Algorithm::Es256),
    }
}
