//! A person changes their own password with their access token, in FusionAuth's shape
//! (`/api/user/change-password`, `{currentPassword, password}`).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::auth::{ChangeOwnPassword, PasswordProof};
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, RequestOrigin, SessionUser};

/// No `Debug`: it holds passwords.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password in force now.
    current_password: String,
    /// The new password: 8 to 256 characters, not a common or breached one, not the current one.
    password: String,
}

/// FusionAuth answers with a `oneTimePassword` to log in again with; here the session the
/// token belongs to stays open, so there is nothing to log in again with and the body is empty.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangePasswordResponse {}

/// `PUT /api/user/change-password`: the caller's own password, with a recent login. Every other
/// session of the user ends; the caller's stays, and trusted computers stay trusted.
#[utoipa::path(
    put, path = "/api/user/change-password", tag = "users",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "The password is changed; every other session of the user is ended", body = ChangePasswordResponse),
        (status = 400, description = "A field is refused: `currentPassword` wrong or blank, `password` too short, too long, common, breached or the current one", body = crate::http::error::Errors),
        (status = 403, description = "No recent login (with the second factor, when the user has one)", body = crate::http::error::Errors),
        (status = 404, description = "No such user (no body)"),
        (status = 429, description = "Too many wrong passwords from this address: the current password was not compared", body = crate::http::error::Errors),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    session: SessionUser,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<Json<ChangePasswordResponse>, ApiError> {
    let now = Instant::now();
    // The same gate as the security pages': the person logged in lately, with their factors.
    session.require_recent_login(&state, now).await?;
    let change = ChangeOwnPassword {
        proof: PasswordProof::CurrentPassword {
            user: session.user.id,
            current: &body.current_password,
        },
        new_password: &body.password,
        keep_session: Some(&session.claims.sid),
    };
    state
        .core
        .logins
        .change_own_password(&change, &origin, now)
        .await?;
    Ok(Json(ChangePasswordResponse {}))
}

/// `POST /api/user/change-password`: the same, as FusionAuth's client libraries send it.
#[utoipa::path(
    post, path = "/api/user/change-password", tag = "users",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "The password is changed; every other session of the user is ended", body = ChangePasswordResponse),
        (status = 400, description = "A field is refused: `currentPassword` wrong or blank, `password` too short, too long, common, breached or the current one", body = crate::http::error::Errors),
        (status = 403, description = "No recent login (with the second factor, when the user has one)", body = crate::http::error::Errors),
        (status = 404, description = "No such user (no body)"),
        (status = 429, description = "Too many wrong passwords from this address: the current password was not compared", body = crate::http::error::Errors),
    )
)]
pub async fn change_password_post(
    state: State<AppState>,
    session: SessionUser,
    origin: RequestOrigin,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<Json<ChangePasswordResponse>, ApiError> {
    change_password(state, session, origin, body).await
}
