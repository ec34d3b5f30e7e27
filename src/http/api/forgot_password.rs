//! A forgotten password, in FusionAuth's shapes: `POST /api/user/forgot-password` asks for a
//! link, `POST /api/user/change-password/{changePasswordId}` spends one.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, MaybeApiKey, RequestOrigin};
use crate::recovery::{ForgotPassword, ResetPassword};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    /// The account's username or email address.
    login_id: String,
    /// `false` (with an API key): send nothing, answer with the `changePasswordId` for the
    /// application to send itself. Anyone else's request sends the email.
    #[serde(default)]
    send_forgot_password_email: Option<bool>,
    /// Accepted for FusionAuth's clients; one server has one set of emails.
    #[serde(default)]
    #[allow(dead_code)]
    application_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForgotPasswordResponse {
    /// Only to an API key's `sendForgotPasswordEmail: false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    change_password_id: Option<String>,
    /// When that link stops working (milliseconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_instant: Option<i64>,
}

/// `POST /api/user/forgot-password`: a link to reset the password, by email to the account's
/// address. The answer is the same whether the account exists or not.
#[utoipa::path(
    post, path = "/api/user/forgot-password", tag = "users",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 200, description = "If the account exists and has an email address, a link valid for 15 minutes is on its way; with an API key and `sendForgotPasswordEmail: false`, the `changePasswordId` instead", body = ForgotPasswordResponse),
        (status = 400, description = "`loginId` is blank or too long", body = crate::http::error::Errors),
        (status = 401, description = "An `Authorization` header that is not a live API key (no body)"),
        (status = 404, description = "Only with an API key and `sendForgotPasswordEmail: false`: no active account has this login id (no body)"),
        (status = 429, description = "Too many requests from this address", body = crate::http::error::Errors),
    )
)]
pub async fn forgot_password(
    State(state): State<AppState>,
    MaybeApiKey(key): MaybeApiKey,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<ForgotPasswordRequest>,
) -> Result<Json<ForgotPasswordResponse>, ApiError> {
    let now = Instant::now();
    if let (Some(key), Some(false)) = (key, body.send_forgot_password_email) {
        let issued = state
            .core
            .recovery
            .issue_reset_link(&body.login_id, Actor::ApiKey(key.id), &origin, now)
            .await?
            .ok_or(ApiError::Empty(axum::http::StatusCode::NOT_FOUND))?;
        return Ok(Json(ForgotPasswordResponse {
            change_password_id: Some(issued.id.expose().to_owned()),
            expiration_instant: Some(issued.expires_at.millis()),
        }));
    }
    let request = ForgotPassword {
        login_id: &body.login_id,
        origin: &origin,
    };
    state.core.recovery.forgot_password(&request, now).await?;
    Ok(Json(ForgotPasswordResponse {
        change_password_id: None,
        expiration_instant: None,
    }))
}

/// No `Debug`: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The new password: 8 to 256 characters, not a common or breached one, not the current one.
    password: String,
    /// Accepted for FusionAuth's clients; a link needs no current password.
    #[serde(default)]
    #[allow(dead_code)]
    current_password: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    application_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResetPasswordResponse {}

/// `POST /api/user/change-password/{changePasswordId}`: sets the new password and spends the
/// link. Nobody is logged in: the next login asks for the password, then for the second factor
/// of a user who has one.
#[utoipa::path(
    post, path = "/api/user/change-password/{changePasswordId}", tag = "users",
    params(("changePasswordId" = String, Path, description = "The secret of the link")),
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "The password is changed; every session of the user ended and every trusted computer is forgotten", body = ResetPasswordResponse),
        (status = 400, description = "`password` too short, too long, common, breached or the current one; or `changePasswordId` malformed", body = crate::http::error::Errors),
        (status = 404, description = "The link is unknown, used, expired, or voided by a change of password since it was sent", body = crate::http::error::Errors),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    Path(change_password_id): Path<String>,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<ResetPasswordRequest>,
) -> Result<Json<ResetPasswordResponse>, ApiError> {
    let reset = ResetPassword {
        change_password_id: &change_password_id,
        new_password: &body.password,
        origin: &origin,
    };
    state
        .core
        .recovery
        .reset_password(&reset, Instant::now())
        .await?;
    Ok(Json(ResetPasswordResponse {}))
}
