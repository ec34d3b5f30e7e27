//! The two-factor API, in FusionAuth's current shapes (methods, recovery codes, trust) with the
//! legacy seed-004 shapes (`delivery`, `secret`) accepted too.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::login::{TokenResponse, parse_application_id};
use super::users::{UserView, parse_user_id};
use crate::accounts::FieldError;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{Email, Invalid, MethodId, MethodKind, MethodName, PhoneNumber, UserId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{
    ApiJson, ApiKeyAuth, ApiQuery, Caller, OptionalApiJson, RequestOrigin, SessionUser,
};
use crate::otp::TotpSecret;
use crate::policy::TwoFactorPolicy;
use crate::store::{MethodRecord, TrustRecord};
use crate::two_factor::{CompleteLogin, EnableMethod, TwoFactorError};
use crate::verify::{Destination, VerifyError};

/// FusionAuth answers a pending second factor with this status.
pub const TWO_FACTOR_REQUIRED: u16 = 242;

impl From<TwoFactorError> for ApiError {
    fn from(error: TwoFactorError) -> Self {
        match error {
            TwoFactorError::Invalid(fields) => ApiError::Fields(fields),
            TwoFactorError::WrongCode => ApiError::Empty(StatusCode::MISDIRECTED_REQUEST),
            TwoFactorError::UnknownChallenge | TwoFactorError::UserNotFound => {
                ApiError::Empty(StatusCode::NOT_FOUND)
            }
            TwoFactorError::Forbidden(message) => {
                ApiError::general(StatusCode::FORBIDDEN, "[forbidden]", message)
            }
            TwoFactorError::TooManyFailures {
                retry_after_seconds,
            } => ApiError::general(
                StatusCode::TOO_MANY_REQUESTS,
                "[TooManyTwoFactorFailures]",
                format!(
                    "too many wrong second-factor codes for this account; try again in {} minutes",
                    (retry_after_seconds + 59) / 60
                ),
            ),
            TwoFactorError::Delivery(e) => ApiError::from(e),
            TwoFactorError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<VerifyError> for ApiError {
    /// In this API's shape, with Twilio's error code as the error's code.
    fn from(error: VerifyError) -> Self {
        let code = error.twilio_code().to_string();
        let message = error.to_string();
        match error {
            VerifyError::Invalid { param, .. } => {
                let field = match param {
                    "To" => "mobilePhone",
                    "Channel" => "method",
                    "Code" => "code",
                    other => other,
                };
                ApiError::field(field, "[invalid]", message)
            }
            VerifyError::MaxSendAttempts
            | VerifyError::RateLimited { .. }
            | VerifyError::BucketFull { .. }
            | VerifyError::MaxCheckAttempts
            | VerifyError::ChallengeAttempts
            | VerifyError::FactorLocked { .. } => {
                ApiError::general(StatusCode::TOO_MANY_REQUESTS, &code, message)
            }
            VerifyError::NotFound | VerifyError::NoSuchResource => {
                ApiError::Empty(StatusCode::NOT_FOUND)
            }
            VerifyError::Refused(_) => ApiError::general(StatusCode::FORBIDDEN, &code, message),
            VerifyError::Delivery {
                code: Some(60410 | 60605 | 60205),
                ..
            } => ApiError::general(StatusCode::FORBIDDEN, &code, message),
            VerifyError::Delivery {
                code: Some(60203), ..
            } => ApiError::general(StatusCode::TOO_MANY_REQUESTS, &code, message),
            VerifyError::Delivery { .. }
            | VerifyError::Missing(_)
            | VerifyError::Unsupported(_)
            | VerifyError::InvalidUniqueName
            | VerifyError::TooManyRateLimits
            | VerifyError::DuplicateRateLimit
            | VerifyError::TooManyBuckets
            | VerifyError::DuplicateBucket => {
                ApiError::general(StatusCode::BAD_REQUEST, &code, message)
            }
            VerifyError::Internal(e) => ApiError::Internal(e),
        }
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
    pub methods: Vec<MethodView>,
}

pub fn challenge_response(two_factor_id: String, methods: &[MethodRecord]) -> Response {
    let status = StatusCode::from_u16(TWO_FACTOR_REQUIRED).unwrap_or(StatusCode::ACCEPTED);
    (
        status,
        Json(ChallengeResponse {
            two_factor_id,
            methods: MethodView::list(methods, true),
        }),
    )
        .into_response()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretResponse {
    secret: String,
    secret_base32_encoded: String,
}

/// `GET /api/two-factor/secret`: a fresh 160-bit secret in both encodings (nothing is stored).
#[utoipa::path(
    get, path = "/api/two-factor/secret", tag = "two-factor",
    security(("apiKey" = []), ("bearer" = [])),
    responses((status = 200, description = "A fresh 160-bit TOTP key in both encodings", body = SecretResponse))
)]
pub async fn secret(_caller: Caller) -> Json<SecretResponse> {
    let secret = TotpSecret::generate();
    Json(SecretResponse {
        secret: secret.to_base64(),
        secret_base32_encoded: secret.to_base32(),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwoFactorLoginBody {
    two_factor_id: String,
    code: String,
    #[serde(default)]
    trust_computer: bool,
    application_id: Option<String>,
    ip_address: Option<String>,
    #[serde(rename = "noJWT")]
    #[allow(dead_code)]
    no_jwt: Option<bool>,
    #[allow(dead_code)]
    meta_data: Option<serde_json::Value>,
    #[allow(dead_code)]
    user_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorLoginResponse {
    #[serde(flatten)]
    tokens: TokenResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    two_factor_trust_id: Option<String>,
}

/// `POST /api/two-factor/login`: 200 with tokens; 421 for a wrong code; 404 when the
/// `twoFactorId` is unknown, expired, finished or out of attempts.
#[utoipa::path(
    post, path = "/api/two-factor/login", tag = "two-factor",
    request_body = TwoFactorLoginBody,
    responses(
        (status = 200, description = "Logged in", body = TwoFactorLoginResponse),
        (status = 403, description = "The code cannot be used here", body = crate::http::error::Errors),
        (status = 404, description = "The twoFactorId is unknown, spent or expired (no body)"),
        (status = 421, description = "The code is wrong (no body)"),
        (status = 429, description = "Too many wrong codes for this account", body = crate::http::error::Errors),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    RequestOrigin(mut origin): RequestOrigin,
    ApiJson(body): ApiJson<TwoFactorLoginBody>,
) -> Result<Json<TwoFactorLoginResponse>, ApiError> {
    let application_id = parse_application_id(body.application_id.as_deref())?;
    if let Some(ip) = &body.ip_address {
        let ip: IpAddr = ip.trim().parse().map_err(|_| {
            ApiError::field("ipAddress", "[invalid]", "ipAddress must be an IP address")
        })?;
        origin.ip = Some(ip.to_string());
    }
    if body.two_factor_id.is_empty() || body.two_factor_id.len() > 128 {
        return Err(ApiError::Empty(StatusCode::NOT_FOUND));
    }
    let request = CompleteLogin {
        two_factor_id: body.two_factor_id,
        code: body.code,
        trust_computer: body.trust_computer,
        application_id,
    };
    let done = state
        .core
        .complete_login(&request, &origin, Instant::now())
        .await?;
    Ok(Json(TwoFactorLoginResponse {
        tokens: TokenResponse::new(
            done.tokens,
            Some(UserView::with_methods(&done.user, &done.methods)),
        ),
        two_factor_trust_id: done.trust_token,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnableBody {
    code: String,
    method: Option<String>,
    /// Legacy (seed 004): `None` is an authenticator, `TextMessage` is SMS.
    delivery: Option<String>,
    secret: Option<String>,
    secret_base32_encoded: Option<String>,
    mobile_phone: Option<String>,
    email: Option<String>,
    name: Option<String>,
    two_factor_id: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
}

impl EnableBody {
    fn parse(&self) -> Result<EnableMethod, ApiError> {
        let mut errors = Vec::new();
        let mut note = |field: &str, e: Invalid| errors.push(FieldError::new(field, e));
        let kind = match (&self.method, &self.delivery) {
            (Some(method), _) => method
                .parse::<MethodKind>()
                .map_err(|e| note("method", e))
                .ok(),
            (None, Some(delivery)) => match delivery.as_str() {
                "None" => Some(MethodKind::Authenticator),
                "TextMessage" => Some(MethodKind::Sms),
                other => {
                    note(
                        "delivery",
                        Invalid::new(
                            "[invalid]",
                            format!("unknown delivery {other:?}; use None or TextMessage"),
                        ),
                    );
                    None
                }
            },
            (None, None) => Some(MethodKind::Authenticator),
        };
        let from_base32 = self
            .secret_base32_encoded
            .as_deref()
            .map(TotpSecret::from_base32)
            .transpose()
            .map_err(|e| note("secretBase32Encoded", e))
            .ok()
            .flatten();
        let from_base64 = self
            .secret
            .as_deref()
            .map(TotpSecret::from_base64)
            .transpose()
            .map_err(|e| note("secret", e))
            .ok()
            .flatten();
        let secret = match (from_base32, from_base64) {
            (Some(a), Some(b)) if a != b => {
                note(
                    "secret",
                    Invalid::new(
                        "[mismatch]",
                        "secret and secretBase32Encoded encode different keys",
                    ),
                );
                None
            }
            (a, b) => a.or(b),
        };
        let name = self
            .name
            .as_deref()
            .map(MethodName::parse)
            .transpose()
            .map_err(|e| note("name", e))
            .ok()
            .flatten();
        let mobile_phone = self
            .mobile_phone
            .as_deref()
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(|e| note("mobilePhone", e))
            .ok()
            .flatten();
        let email = self
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|e| note("email", e))
            .ok()
            .flatten();
        match kind {
            Some(kind) if errors.is_empty() => Ok(EnableMethod {
                kind,
                code: self.code.clone(),
                secret,
                name,
                mobile_phone,
                email,
            }),
            _ => Err(ApiError::Fields(errors)),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnableResponse {
    method_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
    /// With `twoFactorId`: the code that completes the login at `/api/two-factor/login`.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

/// `POST /api/user/two-factor/{userId}` with an API key.
#[utoipa::path(
    post, path = "/api/user/two-factor/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body = EnableBody,
    responses(
        (status = 200, description = "The method is enabled; the user's first method also returns recovery codes (shown once)", body = EnableResponse),
        (status = 403, description = "Refused (no recent login, or the method is switched off)", body = crate::http::error::Errors),
        (status = 404, description = "No such user or login (no body)"),
        (status = 421, description = "The code is wrong (no body)"),
        (status = 429, description = "Too many wrong codes", body = crate::http::error::Errors),
    )
)]
pub async fn enable_for_user(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<EnableBody>,
) -> Result<Json<EnableResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let request = body.parse()?;
    let enabled = state
        .core
        .enable_method(
            user,
            &request,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(EnableResponse {
        method_id: enabled.method_id.to_string(),
        recovery_codes: enabled.recovery_codes,
        code: None,
    }))
}

/// `POST /api/user/two-factor` as the user: with a recent login (JWT), or with the `twoFactorId`
/// of a login that must enrol before it can finish.
#[utoipa::path(
    post, path = "/api/user/two-factor", tag = "two-factor",
    security((), ("bearer" = [])),
    request_body(content = EnableBody, description = "With a bearer token (recent login), or with the `twoFactorId` of a login that must enrol first"),
    responses(
        (status = 200, description = "The method is enabled; the user's first method also returns recovery codes (shown once)", body = EnableResponse),
        (status = 403, description = "Refused (no recent login, or the method is switched off)", body = crate::http::error::Errors),
        (status = 404, description = "No such user or login (no body)"),
        (status = 421, description = "The code is wrong (no body)"),
        (status = 429, description = "Too many wrong codes", body = crate::http::error::Errors),
    )
)]
pub async fn enable_self(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<EnableBody>,
) -> Result<Json<EnableResponse>, ApiError> {
    let request = body.parse()?;
    let now = Instant::now();
    let enabled = match &body.two_factor_id {
        Some(two_factor_id) => {
            state
                .core
                .enable_method_during_login(two_factor_id, &request, &origin, now)
                .await?
        }
        None => {
            let session = SessionUser::from_headers(&state, &headers).await?;
            session.require_recent_login(&state, now).await?;
            state
                .core
                .enable_method(
                    session.user.id,
                    &request,
                    Actor::User(session.user.id),
                    &origin,
                    now,
                )
                .await?
        }
    };
    Ok(Json(EnableResponse {
        method_id: enabled.method_id.to_string(),
        recovery_codes: enabled.recovery_codes,
        code: enabled.completion_code,
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DisableParams {
    method_id: Option<String>,
    code: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
    /// The Java client sends the user id as a query parameter too.
    user_id: Option<String>,
}

impl DisableParams {
    /// Query parameters first, then the body (FusionAuth accepts either).
    fn merged(self, body: DisableParams) -> Result<(MethodId, String, Option<String>), ApiError> {
        let method_id = self.method_id.or(body.method_id);
        let code = self.code.or(body.code);
        let user_id = self.user_id.or(body.user_id);
        let mut errors = Vec::new();
        let method_id = match method_id.as_deref().map(MethodId::parse) {
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => {
                errors.push(FieldError::new("methodId", e));
                None
            }
            None => {
                errors.push(FieldError::new(
                    "methodId",
                    Invalid::new("[blank]", "a methodId is required"),
                ));
                None
            }
        };
        if code.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::new(
                "code",
                Invalid::new(
                    "[blank]",
                    "a code of the method (or a recovery code) is required",
                ),
            ));
        }
        match (method_id, code) {
            (Some(id), Some(code)) if errors.is_empty() => Ok((id, code, user_id)),
            _ => Err(ApiError::Fields(errors)),
        }
    }
}

/// `DELETE /api/user/two-factor/{userId}?methodId=&code=` with an API key.
#[utoipa::path(
    delete, path = "/api/user/two-factor/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)"), DisableParams),
    request_body(content = Option<DisableParams>, description = "The same fields may come in the body instead of the query"),
    responses(
        (status = 200, description = "The method is removed (no body)"),
        (status = 403, description = "Refused (no recent login)", body = crate::http::error::Errors),
        (status = 404, description = "No such user or method (no body)"),
        (status = 421, description = "The code is wrong (no body)"),
        (status = 429, description = "Too many wrong codes", body = crate::http::error::Errors),
    )
)]
pub async fn disable_for_user(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiQuery(query): ApiQuery<DisableParams>,
    OptionalApiJson(body): OptionalApiJson<DisableParams>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user_id(&user_id)?;
    let (method_id, code, _) = query.merged(body)?;
    state
        .core
        .disable_method(
            user,
            &method_id,
            &code,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(StatusCode::OK)
}

/// `DELETE /api/user/two-factor?methodId=&code=`: with the user's JWT and a recent login, or
/// with an API key and `userId`.
#[utoipa::path(
    delete, path = "/api/user/two-factor", tag = "two-factor",
    security(("apiKey" = []), ("bearer" = [])),
    params(DisableParams),
    request_body(content = Option<DisableParams>, description = "The same fields may come in the body instead of the query"),
    responses(
        (status = 200, description = "The method is removed (no body)"),
        (status = 403, description = "Refused (no recent login)", body = crate::http::error::Errors),
        (status = 404, description = "No such user or method (no body)"),
        (status = 421, description = "The code is wrong (no body)"),
        (status = 429, description = "Too many wrong codes", body = crate::http::error::Errors),
    )
)]
pub async fn disable_self(
    State(state): State<AppState>,
    caller: Caller,
    RequestOrigin(origin): RequestOrigin,
    ApiQuery(query): ApiQuery<DisableParams>,
    OptionalApiJson(body): OptionalApiJson<DisableParams>,
) -> Result<StatusCode, ApiError> {
    let (method_id, code, user_id) = query.merged(body)?;
    let now = Instant::now();
    let (user, actor) = match caller {
        Caller::ApiKey(key) => {
            let user = user_id
                .as_deref()
                .ok_or_else(|| {
                    ApiError::field("userId", "[blank]", "with an API key, give the userId")
                })
                .and_then(parse_user_id)?;
            (user, Actor::ApiKey(key.id))
        }
        Caller::User(session) => {
            session.require_recent_login(&state, now).await?;
            (session.user.id, Actor::User(session.user.id))
        }
    };
    state
        .core
        .disable_method(user, &method_id, &code, actor, &origin, now)
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesResponse {
    recovery_codes: Vec<String>,
}

/// `POST /api/user/two-factor/recovery-code/{userId}` with an API key: a new set replaces the old.
#[utoipa::path(
    post, path = "/api/user/two-factor/recovery-code/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    responses(
        (status = 200, description = "New recovery codes (shown once); the old ones are void", body = RecoveryCodesResponse),
        (status = 403, description = "Refused (no recent login, or no method to recover)", body = crate::http::error::Errors),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn regenerate_for_user(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
) -> Result<Json<RecoveryCodesResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let recovery_codes = state
        .core
        .regenerate_recovery_codes(user, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(RecoveryCodesResponse { recovery_codes }))
}

/// `POST /api/user/two-factor/recovery-code` as the user, after a recent login.
#[utoipa::path(
    post, path = "/api/user/two-factor/recovery-code", tag = "two-factor",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "New recovery codes (shown once); the old ones are void", body = RecoveryCodesResponse),
        (status = 403, description = "Refused (no recent login, or no method to recover)", body = crate::http::error::Errors),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn regenerate_self(
    State(state): State<AppState>,
    session: SessionUser,
    RequestOrigin(origin): RequestOrigin,
) -> Result<Json<RecoveryCodesResponse>, ApiError> {
    let now = Instant::now();
    session.require_recent_login(&state, now).await?;
    let recovery_codes = state
        .core
        .regenerate_recovery_codes(session.user.id, Actor::User(session.user.id), &origin, now)
        .await?;
    Ok(Json(RecoveryCodesResponse { recovery_codes }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    user_id: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusBody {
    user_id: String,
    two_factor_trust_id: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
    action: Option<String>,
    #[allow(dead_code)]
    access_token: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusResponse {
    trusts: Vec<TrustRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    two_factor_trust_id: Option<String>,
}

/// Would this user be challenged now, given this trust id? 200 no, 242 yes.
async fn status(
    state: &AppState,
    user: UserId,
    trust_token: Option<String>,
) -> Result<Response, ApiError> {
    let status = state
        .core
        .two_factor_status(user, trust_token.as_deref(), Instant::now())
        .await?;
    let body = Json(StatusResponse {
        trusts: status.trusted_computer.into_iter().collect(),
        two_factor_trust_id: trust_token,
    });
    Ok(if status.second_factor_due {
        (
            StatusCode::from_u16(TWO_FACTOR_REQUIRED).unwrap_or(StatusCode::ACCEPTED),
            body,
        )
            .into_response()
    } else {
        (StatusCode::OK, body).into_response()
    })
}

/// `GET /api/two-factor/status/{twoFactorTrustId}?userId=` with an API key.
#[utoipa::path(
    get, path = "/api/two-factor/status/{twoFactorTrustId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("twoFactorTrustId" = String, Path, description = "From an earlier two-factor login"), StatusQuery),
    responses(
        (status = 200, description = "No second factor is due for this user and trust id", body = StatusResponse),
        (status = 242, description = "A second factor is due", body = StatusResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn status_get(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    Path(trust_id): Path<String>,
    ApiQuery(query): ApiQuery<StatusQuery>,
) -> Result<Response, ApiError> {
    let user = query
        .user_id
        .as_deref()
        .ok_or_else(|| {
            ApiError::field(
                "userId",
                "[blank]",
                "give the userId the trust id belongs to",
            )
        })
        .and_then(parse_user_id)?;
    status(&state, user, Some(trust_id)).await
}

/// `POST /api/two-factor/status` with an API key.
#[utoipa::path(
    post, path = "/api/two-factor/status", tag = "two-factor",
    security(("apiKey" = [])),
    request_body = StatusBody,
    responses(
        (status = 200, description = "No second factor is due for this user and trust id", body = StatusResponse),
        (status = 242, description = "A second factor is due", body = StatusResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn status_post(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    ApiJson(body): ApiJson<StatusBody>,
) -> Result<Response, ApiError> {
    let user = parse_user_id(&body.user_id)?;
    if let Some(action) = &body.action
        && !matches!(action.as_str(), "login" | "changePassword" | "stepUp")
    {
        return Err(ApiError::field(
            "action",
            "[invalid]",
            "action is login, changePassword or stepUp",
        ));
    }
    status(&state, user, body.two_factor_trust_id).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrustsResponse {
    trusts: Vec<TrustRecord>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrustQuery {
    trust_id: Option<String>,
}

/// `GET /api/user/two-factor/trust`: the caller's trusted computers.
#[utoipa::path(
    get, path = "/api/user/two-factor/trust", tag = "two-factor",
    security(("bearer" = [])),
    responses((status = 200, description = "The computers the user trusts", body = TrustsResponse))
)]
pub async fn trusts_self(
    State(state): State<AppState>,
    session: SessionUser,
) -> Result<Json<TrustsResponse>, ApiError> {
    let trusts = state
        .core
        .trusted_computers(session.user.id, Instant::now())
        .await?;
    Ok(Json(TrustsResponse { trusts }))
}

/// `DELETE /api/user/two-factor/trust[?trustId=]`: forget one or all of the caller's computers.
#[utoipa::path(
    delete, path = "/api/user/two-factor/trust", tag = "two-factor",
    security(("bearer" = [])),
    params(TrustQuery),
    responses(
        (status = 200, description = "Trust is revoked (no body)"),
        (status = 404, description = "No such trusted computer (no body)"),
    )
)]
pub async fn revoke_trusts_self(
    State(state): State<AppState>,
    session: SessionUser,
    RequestOrigin(origin): RequestOrigin,
    ApiQuery(query): ApiQuery<TrustQuery>,
) -> Result<StatusCode, ApiError> {
    revoke(
        &state,
        session.user.id,
        query.trust_id,
        Actor::User(session.user.id),
        &origin,
    )
    .await
}

/// `GET /api/user/two-factor/trust/{userId}` with an API key.
#[utoipa::path(
    get, path = "/api/user/two-factor/trust/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    responses(
        (status = 200, description = "The computers the user trusts", body = TrustsResponse),
        (status = 404, description = "No such user (no body)"),
    )
)]
pub async fn trusts_for_user(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
    Path(user_id): Path<String>,
) -> Result<Json<TrustsResponse>, ApiError> {
    let user = parse_user_id(&user_id)?;
    let trusts = state.core.trusted_computers(user, Instant::now()).await?;
    Ok(Json(TrustsResponse { trusts }))
}

/// `DELETE /api/user/two-factor/trust/{userId}[?trustId=]` with an API key.
#[utoipa::path(
    delete, path = "/api/user/two-factor/trust/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)"), TrustQuery),
    responses(
        (status = 200, description = "Trust is revoked (no body)"),
        (status = 404, description = "No such trusted computer (no body)"),
    )
)]
pub async fn revoke_trusts_for_user(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiQuery(query): ApiQuery<TrustQuery>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user_id(&user_id)?;
    revoke(&state, user, query.trust_id, Actor::ApiKey(key.id), &origin).await
}

async fn revoke(
    state: &AppState,
    user: UserId,
    trust_id: Option<String>,
    actor: Actor,
    origin: &crate::audit::Origin,
) -> Result<StatusCode, ApiError> {
    if let Some(id) = &trust_id
        && (id.is_empty() || id.len() > 64)
    {
        return Err(ApiError::field("trustId", "[invalid]", "not a trust id"));
    }
    let revoked = state
        .core
        .revoke_trusted_computers(user, trust_id.as_deref(), actor, origin, Instant::now())
        .await?;
    if trust_id.is_some() && revoked == 0 {
        return Err(ApiError::Empty(StatusCode::NOT_FOUND));
    }
    Ok(StatusCode::OK)
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsBody {
    two_factor: TwoFactorPolicy,
}

/// `GET /api/system/two-factor`: the two-factor settings in force.
#[utoipa::path(
    get, path = "/api/system/two-factor", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The two-factor policy", body = SettingsBody))
)]
pub async fn settings(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<SettingsBody>, ApiError> {
    Ok(Json(SettingsBody {
        two_factor: state.core.two_factor_policy().await?,
    }))
}

/// `PUT /api/system/two-factor`: replaces them (absent fields take their defaults). Applies to
/// the next login on every node.
#[utoipa::path(
    put, path = "/api/system/two-factor", tag = "administration",
    security(("apiKey" = [])),
    request_body = SettingsBody,
    responses((status = 200, description = "The two-factor policy, as stored", body = SettingsBody))
)]
pub async fn update_settings(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<SettingsBody>,
) -> Result<Json<SettingsBody>, ApiError> {
    state
        .core
        .set_two_factor_policy(
            &body.two_factor,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendForLoginBody {
    method_id: String,
    #[allow(dead_code)]
    application_id: Option<String>,
}

/// `POST /api/two-factor/send/{twoFactorId}` `{methodId}`: sends the code that finishes this
/// login to an sms, voice or email method. Codes sent before in this login to other
/// destinations stop working; a resend to the same one sends the same code.
#[utoipa::path(
    post, path = "/api/two-factor/send/{twoFactorId}", tag = "two-factor",
    params(("twoFactorId" = String, Path, description = "From the 242 answer of `POST /api/login`")),
    request_body = SendForLoginBody,
    responses(
        (status = 200, description = "The code is on its way (no body)"),
        (status = 403, description = "The destination or method is refused", body = crate::http::error::Errors),
        (status = 404, description = "The twoFactorId or the method is unknown (no body)"),
        (status = 429, description = "A send limit is reached", body = crate::http::error::Errors),
    )
)]
pub async fn send_for_login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    Path(two_factor_id): Path<String>,
    ApiJson(body): ApiJson<SendForLoginBody>,
) -> Result<StatusCode, ApiError> {
    if two_factor_id.is_empty() || two_factor_id.len() > 128 {
        return Err(ApiError::Empty(StatusCode::NOT_FOUND));
    }
    let method_id = MethodId::parse(&body.method_id)
        .map_err(|e| ApiError::field("methodId", e.code, e.message))?;
    state
        .core
        .send_login_code(&two_factor_id, &method_id, &origin, Instant::now())
        .await?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendBody {
    method: Option<String>,
    mobile_phone: Option<String>,
    email: Option<String>,
    method_id: Option<String>,
    user_id: Option<String>,
    /// Legacy (seed 004): `{mobilePhone, secret}` sends a code for enabling.
    secret: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
}

/// `POST /api/two-factor/send`: a code to enrol a phone or an address
/// (`{method, mobilePhone | email}`), or to prove a method before removing it (`{methodId}`),
/// or the legacy forms `{mobilePhone, secret}` and `{userId}`. With an API key, `userId` names
/// the user; with a JWT, the caller is the user (after a recent login).
#[utoipa::path(
    post, path = "/api/two-factor/send", tag = "two-factor",
    security(("apiKey" = []), ("bearer" = [])),
    request_body = SendBody,
    responses(
        (status = 200, description = "The code is on its way (no body)"),
        (status = 403, description = "The destination or method is refused", body = crate::http::error::Errors),
        (status = 404, description = "No such user or method (no body)"),
        (status = 429, description = "A send limit is reached", body = crate::http::error::Errors),
    )
)]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<StatusCode, ApiError> {
    let now = Instant::now();
    let user = match &caller {
        Caller::User(session) => {
            session.require_recent_login(&state, now).await?;
            Some(session.user.id)
        }
        Caller::ApiKey(_) => body.user_id.as_deref().map(parse_user_id).transpose()?,
    };
    let phone = body
        .mobile_phone
        .as_deref()
        .map(PhoneNumber::parse)
        .transpose()
        .map_err(|e| ApiError::field("mobilePhone", e.code, e.message))?;
    let need_user = || ApiError::field("userId", "[blank]", "with an API key, give the userId");
    if let Some(method_id) = &body.method_id {
        let method_id = MethodId::parse(method_id)
            .map_err(|e| ApiError::field("methodId", e.code, e.message))?;
        let user = user.ok_or_else(need_user)?;
        match phone {
            // A new number for a phone method.
            Some(phone) => {
                state
                    .core
                    .send_phone_change_code(user, &method_id, phone, &origin, now)
                    .await?
            }
            None => {
                state
                    .core
                    .send_method_code(user, &method_id, &origin, now)
                    .await?
            }
        }
        return Ok(StatusCode::OK);
    }
    if let Some(method) = &body.method {
        let kind = method
            .parse::<MethodKind>()
            .map_err(|e| ApiError::field("method", e.code, e.message))?;
        let user = user.ok_or_else(need_user)?;
        let account = state
            .core
            .user(user)
            .await?
            .ok_or(ApiError::Empty(StatusCode::NOT_FOUND))?;
        let destination = match kind {
            MethodKind::Email => {
                let email = match &body.email {
                    Some(raw) => Email::parse(raw)
                        .map_err(|e| ApiError::field("email", e.code, e.message))?,
                    None => account.email.ok_or_else(|| {
                        ApiError::field("email", "[blank]", "give the email address to verify")
                    })?,
                };
                Destination::Email(email)
            }
            _ => Destination::Phone(phone.or(account.mobile_phone).ok_or_else(|| {
                ApiError::field(
                    "mobilePhone",
                    "[blank]",
                    "give the mobile phone number to verify",
                )
            })?),
        };
        state
            .core
            .send_enrollment_code(user, kind, destination, &origin, now)
            .await?;
        return Ok(StatusCode::OK);
    }
    if let (Some(phone), Some(secret)) = (phone, &body.secret) {
        let secret = TotpSecret::from_base64(secret)
            .or_else(|_| TotpSecret::from_base32(secret))
            .map_err(|e| ApiError::field("secret", e.code, e.message))?;
        state
            .core
            .send_legacy_enrollment_code(Destination::Phone(phone), &secret, &origin, now)
            .await?;
        return Ok(StatusCode::OK);
    }
    if let Some(user) = user {
        let method_id = state.core.phone_method(user).await?;
        state
            .core
            .send_method_code(user, &method_id, &origin, now)
            .await?;
        return Ok(StatusCode::OK);
    }
    Err(ApiError::field(
        "method",
        "[blank]",
        "say what the code is for: {method, mobilePhone|email} to enrol, {methodId} for a method",
    ))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WelcomeBody {
    welcome: crate::welcome::WelcomeSettings,
}

/// `GET /api/system/welcome`: the profile fields and terms the welcome step asks for.
#[utoipa::path(
    get, path = "/api/system/welcome", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The welcome step: terms and required profile fields", body = WelcomeBody))
)]
pub async fn welcome_settings(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<WelcomeBody>, ApiError> {
    Ok(Json(WelcomeBody {
        welcome: state.core.welcome_settings().await?,
    }))
}

/// `PUT /api/system/welcome`: a higher `termsVersion` asks every user to accept again.
#[utoipa::path(
    put, path = "/api/system/welcome", tag = "administration",
    security(("apiKey" = [])),
    request_body = WelcomeBody,
    responses((status = 200, description = "The welcome step: terms and required profile fields, as stored", body = WelcomeBody))
)]
pub async fn update_welcome_settings(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<WelcomeBody>,
) -> Result<Json<WelcomeBody>, ApiError> {
    state
        .core
        .set_welcome_settings(
            &body.welcome,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(Json(body))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliveryBody {
    delivery: crate::verify::DeliverySettings,
}

/// `GET /api/system/delivery`: provider, sender, service, Twilio and fraud-guard settings in
/// force; secrets read as "set".
#[utoipa::path(
    get, path = "/api/system/delivery", tag = "administration",
    security(("apiKey" = [])),
    responses((status = 200, description = "The code delivery settings (secrets are never shown)", body = DeliveryBody))
)]
pub async fn delivery_settings(
    State(state): State<AppState>,
    _key: ApiKeyAuth,
) -> Result<Json<DeliveryBody>, ApiError> {
    let settings = state
        .core
        .delivery_settings()
        .await
        .map_err(ApiError::Internal)?;
    Ok(Json(DeliveryBody {
        delivery: settings.redacted(),
    }))
}

