//! Sessions and their tokens: opened after a login, refreshed, validated and ended. How long a
//! web session lives is `lifetime.rs`'s rule.

mod amr;
mod lifetime;

use std::time::Duration;

use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::{AccessTokenSigner, Claims, FormBinding, FormTokens, random};
use crate::domain::{LoginType, User, UserId};
use crate::store::{AuditStore, NewSession, SessionRecord, SessionStore, Store, UserStore};

pub use amr::with_second_factor;
pub use lifetime::{Standing, WebSessionLimits};

/// How tokens are issued.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// The `iss` of every token: the public URL.
    pub issuer: String,
    pub access_ttl_seconds: i64,
    /// How long an API session lives.
    pub refresh_ttl_seconds: i64,
    /// How long a web session lives.
    pub web: WebSessionLimits,
}

/// How long a proxied request may rely on what the database said of its session cookie
/// (`Sessions::recent_web_session`): a logout, an ended session or a disabled account counts
/// on every node within this.
pub const RECENT_WEB_SESSION: Duration = Duration::from_secs(1);
/// How many session cookies are remembered at once; a cookie forgotten early costs one query.
const RECENT_WEB_SESSIONS_KEPT: u64 = 20_000;

/// Sessions and the tokens that stand for them: opened after a login, refreshed, validated,
/// ended.
#[derive(Clone)]
pub struct Sessions {
    audit_store: AuditStore,
    session_store: SessionStore,
    user_store: UserStore,
    signer: AccessTokenSigner,
    tokens: TokenPolicy,
    forms: FormTokens,
    /// Session cookies as the database answered them, for at most `RECENT_WEB_SESSION`
    /// (shared by every clone).
    recent_web: moka::future::Cache<String, Option<(SessionRecord, User)>>,
}

impl Sessions {
    pub fn new(
        store: Store,
        signer: AccessTokenSigner,
        tokens: TokenPolicy,
        forms: FormTokens,
    ) -> Self {
        Self {
            audit_store: store.audit(),
            session_store: store.sessions(),
            user_store: store.users(),
            signer,
            tokens,
            forms,
            recent_web: moka::future::Cache::builder()
                .max_capacity(RECENT_WEB_SESSIONS_KEPT)
                .time_to_live(RECENT_WEB_SESSION)
                .build(),
        }
    }

    /// The CSRF token of the pages shown to the browser with this session (or pre-session).
    pub fn form_token(&self, binding: FormBinding<'_>) -> String {
        self.forms.token(binding)
    }

    /// Whether a form's CSRF token was made for the browser that sends it.
    pub fn form_token_fits(&self, binding: FormBinding<'_>, token: &str) -> bool {
        self.forms.fits(binding, token)
    }

    /// Whether a login of `kind` that asked "Remember me" opens a remembered session: a web
    /// login, where the configuration offers it.
    pub fn remembers(&self, kind: LoginType, remember_me: bool) -> bool {
        kind == LoginType::Web && self.tokens.web.remembers(remember_me)
    }
}

