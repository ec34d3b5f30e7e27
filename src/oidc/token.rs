//! `/oauth2/token`: a client proves itself (its secret, by HTTP Basic or in the body; a public
//! client by PKCE alone) and trades a code, once, for a grant: an ID token, an access token
//! signed by the data directory's keys, and a refresh token (`grants.rs` renews, revokes and
//! reads them). Errors are RFC 6749 §5.2's.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::claims::{Login, id_token_claims};
use super::{Oidc, OidcError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::oidc_keys::Algorithm;
use crate::crypto::random;
use crate::domain::User;
use crate::store::{ClientRecord, CodeRecord, GrantRecord};

/// The form of a token request, as it arrived.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub code_verifier: Option<String>,
    /// A refresh's token (`grant_type=refresh_token`).
    pub refresh_token: Option<String>,
    /// A refresh may ask for fewer scopes than the grant has.
    pub scope: Option<String>,
}

/// The client's id and secret from an `Authorization: Basic` header, if it sent one.
#[derive(Debug, Clone, Default)]
pub struct ClientAuth {
    pub basic: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    pub refresh_token: String,
    pub scope: String,
}

/// A refused token request, as RFC 6749 §5.2 names it.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    /// The client is unknown or its secret wrong; `basic`: it tried HTTP Basic.
    #[error("the client could not be authenticated")]
    InvalidClient { basic: bool },
    #[error("{0}")]
    InvalidGrant(String),
    #[error("only authorization_code is supported")]
    UnsupportedGrantType,
    #[error(transparent)]
    Internal(#[from] OidcError),
}

impl TokenError {
    /// The `error` of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient { .. } => "invalid_client",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::Internal(_) => "server_error",
        }
    }
}

impl From<crate::store::StoreError> for TokenError {
    fn from(error: crate::store::StoreError) -> Self {
        TokenError::Internal(error.into())
    }
}

