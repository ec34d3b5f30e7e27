use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ids::parse_application_id;
use super::views::{TokenResponse, UserView, challenge_response};
use crate::auth::{LoginError, LoginOutcome, LoginRequest};
use crate::clock::Instant;
use crate::domain::{LoginId, Password};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, RequestOrigin, apply_claimed_ip};
use crate::policy::LoginType;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    login_id: String,
    password: String,
    application_id: Option<String>,
    /// The end user's address when an application logs in on their behalf.
    ip_address: Option<String>,
    /// From an earlier two-factor login on this computer (or the `tessera_trust` cookie).
    two_factor_trust_id: Option<String>,
    #[serde(rename = "noJWT")]
    #[allow(dead_code)]
    no_jwt: Option<bool>,
    #[allow(dead_code)]
    meta_data: Option<serde_json::Value>,
}

/// The cookie a browser keeps its trusted-computer id in (the body field wins).
pub const TRUST_COOKIE: &str = "tessera_trust";

/// `POST /api/login`: 200 with tokens; 242 with a `twoFactorId` when a second factor is due;
/// 404 (empty) for an unknown user or a wrong password, alike; 423 for a disabled account; 429
/// when too many wrong second-factor codes came lately.
#[utoipa::path(
    post, path = "/api/login", tag = "login",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in: no second factor is due", body = TokenResponse),
        (status = 242, description = "A second factor is due: finish with `POST /api/two-factor/login`", body = super::views::ChallengeResponse),
        (status = 404, description = "The login id or the password is wrong (no body)"),
        (status = 423, description = "The account is inactive (no body)"),
        (status = 429, description = "Too many wrong second-factor codes for this account", body = crate::http::error::Errors),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(mut origin): RequestOrigin,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let login_id = LoginId::parse(&body.login_id)
        .map_err(|e| errors.push(crate::accounts::FieldError::new("loginId", e)))
        .ok();
    let password = Password::attempt(&body.password)
        .map_err(|e| errors.push(crate::accounts::FieldError::new("password", e)))
        .ok();
    let application_id = parse_application_id(body.application_id.as_deref())?;
    apply_claimed_ip(&state, &headers, body.ip_address.as_deref(), &mut origin).await?;
    let (Some(login_id), Some(password)) = (login_id, password) else {
        return Err(ApiError::Fields(errors));
    };
    let trust_token = body
        .two_factor_trust_id
        .or_else(|| cookie(&headers, &state.web.cookie_name(TRUST_COOKIE)));
    let request = LoginRequest {
        login_id,
        password,
        application_id,
        login_type: LoginType::Api,
        trust_token,
    };
    match state
        .core
        .logins
        .login(&request, &origin, Instant::now())
        .await
    {
        Ok(LoginOutcome::Complete { user, tokens }) => {
            let methods = state.core.two_factor.user_methods(user.id).await?;
            let view = UserView::with_methods(&user, &methods);
            Ok(Json(TokenResponse::new(tokens, Some(view))).into_response())
        }
        Ok(LoginOutcome::SecondFactor {
            two_factor_id,
            methods,
            ..
        }) => Ok(challenge_response(two_factor_id, &methods)),
        Err(LoginError::WrongCredentials) => Err(ApiError::Empty(StatusCode::NOT_FOUND)),
        Err(LoginError::Inactive) => Err(ApiError::Empty(StatusCode::LOCKED)),
        Err(LoginError::TwoFactorBlocked {
            retry_after_seconds,
        }) => Err(ApiError::Throttled {
            code: "[TooManyTwoFactorFailures]".into(),
            message: format!(
                "too many wrong second-factor codes for this account; try again in {} minutes",
                (retry_after_seconds + 59) / 60
            ),
            retry_after_seconds,
        }),
        Err(LoginError::Throttled {
            retry_after_seconds,
        }) => Err(ApiError::Throttled {
            code: "[TooManyLoginAttempts]".into(),
            message: format!(
                "too many wrong passwords from this address; try again in {retry_after_seconds} seconds"
            ),
            retry_after_seconds,
        }),
        Err(LoginError::Internal(e)) => Err(ApiError::Internal(e)),
    }
}

/// One cookie's value from the `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}
