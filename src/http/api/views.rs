//! The response types the JSON API's resources share: a user with their methods, the tokens of
//! a login, the 242 answer that asks for a second factor. Login, users and two-factor use them
//! from here, so none of those modules depends on another.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::clock::Instant;
use crate::domain::{Channel, Group, MethodKind, User};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::sessions::IssuedTokens;
use crate::store::{CredentialRecord, MethodRecord};

/// FusionAuth answers a pending second factor with this status.
pub const TWO_FACTOR_REQUIRED: u16 = 242;

/// A user as the API shows it: FusionAuth's field names, instants in epoch milliseconds, no
/// secret of any kind.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether `email` was proven the user's (FusionAuth's `verified`): only then is it a login
    /// id and where reset links go.
    pub verified: bool,
    /// When it was verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_instant: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    pub active: bool,
    pub roles: Vec<&'static str>,
    pub two_factor_required: bool,
    pub authy_migrated: bool,
    /// The password is temporary: the next login with it answers 203.
    pub password_change_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms_version_accepted: Option<i64>,
    pub insert_instant: i64,
    pub last_update_instant: i64,
    pub password_last_update_instant: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login_instant: Option<i64>,
    pub two_factor: TwoFactorView,
    /// The user's groups (FusionAuth's memberships), by the group's name: in the answers about
    /// a user (`GET /api/user/…`, a creation, a change), not in a login's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memberships: Option<Vec<MembershipView>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembershipView {
    pub group_id: String,
    pub insert_instant: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TwoFactorView {
    pub methods: Vec<MethodView>,
}

impl UserView {
    /// The user with their two-factor methods (never a secret).
    pub fn with_methods(user: &User, methods: &[MethodRecord]) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.to_string(),
            email: user.email.as_ref().map(|e| e.to_string()),
            verified: user.verified_email().is_some(),
            verified_instant: user
                .verified_email()
                .and(user.email_verified_at)
                .map(|i| i.millis()),
            full_name: user.full_name.as_ref().map(|n| n.as_str().to_owned()),
            mobile_phone: user.mobile_phone.as_ref().map(|p| p.e164().to_owned()),
            active: user.active,
            roles: user.roles.names(),
            two_factor_required: user.two_factor_required,
            authy_migrated: user.authy_migrated,
            password_change_required: user.password_change_required,
            terms_version_accepted: user.terms_version_accepted,
            insert_instant: user.created_at.millis(),
            last_update_instant: user.updated_at.millis(),
            password_last_update_instant: user.password_changed_at.millis(),
            last_login_instant: user.last_login_at.map(|i| i.millis()),
            two_factor: TwoFactorView {
                methods: MethodView::list(methods, false),
            },
            memberships: None,
        }
    }
}

