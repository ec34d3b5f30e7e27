//! `/api/webauthn`: security keys and passkeys in FusionAuth's WebAuthn shapes. Registration is
//! `register/start` (the options for `navigator.credentials.create`) then `register/complete`
//! (the browser's answer); keys are listed by user and deleted by id; `start` then `assert`
//! proves a person holds one of their keys; `start` then `login` (`webauthn_login.rs`) finishes
//! a login's second factor with a key, or signs in with a passkey alone.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::ids::parse_user_id;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, ApiQuery, Caller, MaybeCaller, RequestOrigin};
use crate::store::CredentialRecord;
use crate::webauthn::{AssertionAnswer, Claimed, RegistrationAnswer};

/// What a ceremony is for (FusionAuth's `workflow`): `general`, a security key as a second
/// factor; `bootstrap`, a passkey that signs in alone; `reauthentication`, a key that proves
/// the person again (registered as a security key).
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Workflow {
    General,
    Bootstrap,
    Reauthentication,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterStartRequest {
    user_id: String,
    /// The key's name in the person's list (1 to 64 characters).
    name: String,
    /// The name the authenticator shows for the account; the username when left out.
    #[serde(default)]
    display_name: Option<String>,
    /// The browser's user agent, as FusionAuth takes it (not kept).
    #[serde(default)]
    user_agent: Option<String>,
    /// `bootstrap` registers a passkey (a resident key, user verification required), which
    /// also signs in alone; `general` and `reauthentication` a security key.
    workflow: Workflow,
}

/// `{"options": {"publicKey": …}}`, for `navigator.credentials.create` once its binary fields
/// (base64url here) are turned into `ArrayBuffer`s.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisterStartResponse {
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterCompleteRequest {
    user_id: String,
    /// The browser's `PublicKeyCredential`, binary fields in base64url.
    credential: RegistrationAnswer,
    /// Where the browser made it: this server's origin (its public URL).
    origin: String,
    /// This server's relying-party id.
    rp_id: String,
}

/// A key as the API shows it (FusionAuth's `WebAuthnCredential`, without the key itself).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    id: String,
    /// The authenticator's credential id, base64url.
    credential_id: String,
    user_id: String,
    name: String,
    display_name: String,
    /// Whether it signs in alone (a passkey); a security key is a second factor.
    discoverable: bool,
    sign_count: i64,
    /// Whether it may be copied to other devices (a synced passkey), and is.
    backup_eligible: bool,
    backed_up: bool,
    insert_instant: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_use_instant: Option<i64>,
}

impl From<&CredentialRecord> for CredentialView {
    fn from(key: &CredentialRecord) -> Self {
        Self {
            id: key.id.clone(),
            credential_id: key.credential_id.clone(),
            user_id: key.user_id.to_string(),
            name: key.name.clone(),
            display_name: key.display_name.clone(),
            discoverable: key.kind == "passkey",
            sign_count: key.counter,
            backup_eligible: key.backup_eligible,
            backed_up: key.backup_state,
            insert_instant: key.created_at.millis(),
            last_use_instant: key.last_used_at.map(|at| at.millis()),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialResponse {
    credential: CredentialView,
}

/// A registered key; with the user's first second factor, their recovery codes (shown once,
/// as FusionAuth's `recoveryCodes`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterCompleteResponse {
    credential: CredentialView,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CredentialsResponse {
    credentials: Vec<CredentialView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CredentialsQuery {
    /// The user whose keys to list (a UUID).
    user_id: String,
}

#[utoipa::path(
    post, path = "/api/webauthn/register/start", tag = "webauthn",
    security(("apiKey" = [])),
    request_body = RegisterStartRequest,
    responses(
        (status = 200, description = "The options for navigator.credentials.create; the challenge is kept five minutes, for one answer", body = RegisterStartResponse),
        (status = 400, description = "A field refused (`[blank]name`, `[invalid]userId`: no such active user, `workflow` not one of the three, `[forbidden]workflow`: the settings switch that kind of key off), or `[WebAuthnDisabled]`: the public URL has no domain name"),
    )
)]
pub async fn register_start(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<RegisterStartRequest>,
) -> Result<Json<RegisterStartResponse>, ApiError> {
    let user = parse_user_id(&body.user_id)?;
    let _ = body.user_agent;
    let (name, display_name, now) = (&body.name, body.display_name.as_deref(), Instant::now());
    let webauthn = &state.core.webauthn;
    let started = match body.workflow {
        Workflow::Bootstrap => {
            webauthn
                .start_passkey_registration(user, name, display_name, &origin, now)
                .await?
        }
        Workflow::General | Workflow::Reauthentication => {
            webauthn
                .start_registration(user, name, display_name, &origin, now)
                .await?
        }
    };
    let options = serde_json::to_value(&started.options).map_err(ApiError::internal)?;
    Ok(Json(RegisterStartResponse { options }))
}

#[utoipa::path(
    post, path = "/api/webauthn/register/complete", tag = "webauthn",
    security(("apiKey" = [])),
    request_body = RegisterCompleteRequest,
    responses(
        (status = 200, description = "The key, registered; the user's trusted computers are forgotten (a change of second factors). When it is the user's first second factor, `recoveryCodes` too, shown once", body = RegisterCompleteResponse),
        (status = 400, description = "A field refused, nothing written: `[invalid]origin` or `[invalid]rpId` (not this server's), `[invalid]credential.response.clientDataJSON` (not base64url or JSON, another origin, a challenge unknown, expired, used or another user's), `[invalid]credential.response.attestationObject` (not base64url or CBOR, another relying party, a signature refused), `[duplicate]credential`; or `[WebAuthnDisabled]`"),
    )
)]
pub async fn register_complete(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<RegisterCompleteRequest>,
) -> Result<Json<RegisterCompleteResponse>, ApiError> {
    let user = parse_user_id(&body.user_id)?;
    let claimed = Claimed {
        origin: &body.origin,
        rp_id: &body.rp_id,
    };
    let registered = state
        .core
        .webauthn
        .finish_registration(
            user,
            &body.credential,
            claimed,
            None,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(RegisterCompleteResponse {
        credential: (&registered.credential).into(),
        recovery_codes: registered.recovery_codes,
    }))
}