impl Oidc {
    /// Trades a code for tokens.
    pub async fn token(
        &self,
        request: &TokenRequest,
        auth: &ClientAuth,
        origin: &Origin,
        now: Instant,
    ) -> Result<TokenResponse, TokenError> {
        let client = match request.grant_type.as_deref() {
            Some("authorization_code") => self.authenticate_client(request, auth).await?,
            Some("refresh_token") => {
                let client = self.authenticate_client(request, auth).await?;
                return self.refresh(&client, request, origin, now).await;
            }
            Some(_) => return Err(TokenError::UnsupportedGrantType),
            None => return Err(TokenError::InvalidRequest("grant_type is required".into())),
        };
        let code = request
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 128)
            .ok_or_else(|| TokenError::InvalidRequest("code is required".into()))?;
        let code_hash = random::lookup_digest(code);
        let found = self
            .oidc_store
            .code(&code_hash)
            .await?
            .filter(|c| c.client_id == client.client_id)
            .ok_or_else(|| TokenError::InvalidGrant("the code is not valid".into()))?;
        if found.used_at.is_some() {
            self.revoke_after_reuse(&found, &client, origin, now)
                .await?;
            return Err(TokenError::InvalidGrant(
                "the code was used already; what it gave was revoked".into(),
            ));
        }
        grant_verdict(&found, request, now).map_err(TokenError::InvalidGrant)?;
        let session = self
            .session_store
            .session(&found.session_id)
            .await?
            .filter(|s| s.is_live(now))
            .ok_or_else(|| TokenError::InvalidGrant("the sign-in has ended".into()))?;
        let user = self
            .user_store
            .user(found.user)
            .await?
            .filter(|u| u.active)
            .ok_or_else(|| TokenError::InvalidGrant("the account is not active".into()))?;
        let grant = GrantRecord {
            id: random::public_id("gr_"),
            client_id: client.client_id.clone(),
            user: user.id,
            session_id: session.id.clone(),
            scope: found.scope.clone(),
            auth_time: found.auth_time,
            amr: found.amr.clone(),
            offline: found
                .scope
                .split_ascii_whitespace()
                .any(|s| s == "offline_access"),
            created_at: now,
            expires_at: now.plus_seconds(client.refresh_token_seconds),
            revoked_at: None,
        };
        let refresh_token = random::token(32);
        let event = AuditEvent::new(EventKind::OidcTokenIssue, Actor::User(user.id), origin, now)
            .target(user.id)
            .detail("clientId", client.client_id.clone())
            .detail("scope", found.scope.clone())
            .detail("grantId", grant.id.clone());
        if !self
            .oidc_store
            .exchange_code(
                &code_hash,
                &grant,
                &random::lookup_digest(&refresh_token),
                &event,
            )
            .await?
        {
            // Another exchange spent it a moment ago: that is a second use too.
            if let Some(spent) = self.oidc_store.code(&code_hash).await? {
                self.revoke_after_reuse(&spent, &client, origin, now)
                    .await?;
            }
            return Err(TokenError::InvalidGrant(
                "the code was used already; what it gave was revoked".into(),
            ));
        }
        self.issue(
            &client,
            &grant,
            &user,
            found.nonce.as_deref(),
            refresh_token,
            now,
        )
        .await
    }

    /// The tokens of a grant: an ID token, an access token that names the grant, and the
    /// refresh token that renews it; both tokens signed with the client's algorithm.
    pub(super) async fn issue(
        &self,
        client: &ClientRecord,
        grant: &GrantRecord,
        user: &User,
        nonce: Option<&str>,
        refresh_token: String,
        now: Instant,
    ) -> Result<TokenResponse, TokenError> {
        let keys = self.keys().await?;
        let groups = self.group_names(user.id, &grant.scope).await?;
        let id_claims = id_token_claims(&Login {
            issuer: &self.issuer,
            client_id: &client.client_id,
            user,
            session_id: &grant.session_id,
            auth_time: grant.auth_time,
            amr: &grant.amr,
            nonce,
            scope: &grant.scope,
            groups: &groups,
            now,
            lifetime_seconds: client.id_token_seconds,
        });
        let issued = now.millis() / 1000;
        let access_claims = serde_json::json!({
            "iss": self.issuer,
            "sub": user.id.to_string(),
            "aud": client.client_id,
            "client_id": client.client_id,
            "scope": grant.scope,
            "gid": grant.id,
            "iat": issued,
            "exp": issued + client.access_token_seconds,
            "jti": random::token(16),
        });
        let algorithm = client.id_token_alg;
        let sign = move || {
            (
                keys.sign(algorithm, &id_claims),
                keys.sign(algorithm, &access_claims),
            )
        };
        let (id_token, access_token) = match algorithm {
            // Two RSA signatures take a millisecond or more: on the blocking pool, where the
            // other cores sign while the async workers serve (BENCHMARKS.md, oidc-exchange).
            Algorithm::Rs256 => tokio::task::spawn_blocking(sign)
                .await
                .map_err(|e| TokenError::Internal(OidcError::Internal(e.into())))?,
            Algorithm::Es256 => sign(),
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.access_token_seconds,
            id_token,
            refresh_token,
            scope: grant.scope.clone(),
        })
    }

    /// The client a request comes from, proven: by its secret (HTTP Basic or the body,
    /// not both), or, for a public client, by its id alone (its code then needs PKCE).
    pub(super) async fn authenticate_client(
        &self,
        request: &TokenRequest,
        auth: &ClientAuth,
    ) -> Result<ClientRecord, TokenError> {
        let basic = auth.basic.is_some();
        let (client_id, secret) = match (&auth.basic, &request.client_secret) {
            (Some(_), Some(_)) => {
                return Err(TokenError::InvalidRequest(
                    "send the client's secret one way: HTTP Basic or the body".into(),
                ));
            }
            (Some((id, secret)), None) => (id.clone(), Some(secret.clone())),
            (None, secret) => (
                request
                    .client_id
                    .clone()
                    .ok_or(TokenError::InvalidClient { basic })?,
                secret.clone(),
            ),
        };
        if client_id.len() > 64 {
            return Err(TokenError::InvalidClient { basic });
        }
        let client = self
            .oidc_store
            .client(&client_id)
            .await?
            .ok_or(TokenError::InvalidClient { basic })?;
        let proven = match (&client.secret_hash, &secret) {
            (Some(kept), Some(secret)) => bool::from(
                random::lookup_digest(secret)
                    .as_bytes()
                    .ct_eq(kept.as_bytes()),
            ),
            (None, None) => true,
            _ => false,
        };
        if proven {
            Ok(client)
        } else {
            Err(TokenError::InvalidClient { basic })
        }
    }

    /// A code came back after it was traded: the grant it was traded for is revoked, so that
    /// whoever traded it first holds nothing that works (RFC 6749 §4.1.2).
    async fn revoke_after_reuse(
        &self,
        code: &CodeRecord,
        client: &ClientRecord,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TokenError> {
        let event = AuditEvent::new(EventKind::OidcCodeReuse, Actor::Anonymous, origin, now)
            .target(code.user)
            .detail("clientId", client.client_id.clone());
        if let Some(grant) = &code.grant_id {
            self.oidc_store
                .revoke_grant(grant, &event.detail("grantId", grant.clone()))
                .await?;
        }
        Ok(())
    }
}

