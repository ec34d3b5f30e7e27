use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ids::parse_application_id;
use super::views::{TokenResponse, UserView, challenge_response};
use crate::auth::{LoginError, LoginOutcome, LoginRequest};
use crate::clock::Instant;
use crate::domain::{LoginId, Password};
use crate::http::AppState;
use crate::http::cookies::{self, BROWSER_COOKIE, TRUST_COOKIE};
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
    /// From an earlier two-factor login on this computer (or the `tessera_trust` cookie). It is
    /// spent when it spares the second factor: the answer carries the new one.
    two_factor_trust_id: Option<String>,
    #[serde(rename = "noJWT")]
    #[allow(dead_code)]
    no_jwt: Option<bool>,
    #[allow(dead_code)]
    meta_data: Option<serde_json::Value>,
}

/// FusionAuth's 203: no session yet, a link to choose a password first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChangeRequired {
    change_password_id: String,
    /// Always `Administrative` here: an administrator set the password.
    change_password_reason: &'static str,
}

/// FusionAuth's 212: the password is right, but the account waits for its email address to be
/// verified (a self-registration); no session.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailVerificationRequired {
    /// Where a new link was sent, masked (absent when a send budget is full).
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_to: Option<String>,
}

/// `POST /api/login`: 200 with tokens; 242 with a `twoFactorId` when a second factor is due;
/// 404 (empty) for an unknown user or a wrong password, alike; 423 for a disabled account; 429
/// when too many wrong second-factor codes came lately.
#[utoipa::path(
    post, path = "/api/login", tag = "login",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in: no second factor is due; with `twoFactorTrustId` (the new one, the one sent is spent) when a trusted computer spared it", body = TokenResponse),
        (status = 203, description = "The password is a temporary one an administrator set: choose one's own with `POST /api/user/change-password/{changePasswordId}` (valid once, for 15 minutes), then log in again", body = PasswordChangeRequired),
        (status = 212, description = "The account was made by self-registration and its email address is not verified yet: no session; a new link was emailed to it (`sentTo`, masked), unless a send budget is full", body = EmailVerificationRequired),
        (status = 242, description = "A second factor is due: finish with a code (`POST /api/two-factor/login`) or, when `methods` lists `webauthn`, with one of the user's keys (`POST /api/webauthn/start` with the `twoFactorId`, then `POST /api/webauthn/login`)", body = super::views::ChallengeResponse),
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
    let from_cookie = body.two_factor_trust_id.is_none();
    let trust_token = body
        .two_factor_trust_id
        .or_else(|| cookies::read(&headers, &state.web.cookie_name(TRUST_COOKIE)));
    let request = LoginRequest {
        login_id,
        password,
        application_id,
        login_type: LoginType::Api,
        trust_token,
        // A trust given on the pages of this browser holds here too, beside the same id.
        browser_id: cookies::read(&headers, &state.web.cookie_name(BROWSER_COOKIE)),
        // The API's sessions are refreshed by their client, never by a cookie.
        remember_me: false,
    };
    let now = Instant::now();
    match state.core.logins.login(&request, &origin, now).await {
        Ok(LoginOutcome::Complete {
            user,
            tokens,
            trust,
        }) => {
            let methods = state.core.two_factor.user_methods(user.id).await?;
            let view = UserView::with_methods(&user, &methods);
            // The trust's token was spent: the client keeps the new one in its place, in the
            // cookie too when it came from there.
            let cookie = match &trust {
                Some(trust) if from_cookie => cookies::line(
                    state.web.secure_cookies,
                    TRUST_COOKIE,
                    &trust.token,
                    Some((trust.expires_at.millis() - now.millis()).max(0) / 1000),
                    "Lax",
                ),
                _ => None,
            };
            let body = TokenResponse::new(tokens, Some(view)).with_trust(trust.map(|t| t.token));
            let mut response = Json(body).into_response();
            if let Some(cookie) = cookie {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            Ok(response)
        }
        Ok(LoginOutcome::SecondFactor {
            user,
            two_factor_id,
            methods,
            ..
        }) => {
            // The keys the settings let count, listed so that a client knows to run the
            // WebAuthn ceremony.
            let keys = state.core.two_factor.usable_keys(user.id).await?;
            Ok(challenge_response(two_factor_id, &methods, &keys))
        }
        // FusionAuth's answer to a password an administrator marked for change.
        Ok(LoginOutcome::PasswordChangeRequired { link, .. }) => Ok((
            StatusCode::NON_AUTHORITATIVE_INFORMATION,
            Json(PasswordChangeRequired {
                change_password_id: link.id.expose().to_owned(),
                change_password_reason: "Administrative",
            }),
        )
            .into_response()),
        Err(LoginError::WrongCredentials) => Err(ApiError::Empty(StatusCode::NOT_FOUND)),
        Err(LoginError::Inactive) => Err(ApiError::Empty(StatusCode::LOCKED)),
        Err(LoginError::EmailNotVerified { sent_to }) => Ok((
            StatusCode::from_u16(212).map_err(ApiError::internal)?,
            Json(EmailVerificationRequired { sent_to }),
        )
            .into_response()),
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