/// What a successful login or refresh hands the client.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub token: String,
    pub token_expires_at: Instant,
    pub refresh_token: String,
    /// The session id, which FusionAuth calls the refresh token id.
    pub refresh_token_id: String,
    /// A web session's cookie `Max-Age`: a remembered session's; none, for the browser's
    /// session, otherwise.
    pub cookie_max_age: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenAuthError {
    /// Bad signature, expired, revoked session, or a user who is gone or disabled.
    #[error("the token is not valid")]
    Invalid,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Sessions {
    /// Stores a session made by `new_session` and signs its first access token. The last-login
    /// time and the audit event commit with the session.
    pub(crate) async fn open_session(
        &self,
        user: &User,
        session: NewSession,
        refresh_token: String,
        event: &AuditEvent,
    ) -> anyhow::Result<IssuedTokens> {
        self.session_store.open_session(&session, event).await?;
        Ok(self.issue_tokens(user, &session, refresh_token))
    }

    /// A session to store, and the refresh token whose digest it keeps. `kind` is the login's
    /// type: a web login's session lives in the pages' cookie, for the web limits (longer when
    /// `remembered`, as `remembers` said); an API login's is refreshed through the API.
    // Each is a fact of the login, from both of its ends (a password's, a code's).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_session(
        &self,
        user: UserId,
        kind: LoginType,
        amr: Vec<String>,
        application_id: Option<String>,
        remembered: bool,
        origin: &Origin,
        now: Instant,
    ) -> (NewSession, String) {
        let refresh_token = random::ordered_token(now, 32);
        let remembered = remembered && kind == LoginType::Web;
        let expires_at = match kind {
            LoginType::Web => self.tokens.web.expires_at(remembered, now),
            LoginType::Api => now.plus_seconds(self.tokens.refresh_ttl_seconds),
        };
        let session = NewSession {
            id: random::ordered_token(now, 15),
            user_id: user,
            kind,
            amr,
            application_id,
            refresh_hash: random::ordered_lookup_digest(&refresh_token),
            now,
            expires_at,
            remembered,
            origin: origin.clone(),
        };
        (session, refresh_token)
    }

    /// The tokens that stand for a stored session: its refresh token, and an access token signed
    /// now.
    pub(crate) fn issue_tokens(
        &self,
        user: &User,
        session: &NewSession,
        refresh_token: String,
    ) -> IssuedTokens {
        let (token, token_expires_at) = self.sign_access_token(
            user,
            &session.id,
            &session.amr,
            session.application_id.clone(),
            session.now,
            session.now,
        );
        IssuedTokens {
            token,
            token_expires_at,
            refresh_token,
            refresh_token_id: session.id.clone(),
            cookie_max_age: lifetime::cookie_max_age(
                session.remembered,
                session.expires_at,
                session.now,
            ),
        }
    }

    fn sign_access_token(
        &self,
        user: &User,
        session_id: &str,
        amr: &[String],
        application_id: Option<String>,
        authenticated_at: Instant,
        now: Instant,
    ) -> (String, Instant) {
        let expires_at = now.plus_seconds(self.tokens.access_ttl_seconds);
        let claims = Claims {
            iss: self.tokens.issuer.clone(),
            sub: user.id.to_string(),
            aud: application_id,
            exp: expires_at.seconds(),
            iat: now.seconds(),
            auth_time: authenticated_at.seconds(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id.to_owned(),
            roles: user.roles.names().into_iter().map(str::to_owned).collect(),
            amr: amr.to_vec(),
            preferred_username: Some(user.username.to_string()),
        };
        (self.signer.sign(&claims), expires_at)
    }

    /// The session an access token names, if its signature holds and it has not expired.
    pub fn session_id_of(&self, token: &str, now: Instant) -> Option<String> {
        self.signer.verify(token, now).ok().map(|claims| claims.sid)
    }

    /// Checks an access token all the way: signature, expiry, a live session, an active user.
    pub async fn validate_access_token(
        &self,
        token: &str,
        now: Instant,
    ) -> Result<(Claims, User), TokenAuthError> {
        let (claims, user, _) = self.validate_access_token_session(token, now).await?;
        Ok((claims, user))
    }

    /// `validate_access_token`, with the session as stored now: what it proved and when, which
    /// a re-authentication may have changed since the token was signed.
    pub async fn validate_access_token_session(
        &self,
        token: &str,
        now: Instant,
    ) -> Result<(Claims, User, SessionRecord), TokenAuthError> {
        let claims = self
            .signer
            .verify(token, now)
            .map_err(|_| TokenAuthError::Invalid)?;
        let session = self
            .session_store
            .session(&claims.sid)
            .await
            .map_err(anyhow::Error::from)?
            .filter(|s| s.is_live(now))
            .ok_or(TokenAuthError::Invalid)?;
        let user = self.live_user(session.user_id).await?;
        if user.id.to_string() != claims.sub {
            return Err(TokenAuthError::Invalid);
        }
        Ok((claims, user, session))
    }

    /// Trades an API session's refresh token for a new access token and a new refresh token;
    /// the old refresh token stops working at once. A spent refresh token that comes back ends
    /// its session (OAuth 2.0 Security BCP, 4.14): one of the two holders of the token is a
    /// thief, and the server cannot tell which. A web session's cookie is refused here.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<(User, IssuedTokens), TokenAuthError> {
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            return Err(TokenAuthError::Invalid);
        }
        let old_hash = random::ordered_lookup_digest(refresh_token);
        let new_refresh = random::ordered_token(now, 32);
        let rotated = self
            .session_store
            .rotate_refresh_token(
                &old_hash,
                &random::ordered_lookup_digest(&new_refresh),
                LoginType::Api,
                now,
            )
            .await
            .map_err(anyhow::Error::from)?;
        let Some(session) = rotated else {
            self.end_session_of_spent_token(&old_hash, origin, now)
                .await?;
            return Err(TokenAuthError::Invalid);
        };
        let user = self.live_user(session.user_id).await?;
        let (token, token_expires_at) = self.sign_access_token(
            &user,
            &session.id,
            &session.amr,
            session.application_id.clone(),
            session.authenticated_at,
            now,
        );
        let event = AuditEvent::new(EventKind::TokenRefresh, Actor::User(user.id), origin, now)
            .target(user.id)
            .detail("sessionId", session.id.clone());
        if let Err(error) = self.audit_store.record_event(&event).await {
            tracing::error!(%error, "cannot write audit event");
        }
        Ok((
            user,
            IssuedTokens {
                token,
                token_expires_at,
                refresh_token: new_refresh,
                refresh_token_id: session.id,
                cookie_max_age: None,
            },
        ))
    }

    /// A refresh token that was refused: when it is one its session already traded in, the
    /// session ends, with every token of it, and the reuse is audited. A client that sends one
    /// token twice (a retry after a lost answer) ends its session too, as the BCP accepts.
    async fn end_session_of_spent_token(
        &self,
        token_hash: &str,
        origin: &Origin,
        now: Instant,
    ) -> anyhow::Result<()> {
        let Some((session, spent_at)) = self.session_store.spent_refresh_token(token_hash).await?
        else {
            return Ok(());
        };
        if session.revoked_at.is_some() {
            return Ok(());
        }
        let event = AuditEvent::new(EventKind::RefreshTokenReuse, Actor::Anonymous, origin, now)
            .detail("spentAt", spent_at.millis());
        let ended = self
            .session_store
            .revoke_session(Some(&session.id), None, &event)
            .await?;
        if ended.is_some() {
            tracing::warn!(target: "security", user = %session.user_id, "a spent refresh token came back: its session is ended");
        }
        Ok(())
    }

    /// Ends a session named by its refresh token or by an access token's session id; with
    /// `global`, ends every session of that user. Unknown tokens end nothing and are no error.
    /// The event names the session's user as actor and target: whoever holds a session's
    /// token acts as its user.
    pub async fn logout(
        &self,
        refresh_token: Option<&str>,
        session_id: Option<&str>,
        global: bool,
        origin: &Origin,
        now: Instant,
    ) -> anyhow::Result<()> {
        let refresh_hash = refresh_token.map(random::ordered_lookup_digest);
        let by_id = match session_id {
            Some(id) => self.session_store.session(id).await?,
            None => None,
        };
        let named = match (&by_id, refresh_hash.as_deref()) {
            (Some(session), _) => Some(session.clone()),
            (None, Some(hash)) => self.session_store.session_by_refresh_hash(hash).await?,
            (None, None) => None,
        };
        // A session's user never changes, so the one read here is the one ended below.
        let Some(named) = named else {
            return Ok(());
        };
        let event = AuditEvent::new(EventKind::Logout, Actor::User(named.user_id), origin, now)
            .target(named.user_id);
        let ended = self
            .session_store
            .revoke_session(session_id, refresh_hash.as_deref(), &event)
            .await?;
        if let Some(token) = refresh_token {
            self.recent_web.invalidate(token).await;
        }
        let user = match (&ended, by_id) {
            (Some(session), _) => Some(session.user_id),
            (None, by_id) => by_id.map(|s| s.user_id),
        };
        if global && let Some(user) = user {
            let event = AuditEvent::new(EventKind::Logout, Actor::User(user), origin, now)
                .target(user)
                .detail("global", true);
            self.session_store
                .revoke_user_sessions(user, &event)
                .await?;
        }
        Ok(())
    }

    async fn live_user(&self, id: UserId) -> Result<User, TokenAuthError> {
        self.user_store
            .user(id)
            .await
            .map_err(anyhow::Error::from)?
            .filter(|u| u.active)
            .ok_or(TokenAuthError::Invalid)
    }

    /// The live session and active user behind a session cookie: neither ended, expired nor
    /// idle (`lifetime::standing`). Its use is recorded when the last recorded one is a minute
    /// old.
    pub async fn web_session(
        &self,
        token: &str,
        now: Instant,
    ) -> anyhow::Result<Option<(SessionRecord, User)>> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let Some(mut session) = self
            .session_store
            .live_session_by_refresh_hash(
                &random::ordered_lookup_digest(token),
                LoginType::Web,
                now,
            )
            .await?
            .filter(|s| self.standing(s, now) == Standing::Live)
        else {
            return Ok(None);
        };
        if lifetime::activity_due(&session, now) {
            self.session_store.touch_session(&session.id, now).await?;
            session.last_seen_at = now;
        }
        let user = self
            .user_store
            .user(session.user_id)
            .await?
            .filter(|u| u.active);
        Ok(user.map(|u| (session, u)))
    }

    /// The live session and active user behind a session cookie, as the database said at most
    /// `RECENT_WEB_SESSION` ago: for the decision a reverse proxy asks on every request
    /// (forward-auth), which then costs neither a query nor a digest of the cookie. Concurrent
    /// requests with one cookie share one query; a logout on this node is forgotten at once.
    pub async fn recent_web_session(
        &self,
        token: &str,
        now: Instant,
    ) -> anyhow::Result<Option<(SessionRecord, User)>> {
        if token.is_empty() || token.len() > 256 {
            return Ok(None);
        }
        let found = self
            .recent_web
            .try_get_with(token.to_owned(), self.web_session(token, now))
            .await
            .map_err(|error| anyhow::anyhow!("{error:#}"))?;
        Ok(found.filter(|(session, _)| self.standing(session, now) == Standing::Live))
    }

    /// Where a web session stands at `now`, under the configured limits.
    pub fn standing(&self, session: &SessionRecord, now: Instant) -> Standing {
        lifetime::standing(session, &self.tokens.web, now)
    }

    /// Forgets what the database said of a cookie, so that the next `recent_web_session` reads
    /// it again.
    pub async fn forget_recent_web_session(&self, token: &str) {
        self.recent_web.invalidate(token).await;
    }

    /// A session that just proved a new second factor by adding it (a method's code, a key's
    /// registration) has used it: it counts as re-authenticated with `factor` (its `amr`).
    pub async fn credit_second_factor(
        &self,
        session: &SessionRecord,
        factor: &str,
        now: Instant,
    ) -> anyhow::Result<()> {
        let amr = vec!["pwd".to_owned(), factor.to_owned(), "mfa".to_owned()];
        Ok(self
            .session_store
            .reauthenticate_session(&session.id, &amr, now, None)
            .await?)
    }

    /// The user's sessions its holder could still use (`lifetime::still_usable`), newest first,
    /// with the address and browser each came from: an idle web session is not listed.
    pub async fn live_sessions(
        &self,
        user: UserId,
        now: Instant,
    ) -> anyhow::Result<Vec<(SessionRecord, Option<String>, Option<String>)>> {
        let mut sessions = self.session_store.live_sessions(user, now).await?;
        sessions.retain(|(session, _, _)| lifetime::still_usable(session, &self.tokens.web, now));
        Ok(sessions)
    }

    /// Ends one of the user's sessions.
    pub async fn end_session(
        &self,
        user: UserId,
        session_id: &str,
        origin: &Origin,
        now: Instant,
    ) -> anyhow::Result<bool> {
        let event = AuditEvent::new(EventKind::Logout, Actor::User(user), origin, now)
            .target(user)
            .detail("sessionId", session_id);
        Ok(self
            .session_store
            .end_user_session(user, session_id, &event)
            .await?)
    }
}
