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
use crate::store::{ClientRecord, CodeRecord, ExchangeRead, ExchangeWrites, GrantRecord};

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
    /// Trades a code for tokens, or renews a grant with a refresh token.
    pub async fn token(
        &self,
        request: &TokenRequest,
        auth: &ClientAuth,
        origin: &Origin,
        now: Instant,
    ) -> Result<TokenResponse, TokenError> {
        match request.grant_type.as_deref() {
            Some("authorization_code") => self.exchange(request, auth, origin, now).await,
            Some("refresh_token") => {
                let client = self.authenticate_client(request, auth).await?;
                self.refresh(&client, request, origin, now).await
            }
            Some(_) => Err(TokenError::UnsupportedGrantType),
            None => Err(TokenError::InvalidRequest("grant_type is required".into())),
        }
    }

    /// `grant_type=authorization_code`: the client, the code, its session and its user read in
    /// one statement, judged by `CodeTrade::verdict`, and the trade written with the read (one
    /// store call: `exchange_code`).
    async fn exchange(
        &self,
        request: &TokenRequest,
        auth: &ClientAuth,
        origin: &Origin,
        now: Instant,
    ) -> Result<TokenResponse, TokenError> {
        let (client_id, secret) = client_credentials(request, auth)?;
        let Some(code) = request
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 128)
        else {
            // The client is proven before the request is judged, as everywhere else.
            self.authenticate_client(request, auth).await?;
            return Err(TokenError::InvalidRequest("code is required".into()));
        };
        let code_hash = random::lookup_digest(code);
        let refresh_token = random::token(32);
        let trade = CodeTrade {
            request: request.clone(),
            secret,
            basic: auth.basic.is_some(),
            origin: origin.clone(),
            now,
            grant_id: random::public_id("gr_"),
            refresh_hash: random::lookup_digest(&refresh_token),
        };
        let exchanged = self
            .oidc_store
            .exchange_code(&client_id, &code_hash, move |read| trade.verdict(read))
            .await?;
        let traded = exchanged.verdict?;
        if !exchanged.spent {
            // Another exchange spent it between the read and the write: a second use too.
            if let Some(spent) = self.oidc_store.code(&code_hash).await? {
                self.revoke_after_reuse(&spent, &traded.client, origin, now)
                    .await?;
            }
            return Err(used_again());
        }
        self.issue(
            &traded.client,
            &traded.grant,
            &traded.user,
            traded.nonce.as_deref(),
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
        let (client_id, secret) = client_credentials(request, auth)?;
        self.oidc_store
            .client(&client_id)
            .await?
            .filter(|client| client_proven(client, secret.as_deref()))
            .ok_or(TokenError::InvalidClient { basic })
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
        if let Some((grant, event)) = reuse_revocation(code, client, origin, now) {
            self.oidc_store.revoke_grant(&grant, &event).await?;
        }
        Ok(())
    }
}

/// The id and secret a request names its client by (HTTP Basic or the body, not both).
fn client_credentials(
    request: &TokenRequest,
    auth: &ClientAuth,
) -> Result<(String, Option<String>), TokenError> {
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
    Ok((client_id, secret))
}

/// Whether `secret` proves `client`: its secret's digest for a confidential client, none for a
/// public one.
fn client_proven(client: &ClientRecord, secret: Option<&str>) -> bool {
    match (&client.secret_hash, secret) {
        (Some(kept), Some(secret)) => bool::from(
            random::lookup_digest(secret)
                .as_bytes()
                .ct_eq(kept.as_bytes()),
        ),
        (None, None) => true,
        _ => false,
    }
}

/// The grant a code was traded for, to revoke now that the code came back, with the event.
fn reuse_revocation(
    code: &CodeRecord,
    client: &ClientRecord,
    origin: &Origin,
    now: Instant,
) -> Option<(String, AuditEvent)> {
    let grant = code.grant_id.clone()?;
    let event = AuditEvent::new(EventKind::OidcCodeReuse, Actor::Anonymous, origin, now)
        .target(code.user)
        .detail("clientId", client.client_id.clone())
        .detail("grantId", grant.clone());
    Some((grant, event))
}

fn used_again() -> TokenError {
    TokenError::InvalidGrant("the code was used already; what it gave was revoked".into())
}