/// Whether a code may be traded by this request: unexpired, at the redirect URI it was given
/// for, with the PKCE verifier of its challenge (RFC 7636 §4.6).
fn grant_verdict(code: &CodeRecord, request: &TokenRequest, now: Instant) -> Result<(), String> {
    if now.millis() >= code.expires_at.millis() {
        return Err("the code has expired".into());
    }
    if let Some(uri) = &request.redirect_uri
        && *uri != code.redirect_uri
    {
        return Err("redirect_uri is not the one the code was given for".into());
    }
    match (&code.code_challenge, &request.code_verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err("this code was given without a code_challenge".into()),
        (Some(_), None) => Err("code_verifier is required".into()),
        (Some(challenge), Some(verifier)) => {
            if !(43..=128).contains(&verifier.len()) {
                return Err("code_verifier is 43 to 128 characters".into());
            }
            let digest = base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                Sha256::digest(verifier.as_bytes()),
            );
            if bool::from(digest.as_bytes().ct_eq(challenge.as_bytes())) {
                Ok(())
            } else {
                Err("code_verifier does not match the code_challenge".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn code(challenge: Option<&str>) -> CodeRecord {
        CodeRecord {
            client_id: "app".into(),
            user: UserId::new(),
            session_id: "s".into(),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: challenge.map(str::to_owned),
            nonce: None,
            scope: "openid".into(),
            auth_time: Instant::from_millis(0),
            amr: vec!["pwd".into()],
            expires_at: Instant::from_millis(60_000),
            used_at: None,
            grant_id: None,
        }
    }

    fn request(verifier: Option<&str>, redirect: Option<&str>) -> TokenRequest {
        TokenRequest {
            code_verifier: verifier.map(str::to_owned),
            redirect_uri: redirect.map(str::to_owned),
            ..TokenRequest::default()
        }
    }

    // RFC 7636 Appendix B's verifier and challenge.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn a_code_is_traded_with_the_verifier_of_its_challenge_only() {
        let now = Instant::from_millis(1_000);
        let with = code(Some(CHALLENGE));
        assert_eq!(
            grant_verdict(&with, &request(Some(VERIFIER), None), now),
            Ok(())
        );
        assert!(grant_verdict(&with, &request(None, None), now).is_err());
        let other = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(grant_verdict(&with, &request(Some(other), None), now).is_err());
        assert!(grant_verdict(&code(None), &request(Some(VERIFIER), None), now).is_err());
    }

    #[test]
    fn a_code_is_traded_in_time_at_its_own_redirect_uri() {
        let plain = code(None);
        let now = Instant::from_millis(1_000);
        assert_eq!(
            grant_verdict(&plain, &request(None, Some("https://app.example/cb")), now),
            Ok(())
        );
        assert!(
            grant_verdict(
                &plain,
                &request(None, Some("https://app.example/other")),
                now
            )
            .is_err()
        );
        assert!(grant_verdict(&plain, &request(None, None), Instant::from_millis(60_000)).is_err());
    }
}