/// `PUT /api/system/delivery`: replaces them; a secret left out or given as "set" keeps its
/// value (they are write-only). Applies to the next code sent, on every node.
#[utoipa::path(
    put, path = "/api/system/delivery", tag = "administration",
    security(("apiKey" = [])),
    request_body = DeliveryBody,
    responses((status = 200, description = "The code delivery settings (secrets are never shown), as stored", body = DeliveryBody))
)]
pub async fn update_delivery_settings(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<DeliveryBody>,
) -> Result<Json<DeliveryBody>, ApiError> {
    let current = state
        .core
        .delivery_settings()
        .await
        .map_err(ApiError::Internal)?;
    let settings = body.delivery.keep_secrets_from(&current);
    state
        .core
        .set_delivery_settings(&settings, Actor::ApiKey(key.id), &origin, Instant::now())
        .await?;
    Ok(Json(DeliveryBody {
        delivery: settings.redacted(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneChangeBody {
    method_id: String,
    mobile_phone: String,
    code: String,
}

impl PhoneChangeBody {
    fn parse(&self) -> Result<(MethodId, PhoneNumber), ApiError> {
        let method = MethodId::parse(&self.method_id)
            .map_err(|e| ApiError::field("methodId", e.code, e.message))?;
        let phone = PhoneNumber::parse(&self.mobile_phone)
            .map_err(|e| ApiError::field("mobilePhone", e.code, e.message))?;
        Ok((method, phone))
    }
}

/// `POST /api/user/two-factor/phone/{userId}` with an API key: `{methodId, mobilePhone, code}`
/// gives a phone method its new number once the code sent there (`POST /api/two-factor/send`
/// with `{methodId, mobilePhone, userId}`) is confirmed. Until then the old number works.
#[utoipa::path(
    post, path = "/api/user/two-factor/phone/{userId}", tag = "two-factor",
    security(("apiKey" = [])),
    params(("userId" = String, Path, pattern = "^[0-9a-f-]{36}$", description = "The user's id (a UUID)")),
    request_body = PhoneChangeBody,
    responses(
        (status = 200, description = "The phone method has its new number (no body)"),
        (status = 403, description = "Refused (no recent login)", body = crate::http::error::Errors),
        (status = 404, description = "No such user, method or pending change (no body)"),
        (status = 421, description = "The code is wrong (no body)"),
        (status = 429, description = "Too many wrong codes", body = crate::http::error::Errors),
    )
)]
pub async fn change_phone_for_user(
    State(state): State<AppState>,
    ApiKeyAuth(key): ApiKeyAuth,
    RequestOrigin(origin): RequestOrigin,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<PhoneChangeBody>,
) -> Result<StatusCode, ApiError> {
    let user = parse_user_id(&user_id)?;
    let (method, phone) = body.parse()?;
    state
        .core
        .change_method_phone(
            user,
            &method,
            &phone,
            &body.code,
            Actor::ApiKey(key.id),
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(StatusCode::OK)
}

/// `POST /api/user/two-factor/phone` as the user, after a recent login.
#[utoipa::path(
    post, path = "/api/user/two-factor/phone", tag = "two-factor",
    security(("bearer" = [])),
    request_body = PhoneChangeBody,
    responses(
        (status = 200, description = "The phone method has its new number (no body)"),
        (status = 403, description = "Refused (no recent login)", body = crate::http::error::Errors),
        (status = 404, description = "No such user, method or pending change (no body)"),
        (status = 421, description = "The code is wrong (no body)"),
        (status = 429, description = "Too many wrong codes", body = crate::http::error::Errors),
    )
)]
pub async fn change_phone_self(
    State(state): State<AppState>,
    session: SessionUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<PhoneChangeBody>,
) -> Result<StatusCode, ApiError> {
    let now = Instant::now();
    session.require_recent_login(&state, now).await?;
    let (method, phone) = body.parse()?;
    let user = session.user.id;
    state
        .core
        .change_method_phone(
            user,
            &method,
            &phone,
            &body.code,
            Actor::User(user),
            &origin,
            now,
        )
        .await?;
    Ok(StatusCode::OK)
}