#[utoipa::path(
    get, path = "/api/webauthn", tag = "webauthn",
    security(("apiKey" = [])),
    params(CredentialsQuery),
    responses(
        (status = 200, description = "The user's keys, oldest first", body = CredentialsResponse),
        (status = 400, description = "`userId` missing or not a UUID"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiQuery(query): ApiQuery<CredentialsQuery>,
) -> Result<Json<CredentialsResponse>, ApiError> {
    let user = parse_user_id(&query.user_id)?;
    let keys = state.core.webauthn.credentials_of(user).await?;
    Ok(Json(CredentialsResponse {
        credentials: keys.iter().map(CredentialView::from).collect(),
    }))
}

#[utoipa::path(
    delete, path = "/api/webauthn/{id}", tag = "webauthn",
    security(("apiKey" = [])),
    params(("id" = String, Path, description = "The key's id (a UUID)")),
    responses(
        (status = 200, description = "The key, removed (no body); the user's trusted computers are forgotten, and their recovery codes with their last second factor"),
        (status = 404, description = "No such key (no body)"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let deleted = state
        .core
        .webauthn
        .delete(&id, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    if deleted {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::Empty(StatusCode::NOT_FOUND))
    }
}

/// What an assertion is begun for: a login's second factor (`twoFactorId`, `general`), a
/// passkey sign-in (`bootstrap`, `loginId` optional), or proof that a user holds one of their
/// keys (`userId`, `general` or `reauthentication`; an API key, or the user's own access token,
/// is needed).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartRequest {
    /// The user whose keys may answer (a UUID), for `assert`.
    #[serde(default)]
    user_id: Option<String>,
    /// A login waiting for its second factor (`POST /api/login`'s 242): its user's keys may
    /// answer, and `POST /api/webauthn/login` finishes it.
    #[serde(default)]
    two_factor_id: Option<String>,
    /// For `bootstrap`: the login id (username or email) of whoever signs in, whose passkeys
    /// the options name; left out, the browser offers the passkeys it holds for this site.
    #[serde(default)]
    login_id: Option<String>,
    workflow: Workflow,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssertRequest {
    /// The browser's `PublicKeyCredential`, binary fields in base64url.
    credential: AssertionAnswer,
    /// Where the browser made it: this server's origin (its public URL).
    origin: String,
    /// This server's relying-party id.
    rp_id: String,
}

#[utoipa::path(
    post, path = "/api/webauthn/start", tag = "webauthn",
    security((), ("apiKey" = [])),
    request_body = StartRequest,
    responses(
        (status = 200, description = "The options for navigator.credentials.get; the challenge is kept five minutes, for one answer. With `twoFactorId` (no API key needed): the login's user's keys allowed, for `POST /api/webauthn/login`. With `bootstrap` (no API key needed): user verification required, no credential named without `loginId`, for `POST /api/webauthn/login` without a `twoFactorId`. With `userId` (an API key, or that user's access token as `Bearer`): the user's keys allowed, for `POST /api/webauthn/assert`", body = RegisterStartResponse),
        (status = 400, description = "A field refused: `[invalid]userId` (not a UUID, no such active user, or not the user of the bearer token), `[noKeys]userId` or `[noKeys]twoFactorId` (no key to answer with), `[blank]userId` (neither a userId nor a twoFactorId), `[invalid]twoFactorId` or `[invalid]loginId` (not taken by this workflow), `loginId` not a username or email; or `[WebAuthnDisabled]`"),
        (status = 401, description = "A `userId` without a live API key or access token (no body)"),
        (status = 404, description = "The `twoFactorId` is unknown, finished or expired (no body)"),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiJson(body): ApiJson<StartRequest>,
) -> Result<Json<RegisterStartResponse>, ApiError> {
    let webauthn = &state.core.webauthn;
    let now = Instant::now();
    let started = match (body.workflow, body.two_factor_id, body.user_id) {
        (Workflow::Bootstrap, None, None) => {
            webauthn
                .start_passkey_login(body.login_id.as_deref(), now)
                .await?
        }
        (Workflow::Bootstrap, Some(_), _) => return Err(not_taken("twoFactorId", "bootstrap")),
        (Workflow::Bootstrap, None, Some(_)) => return Err(not_taken("userId", "bootstrap")),
        _ if body.login_id.is_some() => return Err(not_taken("loginId", "this workflow")),
        (Workflow::General, Some(id), None) => webauthn.start_second_factor(&id, now).await?,
        (Workflow::Reauthentication, Some(_), _) => {
            return Err(not_taken("twoFactorId", "reauthentication"));
        }
        (_, Some(_), Some(_)) => return Err(not_taken("userId", "a login's second factor")),
        (_, None, Some(user)) => {
            // Naming a user's keys is an administrator's (or the pages') business, or the
            // user's own, re-authenticating their session.
            let user = parse_user_id(&user)?;
            match caller {
                None => return Err(ApiError::Empty(StatusCode::UNAUTHORIZED)),
                Some(Caller::User(session)) if session.user.id != user => {
                    return Err(ApiError::field(
                        "userId",
                        "[invalid]",
                        "is not the user of this access token",
                    ));
                }
                Some(_) => {}
            }
            webauthn.start_assertion(user, now).await?
        }
        (_, None, None) => {
            return Err(ApiError::field(
                "userId",
                "[blank]",
                "give a userId, or a twoFactorId for a login's second factor",
            ));
        }
    };
    let options = serde_json::to_value(&started.options).map_err(ApiError::internal)?;
    Ok(Json(RegisterStartResponse { options }))
}

#[utoipa::path(
    post, path = "/api/webauthn/assert", tag = "webauthn",
    security(("apiKey" = []), ("bearer" = [])),
    request_body = AssertRequest,
    responses(
        (status = 200, description = "The key that signed, its counter moved forward. With the user's access token (`Bearer`), the challenge must be that user's, and the token's session is re-authenticated with the key (`hwk`, `mfa`, now), as a code's re-authentication is (`login.reauthenticate`): two-factor changes are open to it for the re-authentication window", body = CredentialResponse),
        (status = 401, description = "Neither a live API key nor a live access token (no body)"),
        (status = 403, description = "The token's session ended before the proof was written", body = crate::http::error::Errors),
        (status = 400, description = "A field refused, nothing written: `[invalid]origin`, `[invalid]rpId`, `[invalid]credential.response.clientDataJSON` (another origin, not an assertion, a challenge unknown, expired or used), `[invalid]credential.response.authenticatorData` (another relying party, not present), `[invalid]credential.response.signature`, `[invalid]credential.id` (not a key of the challenge's user), `[cloned]credential.response.authenticatorData` (the counter did not move forward: audited as `webauthn.clone_refused`); or `[WebAuthnDisabled]`"),
    )
)]
pub async fn assert(
    State(state): State<AppState>,
    caller: Caller,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<AssertRequest>,
) -> Result<Json<CredentialResponse>, ApiError> {
    let claimed = Claimed {
        origin: &body.origin,
        rp_id: &body.rp_id,
    };
    let session = match &caller {
        Caller::ApiKey(_) => None,
        Caller::User(user) => Some(&user.session),
    };
    let credential = state
        .core
        .webauthn
        .assert(&body.credential, claimed, session, &origin, Instant::now())
        .await?;
    Ok(Json(CredentialResponse {
        credential: (&credential).into(),
    }))
}

/// A field this workflow does not take.
fn not_taken(field: &str, workflow: &str) -> ApiError {
    ApiError::field(
        field,
        "[invalid]",
        format!("{workflow} does not take a {field}"),
    )
}
