//! OpenID Connect: Tessera as a provider for applications (OpenID Connect Core 1.0, Discovery
//! 1.0, OAuth 2.0 with PKCE). An administrator registers clients (`clients.rs`); a client sends
//! a person to `/oauth2/authorize` (`authorize.rs`), who logs in on Tessera's own pages (the
//! password, the second factor by policy, the welcome step) and comes back with a one-time code,
//! which the client trades at `/oauth2/token` for an ID token and an access token
//! (`token.rs`). A signed-in person whose login does not do for a request proves what is
//! missing in the same session (`step_up.rs`). The claims and the discovery document are pure
//! functions (`claims.rs`). The tokens are signed by the data directory's RS256 and ES256 keys
//! (`crypto::oidc_keys`), published at `/oauth2/jwks`, which an operator rotates and retires
//! (`keys.rs`).

mod applications;
mod authorize;
mod claims;
mod clients;
mod consent;
mod grants;
mod keys;
mod logout;
mod step_up;
mod token;

pub use applications::{Application, GrantView};
pub use authorize::{AuthorizeOutcome, AuthorizeParams, Continued, PENDING_SECONDS, Pending, Step};
pub use claims::{discovery, second_factor_given};
pub use clients::{ClientSettings, ClientUpdate, ClientView, NewClientSecret};
pub use consent::ConsentQuestion;
pub use grants::UserInfo;
pub use keys::{RETIRE_MARGIN_SECONDS, RetireError, RetireVerdict, retire_verdict};
pub use logout::{LogoutOutcome, LogoutParams};
pub use step_up::StepUpQuestion;
pub use token::{ClientAuth, TokenError, TokenRequest, TokenResponse};

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::auth::Logins;
use crate::crypto::oidc_keys::{KeyRing, OidcKeys};
use crate::domain::FieldError;
use crate::groups::Groups;
use crate::sessions::Sessions;
use crate::store::{AuditStore, OidcStore, SessionStore, Store, UserStore};

/// The OpenID Connect provider.
#[derive(Clone)]
pub struct Oidc {
    oidc_store: OidcStore,
    user_store: UserStore,
    /// The session a code was granted from must still be live when it is traded.
    session_store: SessionStore,
    /// A logout ends the browser's session as the pages' does.
    sessions: Sessions,
    /// The `groups` claim, and the groups a client admits.
    groups: Groups,
    /// Step-up: the password or a second factor proved again in the same session.
    logins: Logins,
    /// Refusals of a signed-in person (the grants are written with their changes).
    audit_store: AuditStore,
    /// Made or read the first time a token is signed or the keys are published (or at the
    /// start, when the JSON API's access tokens are signed with them too).
    keys: Arc<OnceCell<KeyRing>>,
    data_dir: PathBuf,
    /// The public URL: the `iss` of every token, the base of every endpoint.
    issuer: String,
    /// The lifetime of the JSON API's access tokens, which a key may have signed too.
    api_token_seconds: i64,
}

/// Where the signing keys come from, and the other tokens they may sign.
pub struct SigningSettings {
    /// Read beforehand (when the JSON API's access tokens are signed with them), else read or
    /// made in `data_dir` the first time they are used.
    pub keys: Option<KeyRing>,
    pub data_dir: PathBuf,
    /// The lifetime of the JSON API's access tokens.
    pub api_token_seconds: i64,
}

impl Oidc {
    pub fn new(
        store: Store,
        sessions: Sessions,
        groups: Groups,
        logins: Logins,
        signing: SigningSettings,
        issuer: String,
    ) -> Self {
        let SigningSettings {
            keys,
            data_dir,
            api_token_seconds,
        } = signing;
        Self {
            sessions,
            groups,
            logins,
            oidc_store: store.oidc(),
            user_store: store.users(),
            session_store: store.sessions(),
            audit_store: store.audit(),
            keys: Arc::new(OnceCell::new_with(keys)),
            data_dir,
            issuer,
            api_token_seconds,
        }
    }

    /// The signing keys in force, read or made off the async threads the first time.
    pub async fn keys(&self) -> Result<Arc<OidcKeys>, OidcError> {
        Ok(self.key_ring().await?.keys())
    }

    async fn key_ring(&self) -> Result<&KeyRing, OidcError> {
        let dir = self.data_dir.clone();
        self.keys
            .get_or_try_init(|| async move {
                let ring = tokio::task::spawn_blocking(move || KeyRing::open(&dir))
                    .await
                    .map_err(anyhow::Error::from)?
                    .map_err(anyhow::Error::from)?;
                Ok::<_, OidcError>(ring)
            })
            .await
    }

    /// The JSON Web Key Set (`/oauth2/jwks`).
    pub async fn jwks(&self) -> Result<serde_json::Value, OidcError> {
        Ok(self.keys().await?.jwks())
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The names of the user's groups, for the `groups` claim (read only when the scope asks).
    async fn group_names(
        &self,
        user: crate::domain::UserId,
        scope: &str,
    ) -> Result<Vec<String>, OidcError> {
        if !scope.split_ascii_whitespace().any(|s| s == "groups") {
            return Ok(Vec::new());
        }
        Ok(self
            .groups
            .groups_of(user)
            .await
            .map_err(anyhow::Error::from)?
            .iter()
            .map(|g| g.name.as_str().to_owned())
            .collect())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A field is blank, malformed or breaks a rule: nothing was written.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("no such client")]
    UnknownClient,
    /// A public client has no secret to rotate: it proves itself by PKCE.
    #[error("a public client has no secret: it proves itself by PKCE alone")]
    PublicClient,
    #[error("no such grant of this user")]
    UnknownGrant,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for OidcError {
    fn from(error: crate::store::StoreError) -> Self {
        OidcError::Internal(error.into())
    }
}
