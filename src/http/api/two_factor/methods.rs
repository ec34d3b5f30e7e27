//! A user's second-factor methods: a fresh authenticator key, enabling a method (with its
//! first code) and disabling one (with a code of it, or a recovery code).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use crate::accounts::FieldError;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{
    Email, Invalid, MethodId, MethodKind, MethodName, PhoneNumber, Region, RequestedMethod,
};
use crate::http::AppState;
use crate::http::api::ids::parse_user_id;
use crate::http::error::ApiError;
use crate::http::extract::{
    ApiJson, ApiKeyAuth, ApiQuery, Caller, OptionalApiJson, RequestOrigin, SessionUser,
};
use crate::otp::TotpSecret;
use crate::two_factor::EnableMethod;

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
pub struct EnableBody {
    code: String,
    method: Option<String>,
    /// The older enable shape: `None` is an authenticator, `TextMessage` is SMS.
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
    fn parse(&self, home: Option<Region>) -> Result<EnableMethod, ApiError> {
        let mut errors = Vec::new();
        let mut note = |field: &str, e: Invalid| errors.push(FieldError::new(field, e));
        let kind = match (&self.method, &self.delivery) {
            // A phone is one method however it hears its codes: `voice` enables one too.
            (Some(method), _) => method
                .parse::<RequestedMethod>()
                .map(|requested| requested.kind)
                .map_err(|e| note("method", e))
                .ok(),
            (None, Some(delivery)) => match delivery.as_str() {
                "None" => Some(MethodKind::Authenticator),
                "TextMessage" => Some(MethodKind::Phone),
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
            .map(|raw| PhoneNumber::parse_in(raw, home))
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
    let request = body.parse(state.edge.home_region)?;
    let enabled = state
        .core
        .two_factor
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
    let request = body.parse(state.edge.home_region)?;
    let now = Instant::now();
    let enabled = match &body.two_factor_id {
        Some(two_factor_id) => {
            state
                .core
                .two_factor
                .enable_method_during_login(two_factor_id, &request, &origin, now)
                .await?
        }
        None => {
            let session = SessionUser::from_headers(&state, &headers).await?;
            session.require_recent_login(&state, now).await?;
            state
                .core
                .two_factor
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
        (status = 421, description = "The code is wrong (no body), or it is an authenticator's code of a time step already used (`fieldErrors.code`: `[used]code`)"),
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
        .two_factor
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
        (status = 421, description = "The code is wrong (no body), or it is an authenticator's code of a time step already used (`fieldErrors.code`: `[used]code`)"),
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
        .two_factor
        .disable_method(user, &method_id, &code, actor, &origin, now)
        .await?;
    Ok(StatusCode::OK)
}