/// A token request's code trade, with what it would keep: judged on what the exchange's
/// statement read (`verdict`), inside the store's call, so it holds nothing that waits.
struct CodeTrade {
    request: TokenRequest,
    secret: Option<String>,
    basic: bool,
    origin: Origin,
    now: Instant,
    grant_id: String,
    refresh_hash: String,
}

/// A code traded: what its tokens are made of.
#[derive(Debug)]
struct Traded {
    client: ClientRecord,
    grant: GrantRecord,
    user: User,
    nonce: Option<String>,
}

impl CodeTrade {
    /// Whether the code is traded, in order: the client proven, the code its own, unspent (a
    /// spent one revokes what it gave: RFC 6749 §4.1.2), `grant_verdict`, the sign-in's session
    /// live, the account active. And what the store writes for it.
    fn verdict(self, read: ExchangeRead) -> (ExchangeWrites, Result<Traded, TokenError>) {
        let refuse = |error| (ExchangeWrites::Nothing, Err(error));
        let invalid = |why: &str| refuse(TokenError::InvalidGrant(why.into()));
        let Some(client) = read
            .client
            .filter(|client| client_proven(client, self.secret.as_deref()))
        else {
            return refuse(TokenError::InvalidClient { basic: self.basic });
        };
        let Some(code) = read.code else {
            return invalid("the code is not valid");
        };
        if code.used_at.is_some() {
            let writes = match reuse_revocation(&code, &client, &self.origin, self.now) {
                Some((grant_id, event)) => ExchangeWrites::Revoke { grant_id, event },
                None => ExchangeWrites::Nothing,
            };
            return (writes, Err(used_again()));
        }
        if let Err(why) = grant_verdict(&code, &self.request, self.now) {
            return invalid(&why);
        }
        if !read.session.is_some_and(|s| s.is_live(self.now)) {
            return invalid("the sign-in has ended");
        }
        let Some(user) = read.user.filter(|u| u.active) else {
            return invalid("the account is not active");
        };
        let now = self.now;
        let grant = GrantRecord {
            id: self.grant_id,
            client_id: client.client_id.clone(),
            user: user.id,
            session_id: code.session_id.clone(),
            scope: code.scope.clone(),
            auth_time: code.auth_time,
            amr: code.amr.clone(),
            offline: code
                .scope
                .split_ascii_whitespace()
                .any(|s| s == "offline_access"),
            created_at: now,
            expires_at: now.plus_seconds(client.refresh_token_seconds),
            revoked_at: None,
        };
        let event = AuditEvent::new(
            EventKind::OidcTokenIssue,
            Actor::User(user.id),
            &self.origin,
            now,
        )
        .target(user.id)
        .detail("clientId", client.client_id.clone())
        .detail("scope", code.scope.clone())
        .detail("grantId", grant.id.clone());
        let writes = ExchangeWrites::Trade {
            grant: grant.clone(),
            refresh_hash: self.refresh_hash,
            event,
        };
        let traded = Traded {
            client,
            grant,
            user,
            nonce: code.nonce,
        };
        (writes, Ok(traded))
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

    fn client(secret: Option<&str>) -> ClientRecord {
        ClientRecord {
            client_id: "app".into(),
            name: "App".into(),
            secret_hash: secret.map(random::lookup_digest),
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into()],
            allowed_groups: vec![],
            requires_second_factor: false,
            first_party: true,
            access_token_seconds: 600,
            id_token_seconds: 600,
            refresh_token_seconds: 3_600,
            id_token_alg: Algorithm::Es256,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
        }
    }

    fn user(active: bool) -> User {
        User {
            id: UserId::new(),
            username: crate::domain::Username::parse("ann").unwrap(),
            email: None,
            email_verified_at: None,
            pending_email: None,
            full_name: None,
            mobile_phone: None,
            roles: crate::domain::Roles::user(),
            active,
            two_factor_required: false,
            every_login: false,
            authy_migrated: false,
            password_change_required: false,
            terms_version_accepted: None,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
            password_changed_at: Instant::from_millis(0),
            last_login_at: None,
        }
    }

    fn session(revoked: bool) -> crate::store::SessionRecord {
        crate::store::SessionRecord {
            id: "s".into(),
            user_id: UserId::new(),
            kind: crate::domain::LoginType::Web,
            amr: vec![],
            application_id: None,
            created_at: Instant::from_millis(0),
            authenticated_at: Instant::from_millis(0),
            expires_at: Instant::from_millis(100_000),
            revoked_at: revoked.then(|| Instant::from_millis(1)),
            last_seen_at: Instant::from_millis(0),
            remembered: false,
        }
    }