impl UserView {
    /// The view with the user's groups and when they joined each.
    pub fn with_memberships(mut self, memberships: &[(Group, Instant)]) -> Self {
        self.memberships = Some(
            memberships
                .iter()
                .map(|(group, since)| MembershipView {
                    group_id: group.id.to_string(),
                    insert_instant: since.millis(),
                })
                .collect(),
        );
        self
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserResponse {
    pub user: UserView,
}

impl UserResponse {
    /// The user with their methods, read from the store.
    pub async fn of(state: &AppState, user: &User) -> Result<Json<Self>, ApiError> {
        let methods = state.core.two_factor.user_methods(user.id).await?;
        let memberships = state.core.groups.memberships_of(user.id).await?;
        Ok(Json(Self {
            user: UserView::with_methods(user, &methods).with_memberships(&memberships),
        }))
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub token: String,
    pub token_expiration_instant: i64,
    pub refresh_token: String,
    pub refresh_token_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
    /// A trusted computer's token: after `trustComputer`, or the new one of the trust that
    /// spared this login (the one the client sent is spent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_factor_trust_id: Option<String>,
}

impl TokenResponse {
    pub fn new(tokens: IssuedTokens, user: Option<UserView>) -> Self {
        Self {
            token: tokens.token,
            token_expiration_instant: tokens.token_expires_at.millis(),
            refresh_token: tokens.refresh_token,
            refresh_token_id: tokens.refresh_token_id,
            user,
            two_factor_trust_id: None,
        }
    }

    pub fn with_trust(mut self, trust: Option<String>) -> Self {
        self.two_factor_trust_id = trust;
        self
    }
}

/// A method as the API shows it: never a secret; in a login challenge, contact details masked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MethodView {
    id: String,
    method: MethodKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    last_used: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    authenticator: Option<AuthenticatorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mobile_phone: Option<String>,
    /// A phone's: how its codes come unless a send names another channel (`sms`, `call`,
    /// `whatsapp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    insert_instant: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_instant: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AuthenticatorView {
    algorithm: &'static str,
    code_length: u32,
    time_step: u32,
}

impl MethodView {
    /// Views of a user's methods; `lastUsed` marks the one used most recently.
    pub fn list(methods: &[MethodRecord], masked: bool) -> Vec<MethodView> {
        let latest = methods
            .iter()
            .filter_map(|m| m.last_used_at.map(|at| (at, &m.id)))
            .max_by_key(|(at, _)| *at)
            .map(|(_, id)| id.clone());
        methods
            .iter()
            .map(|m| MethodView {
                id: m.id.to_string(),
                method: m.kind,
                name: m.name.as_ref().map(|n| n.as_str().to_owned()),
                last_used: latest.as_ref() == Some(&m.id),
                authenticator: m.totp.map(|(algorithm, digits, period)| AuthenticatorView {
                    algorithm: algorithm.api_name(),
                    code_length: digits,
                    time_step: period,
                }),
                channel: m.channel,
                mobile_phone: m.mobile_phone.as_ref().map(|p| {
                    if masked {
                        p.masked()
                    } else {
                        p.e164().to_owned()
                    }
                }),
                email: m.email.as_ref().map(|e| e.to_string()),
                insert_instant: m.created_at.millis(),
                last_used_instant: m.last_used_at.map(|i| i.millis()),
            })
            .collect()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponse {
    pub two_factor_id: String,
    /// The methods whose code finishes the login (`POST /api/two-factor/login`), and the
    /// user's security keys and passkeys (`method: webauthn`), which finish it with
    /// `POST /api/webauthn/start` then `POST /api/webauthn/login`.
    pub methods: Vec<ChallengeMethod>,
}

/// A way to finish a login: a code's method, or a WebAuthn credential.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ChallengeMethod {
    Code(MethodView),
    Key(KeyMethodView),
}

/// What a login's challenge says of a security key or passkey: which one, never the key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyMethodView {
    /// The credential's id (as `GET /api/webauthn` lists it).
    id: String,
    method: KeyMethod,
    name: String,
    /// A passkey (which also signs in alone); else a security key.
    discoverable: bool,
    insert_instant: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_instant: Option<i64>,
}

/// Always `webauthn`.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyMethod {
    Webauthn,
}

/// FusionAuth's 242: the login waits for its second factor, a code of one of `methods` or one
/// of the user's `keys`.
pub fn challenge_response(
    two_factor_id: String,
    methods: &[MethodRecord],
    keys: &[CredentialRecord],
) -> Response {
    let status = StatusCode::from_u16(TWO_FACTOR_REQUIRED).unwrap_or(StatusCode::ACCEPTED);
    let mut listed: Vec<ChallengeMethod> = MethodView::list(methods, true)
        .into_iter()
        .map(ChallengeMethod::Code)
        .collect();
    listed.extend(keys.iter().map(|key| {
        ChallengeMethod::Key(KeyMethodView {
            id: key.id.clone(),
            method: KeyMethod::Webauthn,
            name: key.name.clone(),
            discoverable: key.kind == "passkey",
            insert_instant: key.created_at.millis(),
            last_used_instant: key.last_used_at.map(|at| at.millis()),
        })
    }));
    (
        status,
        Json(ChallengeResponse {
            two_factor_id,
            methods: listed,
        }),
    )
        .into_response()
}
