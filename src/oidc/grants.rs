//! What a grant's tokens do after the code: a refresh token renews the grant once and is
//! replaced (one that comes back after it was spent revokes the grant: RFC 6749 §10.4, the
//! OAuth Security BCP's reuse detection); an access token reads the person's claims at userinfo;
//! a client revokes its tokens (RFC 7009) and introspects them (RFC 7662). A grant lives until
//! it expires or is revoked, and, without `offline_access`, only as long as the sign-in's
//! session.

use super::claims::person_claims;
use super::token::{TokenError, TokenRequest, TokenResponse};
use super::{Oidc, OidcError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::random;
use crate::store::{ClientRecord, GrantRecord, RefreshSpend, SessionRecord};

/// What an access token is refused for at userinfo.
#[derive(Debug, thiserror::Error)]
pub enum UserInfo {
    #[error("the access token is not valid")]
    InvalidToken,
    #[error(transparent)]
    Internal(#[from] OidcError),
}

/// Whether a grant's tokens still work: unrevoked, unexpired, and (unless it is offline) while
/// the session it was granted from lives.
pub fn grant_live(grant: &GrantRecord, session: Option<&SessionRecord>, now: Instant) -> bool {
    grant.revoked_at.is_none()
        && now.millis() < grant.expires_at.millis()
        && (grant.offline || session.is_some_and(|s| s.is_live(now)))
}

impl Oidc {
    /// `grant_type=refresh_token`: new tokens for the grant, and the next refresh token.
    pub(super) async fn refresh(
        &self,
        client: &ClientRecord,
        request: &TokenRequest,
        origin: &Origin,
        now: Instant,
    ) -> Result<TokenResponse, TokenError> {
        let token = request
            .refresh_token
            .as_deref()
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or_else(|| TokenError::InvalidRequest("refresh_token is required".into()))?;
        let invalid = || TokenError::InvalidGrant("the refresh token is not valid".into());
        let token_hash = random::lookup_digest(token);
        let grant = self
            .oidc_store
            .refresh_token_grant(&token_hash)
            .await?
            .filter(|g| g.client_id == client.client_id)
            .ok_or_else(invalid)?;
        let narrowed = narrowed_scope(&grant.scope, request.scope.as_deref())
            .map_err(TokenError::InvalidRequest)?;
        if !self.live(&grant, now).await? {
            return Err(invalid());
        }
        if let Some(why) = self.refusal(client, grant.user).await? {
            let event = AuditEvent::new(
                EventKind::OidcAccessRefused,
                Actor::User(grant.user),
                origin,
                now,
            )
            .target(grant.user)
            .detail("clientId", client.client_id.clone())
            .detail("grantId", grant.id.clone())
            .detail("reason", why.reason);
            self.oidc_store.revoke_grant(&grant.id, &event).await?;
            return Err(TokenError::InvalidGrant(format!(
                "{}; the grant is revoked",
                why.description
            )));
        }
        let next = random::token(32);
        let event = AuditEvent::new(
            EventKind::OidcTokenRefresh,
            Actor::User(grant.user),
            origin,
            now,
        )
        .target(grant.user)
        .detail("clientId", client.client_id.clone())
        .detail("grantId", grant.id.clone());
        match self
            .oidc_store
            .spend_refresh_token(&token_hash, &random::lookup_digest(&next), &event)
            .await?
        {
            RefreshSpend::Rotated(_) => {}
            RefreshSpend::AlreadySpent(grant_id) => {
                let reuse =
                    AuditEvent::new(EventKind::OidcRefreshReuse, Actor::Anonymous, origin, now)
                        .target(grant.user)
                        .detail("clientId", client.client_id.clone())
                        .detail("grantId", grant_id.clone());
                self.oidc_store.revoke_grant(&grant_id, &reuse).await?;
                return Err(TokenError::InvalidGrant(
                    "the refresh token was used already; the grant is revoked".into(),
                ));
            }
            RefreshSpend::Unknown => return Err(invalid()),
        }
        let user = self
            .user_store
            .user(grant.user)
            .await?
            .filter(|u| u.active)
            .ok_or_else(invalid)?;
        let scoped = GrantRecord {
            scope: narrowed,
            ..grant
        };
        self.issue(client, &scoped, &user, None, next, now).await
    }

    /// The claims an access token may read: the person's, by the token's scope, while its
    /// grant lives.
    pub async fn userinfo(
        &self,
        access_token: &str,
        now: Instant,
    ) -> Result<serde_json::Value, UserInfo> {
        let Some((grant, claims)) = self.access_token_grant(access_token, now).await? else {
            return Err(UserInfo::InvalidToken);
        };
        let scope = claims["scope"].as_str().unwrap_or_default();
        let user = self
            .user_store
            .user(grant.user)
            .await
            .map_err(OidcError::from)?
            .filter(|u| u.active)
            .ok_or(UserInfo::InvalidToken)?;
        let groups = self.group_names(user.id, scope).await?;
        Ok(person_claims(&user, scope, &groups))
    }

    /// Revokes the grant of a refresh or access token the client holds (RFC 7009): the same
    /// answer whether the token was known, so a client learns nothing of others' tokens.
    pub async fn revoke(
        &self,
        request: &TokenRequest,
        auth: &super::ClientAuth,
        token: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TokenError> {
        let client = self.authenticate_client(request, auth).await?;
        let grant = match self
            .oidc_store
            .refresh_token_grant(&random::lookup_digest(token))
            .await?
        {
            Some(grant) => Some(grant),
            None => self.signed_grant(token).await?.map(|(grant, _)| grant),
        };
        if let Some(grant) = grant.filter(|g| g.client_id == client.client_id) {
            let event = AuditEvent::new(EventKind::OidcGrantRevoke, Actor::Anonymous, origin, now)
                .target(grant.user)
                .detail("clientId", client.client_id.clone())
                .detail("grantId", grant.id.clone())
                .detail("by", "client");
            self.oidc_store.revoke_grant(&grant.id, &event).await?;
        }
        Ok(())
    }

    /// Introspection (RFC 7662), for a confidential client: whether a token of this client is
    /// active, and what it says. A token of another client reads as inactive.
    pub async fn introspect(
        &self,
        request: &TokenRequest,
        auth: &super::ClientAuth,
        token: &str,
        now: Instant,
    ) -> Result<serde_json::Value, TokenError> {
        let client = self.authenticate_client(request, auth).await?;
        // A public client proves nothing by its id: introspection is for confidential ones.
        if client.secret_hash.is_none() {
            return Err(TokenError::InvalidClient {
                basic: auth.basic.is_some(),
            });
        }
        let inactive = serde_json::json!({"active": false});
        if let Some(grant) = self
            .oidc_store
            .refresh_token_grant(&random::lookup_digest(token))
            .await?
        {
            if grant.client_id != client.client_id || !self.live(&grant, now).await? {
                return Ok(inactive);
            }
            return Ok(serde_json::json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": grant.client_id,
                "sub": grant.user.to_string(),
                "scope": grant.scope,
                "exp": grant.expires_at.millis() / 1000,
                "iss": self.issuer,
            }));
        }
        match self.access_token_grant(token, now).await? {
            Some((grant, claims)) if grant.client_id == client.client_id => Ok(serde_json::json!({
                "active": true,
                "token_type": "access_token",
                "client_id": grant.client_id,
                "sub": grant.user.to_string(),
                "scope": claims["scope"],
                "exp": claims["exp"],
                "iat": claims["iat"],
                "iss": self.issuer,
                "aud": grant.client_id,
            })),
            _ => Ok(inactive),
        }
    }

    /// The live grant of a valid, unexpired access token, and the token's claims (its `scope`
    /// among them).
    async fn access_token_grant(
        &self,
        token: &str,
        now: Instant,
    ) -> Result<Option<(GrantRecord, serde_json::Value)>, OidcError> {
        let Some((grant, claims)) = self.signed_grant(token).await? else {
            return Ok(None);
        };
        let (Some(_), Some(exp)) = (claims["scope"].as_str(), claims["exp"].as_i64()) else {
            return Ok(None);
        };
        if exp <= now.millis() / 1000 || !self.live(&grant, now).await? {
            return Ok(None);
        }
        Ok(Some((grant, claims)))
    }

    /// The grant an access token signed here names, with its claims, whatever its state. An ID
    /// token names none: it is not an access token.
    async fn signed_grant(
        &self,
        token: &str,
    ) -> Result<Option<(GrantRecord, serde_json::Value)>, OidcError> {
        let Ok(claims) = self.keys().await?.verify(token) else {
            return Ok(None);
        };
        if claims["iss"].as_str() != Some(self.issuer.as_str()) {
            return Ok(None);
        }
        let Some(grant_id) = claims["gid"].as_str() else {
            return Ok(None);
        };
        Ok(self
            .oidc_store
            .grant(grant_id)
            .await?
            .filter(|g| Some(g.user.to_string().as_str()) == claims["sub"].as_str())
            .map(|g| (g, claims)))
    }

    async fn live(&self, grant: &GrantRecord, now: Instant) -> Result<bool, OidcError> {
        let session = if grant.offline {
            None
        } else {
            self.session_store.session(&grant.session_id).await?
        };
        Ok(grant_live(grant, session.as_ref(), now))
    }
}

/// The scope a refresh asks for: the grant's, or fewer of its scopes (RFC 6749 §6).
fn narrowed_scope(granted: &str, asked: Option<&str>) -> Result<String, String> {
    let Some(asked) = asked.filter(|a| !a.trim().is_empty()) else {
        return Ok(granted.to_owned());
    };
    let granted: Vec<&str> = granted.split_ascii_whitespace().collect();
    for scope in asked.split_ascii_whitespace() {
        if !granted.contains(&scope) {
            return Err(format!("the scope {scope} was not granted"));
        }
    }
    Ok(asked.split_ascii_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn grant(offline: bool) -> GrantRecord {
        GrantRecord {
            id: "gr_1".into(),
            client_id: "app".into(),
            user: UserId::new(),
            session_id: "s".into(),
            scope: "openid profile".into(),
            auth_time: Instant::from_millis(0),
            amr: vec!["pwd".into()],
            offline,
            created_at: Instant::from_millis(0),
            expires_at: Instant::from_millis(10_000),
            revoked_at: None,
        }
    }

    fn session(revoked: bool) -> SessionRecord {
        SessionRecord {
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

    #[test]
    fn a_grant_lives_with_its_session_unless_it_is_offline() {
        let now = Instant::from_millis(5_000);
        assert!(grant_live(&grant(false), Some(&session(false)), now));
        assert!(!grant_live(&grant(false), Some(&session(true)), now));
        assert!(!grant_live(&grant(false), None, now));
        assert!(
            grant_live(&grant(true), None, now),
            "offline_access outlives the session"
        );
        assert!(!grant_live(
            &grant(true),
            None,
            Instant::from_millis(10_000)
        ));
        let revoked = GrantRecord {
            revoked_at: Some(Instant::from_millis(1)),
            ..grant(true)
        };
        assert!(!grant_live(&revoked, None, now));
    }

    #[test]
    fn a_refresh_may_ask_for_fewer_scopes_never_more() {
        assert_eq!(
            narrowed_scope("openid profile", None),
            Ok("openid profile".into())
        );
        assert_eq!(
            narrowed_scope("openid profile", Some("openid")),
            Ok("openid".into())
        );
        assert!(narrowed_scope("openid", Some("openid email")).is_err());
    }
}