    /// What the exchange's statement reads of a good trade.
    fn read() -> ExchangeRead {
        ExchangeRead {
            client: Some(client(Some("secret"))),
            code: Some(code(None)),
            session: Some(session(false)),
            user: Some(user(true)),
        }
    }

    fn trade(secret: Option<&str>) -> CodeTrade {
        CodeTrade {
            request: request(None, Some("https://app.example/cb")),
            secret: secret.map(str::to_owned),
            basic: true,
            origin: Origin::default(),
            now: Instant::from_millis(1_000),
            grant_id: "gr_1".into(),
            refresh_hash: "r".into(),
        }
    }

    #[test]
    fn a_good_trade_keeps_the_grant_with_its_refresh_token_and_event() {
        let (writes, traded) = trade(Some("secret")).verdict(read());
        let traded = traded.expect("traded");
        let ExchangeWrites::Trade {
            grant,
            refresh_hash,
            event,
        } = writes
        else {
            panic!("{writes:?}");
        };
        assert_eq!(grant, traded.grant);
        assert_eq!((grant.id.as_str(), refresh_hash.as_str()), ("gr_1", "r"));
        assert_eq!(grant.user, traded.user.id);
        assert_eq!(grant.expires_at, Instant::from_millis(1_000 + 3_600_000));
        assert_eq!(event.kind, EventKind::OidcTokenIssue);
    }

    #[test]
    fn a_refused_trade_writes_nothing_and_says_why() {
        let refused = |trade: CodeTrade, read: ExchangeRead| {
            let (writes, verdict) = trade.verdict(read);
            assert!(matches!(writes, ExchangeWrites::Nothing), "{writes:?}");
            verdict.expect_err("refused")
        };
        assert!(matches!(
            refused(trade(Some("wrong")), read()),
            TokenError::InvalidClient { basic: true }
        ));
        assert!(matches!(
            refused(trade(None), read()),
            TokenError::InvalidClient { .. }
        ));
        let unknown = ExchangeRead {
            client: None,
            ..read()
        };
        assert!(matches!(
            refused(trade(Some("secret")), unknown),
            TokenError::InvalidClient { .. }
        ));
        let cases = [
            (
                ExchangeRead {
                    code: None,
                    ..read()
                },
                "not valid",
            ),
            (
                ExchangeRead {
                    session: Some(session(true)),
                    ..read()
                },
                "sign-in has ended",
            ),
            (
                ExchangeRead {
                    session: None,
                    ..read()
                },
                "sign-in has ended",
            ),
            (
                ExchangeRead {
                    user: Some(user(false)),
                    ..read()
                },
                "not active",
            ),
            (
                ExchangeRead {
                    user: None,
                    ..read()
                },
                "not active",
            ),
        ];
        for (read, why) in cases {
            let TokenError::InvalidGrant(said) = refused(trade(Some("secret")), read) else {
                panic!("{why}");
            };
            assert!(said.contains(why), "{said}");
        }
        let mut elsewhere = trade(Some("secret"));
        elsewhere.request.redirect_uri = Some("https://app.example/other".into());
        assert!(matches!(
            refused(elsewhere, read()),
            TokenError::InvalidGrant(_)
        ));
    }

    #[test]
    fn a_spent_code_brought_again_revokes_what_it_gave() {
        let spent = CodeRecord {
            used_at: Some(Instant::from_millis(500)),
            grant_id: Some("gr_0".into()),
            ..code(None)
        };
        let (writes, verdict) = trade(Some("secret")).verdict(ExchangeRead {
            code: Some(spent.clone()),
            ..read()
        });
        assert!(matches!(verdict, Err(TokenError::InvalidGrant(_))));
        let ExchangeWrites::Revoke { grant_id, event } = writes else {
            panic!("{writes:?}");
        };
        assert_eq!(grant_id, "gr_0");
        assert_eq!(event.kind, EventKind::OidcCodeReuse);
        // Brought again by someone who cannot prove the client: nothing is revoked.
        let (writes, _) = trade(Some("wrong")).verdict(ExchangeRead {
            code: Some(spent),
            ..read()
        });
        assert!(matches!(writes, ExchangeWrites::Nothing));
    }
}
