//! `/api/webauthn`: security keys and passkeys in FusionAuth's WebAuthn shapes. Registration is
//! `register/start` (the options for `navigator.credentials.create`) then `register/complete`
//! (the browser's answer), for a user named with an API key or, with its `twoFactorId`, for the
//! user of a login that must enrol a second factor, which the key then completes; keys are
//! listed by user and deleted by id; `start` then `assert`
//! proves a person holds one of their keys; `start` then `login` (`webauthn_login.rs`) finishes
//! a login's second factor with a key, or signs in with a passkey alone.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ids::{parse_application_id, parse_user_id};
use super::views::{TokenResponse, UserView};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::UserId;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{
    ApiJson, ApiKeyAuth, ApiQuery, Caller, MaybeApiKey, MaybeCaller, RequestOrigin,
    apply_claimed_ip,
};
use crate::store::CredentialRecord;
use crate::two_factor::KeyLogin;
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
    /// The user whose key it is (a UUID); with an API key. Left out beside a `twoFactorId`.
    #[serde(default)]
    user_id: Option<String>,
    /// A login that must enrol a second factor first (`POST /api/login`'s 242 for a user
    /// without one): the key is its user's, and no API key is needed.
    #[serde(default)]
    two_factor_id: Option<String>,
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
    /// The user whose key it is (a UUID); with an API key. Left out beside a `twoFactorId`.
    #[serde(default)]
    user_id: Option<String>,
    /// The login whose `register/start` began this registration: the key completes it.
    #[serde(default)]
    two_factor_id: Option<String>,
    /// The browser's `PublicKeyCredential`, binary fields in base64url.
    credential: RegistrationAnswer,
    /// Where the browser made it: this server's origin (its public URL).
    origin: String,
    /// This server's relying-party id.
    rp_id: String,
    /// With a `twoFactorId`: trust this computer, as `POST /api/two-factor/login` does.
    #[serde(default)]
    trust_computer: bool,
    /// With a `twoFactorId`: the application the login's session is for.
    #[serde(default)]
    application_id: Option<String>,
    /// With a `twoFactorId`: the end user's address when an application logs in for them.
    #[serde(default)]
    ip_address: Option<String>,
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

/// A key registered during a login, and the login it completed: `POST /api/two-factor/login`'s
/// answer (`token`, `refreshToken`, `user`, `twoFactorTrustId`…) with the key and the
/// recovery codes, shown once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterLoginResponse {
    #[serde(flatten)]
    login: TokenResponse,
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
    security(("apiKey" = []), ()),
    request_body = RegisterStartRequest,
    responses(
        (status = 200, description = "The options for navigator.credentials.create; the challenge is kept five minutes, for one answer. With `twoFactorId` (no API key needed): a key for the user of a login that must enrol a second factor, the ceremony bound to that login, for `register/complete` with the same `twoFactorId`", body = RegisterStartResponse),
        (status = 400, description = "A field refused (`[blank]name`, `[invalid]userId`: no such active user, `[blank]userId`: neither a userId nor a twoFactorId, `[invalid]userId` beside a twoFactorId, `workflow` not one of the three, `[disabled]workflow`: a kind of key this login may not enrol, `[forbidden]workflow`: the settings switch that kind of key off), or `[WebAuthnDisabled]`: the public URL has no domain name"),
        (status = 401, description = "A `userId` without a live API key (no body)"),
        (status = 403, description = "The login's user has a second factor already: the login is finished with it", body = crate::http::error::Errors),
        (status = 404, description = "The `twoFactorId` is unknown, finished, expired or out of attempts (no body)"),
        (status = 429, description = "`[TooManyRequests]`: too many ceremonies begun for this user lately (`webauthn.ceremonies_per_user`); nothing kept, `Retry-After` says when to try again"),
    )
)]
pub async fn register_start(
    State(state): State<AppState>,
    MaybeApiKey(key): MaybeApiKey,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<RegisterStartRequest>,
) -> Result<Json<RegisterStartResponse>, ApiError> {
    let _ = body.user_agent;
    let (name, display_name, now) = (&body.name, body.display_name.as_deref(), Instant::now());
    let webauthn = &state.core.webauthn;
    let passkey = matches!(body.workflow, Workflow::Bootstrap);
    let started = match registrant(body.user_id.as_deref(), body.two_factor_id, key.is_some())? {
        Registrant::Login(id) => {
            webauthn
                .start_registration_at_login(&id, (name, display_name), passkey, &origin, now)
                .await?
        }
        Registrant::User(user) if passkey => {
            webauthn
                .start_passkey_registration(user, name, display_name, &origin, now)
                .await?
        }
        Registrant::User(user) => {
            webauthn
                .start_registration(user, name, display_name, &origin, now)
                .await?
        }
    };
    let options = serde_json::to_value(&started.options).map_err(ApiError::internal)?;
    Ok(Json(RegisterStartResponse { options }))
}

/// Whose key a registration makes: a user's, named with an API key, or a login's user, named
/// by its `twoFactorId` alone.
enum Registrant {
    User(UserId),
    Login(String),
}

fn registrant(
    user_id: Option<&str>,
    two_factor_id: Option<String>,
    api_key: bool,
) -> Result<Registrant, ApiError> {
    match (user_id, two_factor_id) {
        (Some(_), Some(_)) => Err(not_taken("userId", "a login's enrolment")),
        (None, Some(id)) if id.is_empty() || id.len() > 128 => {
            Err(ApiError::Empty(StatusCode::NOT_FOUND))
        }
        (None, Some(id)) => Ok(Registrant::Login(id)),
        (Some(_), None) if !api_key => Err(ApiError::Empty(StatusCode::UNAUTHORIZED)),
        (Some(user), None) => Ok(Registrant::User(parse_user_id(user)?)),
        (None, None) => Err(ApiError::field(
            "userId",
            "[blank]",
            "give a userId, or the twoFactorId of a login that must enrol a second factor",
        )),
    }
}

#[utoipa::path(
    post, path = "/api/webauthn/register/complete", tag = "webauthn",
    security(("apiKey" = []), ()),
    request_body = RegisterCompleteRequest,
    responses(
        (status = 200, description = "The key, registered; the user's trusted computers are forgotten (a change of second factors). When it is the user's first second factor, `recoveryCodes` too, shown once. With `twoFactorId` (no API key needed): the login is completed too, and the answer is `POST /api/two-factor/login`'s (`token`, `refreshToken`, `user`, `twoFactorTrustId` when `trustComputer` was asked for) with `credential` and `recoveryCodes` beside it; the session's `amr` is `pwd`, `hwk`, `mfa`", body = RegisterCompleteResponse),
        (status = 400, description = "A field refused, nothing written: `[invalid]origin` or `[invalid]rpId` (not this server's), `[invalid]credential.response.clientDataJSON` (not base64url or JSON, another origin, a challenge unknown, expired, used, another user's or another login's), `[invalid]credential.response.attestationObject` (not base64url or CBOR, another relying party, a signature refused), `[duplicate]credential`, `[blank]userId`; or `[WebAuthnDisabled]`"),
        (status = 401, description = "A `userId` without a live API key (no body)"),
        (status = 403, description = "With `twoFactorId`: the login's user has a second factor already (enrolled meanwhile by another request): nothing written", body = crate::http::error::Errors),
        (status = 404, description = "With `twoFactorId`: the login is unknown, finished, expired, out of attempts, or enrolled another factor meanwhile: nothing written (no body)"),
        (status = 429, description = "With `twoFactorId`: too many wrong codes for this account", body = crate::http::error::Errors),
    )
)]
pub async fn register_complete(
    State(state): State<AppState>,
    MaybeApiKey(key): MaybeApiKey,
    headers: HeaderMap,
    RequestOrigin(mut origin): RequestOrigin,
    ApiJson(body): ApiJson<RegisterCompleteRequest>,
) -> Result<Response, ApiError> {
    let claimed = Claimed {
        origin: &body.origin,
        rp_id: &body.rp_id,
    };
    let now = Instant::now();
    let webauthn = &state.core.webauthn;
    let user = match registrant(body.user_id.as_deref(), body.two_factor_id, key.is_some())? {
        Registrant::User(user) => user,
        Registrant::Login(two_factor_id) => {
            apply_claimed_ip(&state, &headers, body.ip_address.as_deref(), &mut origin).await?;
            let request = KeyLogin {
                two_factor_id,
                trust_computer: body.trust_computer,
                application_id: parse_application_id(body.application_id.as_deref())?,
                browser_id: None,
            };
            let (registered, done) = webauthn
                .enrol_key_and_log_in(&request, &body.credential, claimed, &origin, now)
                .await?;
            let login = TokenResponse::new(
                done.tokens,
                Some(UserView::with_methods(&done.user, &done.methods)),
            )
            .with_trust(done.trust_token.map(|trust| trust.token));
            return Ok(Json(RegisterLoginResponse {
                login,
                credential: (&registered.credential).into(),
                recovery_codes: registered.recovery_codes,
            })
            .into_response());
        }
    };
    let Some(key) = key else {
        return Err(ApiError::Empty(StatusCode::UNAUTHORIZED));
    };
    let registered = webauthn
        .finish_registration(
            user,
            &body.credential,
            claimed,
            None,
            Actor::ApiKey(key.id),
            &origin,
            now,
        )
        .await?;
    Ok(Json(RegisterCompleteResponse {
        credential: (&registered.credential).into(),
        recovery_codes: registered.recovery_codes,
    })
    .into_response())
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
        (status = 429, description = "`[TooManyRequests]`: too many ceremonies begun lately from this client address (without a `userId`: `webauthn.ceremonies_per_address`) or for this user (`webauthn.ceremonies_per_user`); none begun, nothing kept, `Retry-After` says when to try again"),
    )
)]
pub async fn start(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<StartRequest>,
) -> Result<Json<RegisterStartResponse>, ApiError> {
    let webauthn = &state.core.webauthn;
    let now = Instant::now();
    let started = match (body.workflow, body.two_factor_id, body.user_id) {
        (Workflow::Bootstrap, None, None) => {
            webauthn
                .start_passkey_login(body.login_id.as_deref(), &origin, now)
                .await?
        }
        (Workflow::Bootstrap, Some(_), _) => return Err(not_taken("twoFactorId", "bootstrap")),
        (Workflow::Bootstrap, None, Some(_)) => return Err(not_taken("userId", "bootstrap")),
        _ if body.login_id.is_some() => return Err(not_taken("loginId", "this workflow")),
        (Workflow::General, Some(id), None) => {
            webauthn.start_second_factor(&id, &origin, now).await?
        }
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
