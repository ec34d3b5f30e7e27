//! A new number for a phone method, once a code sent to it is confirmed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{MethodId, PhoneNumber, Region};
use crate::http::AppState;
use crate::http::api::ids::parse_user_id;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiKeyAuth, RequestOrigin, SessionUser};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PhoneChangeBody {
    method_id: String,
    mobile_phone: String,
    code: String,
}

impl PhoneChangeBody {
    fn parse(&self, home: Option<Region>) -> Result<(MethodId, PhoneNumber), ApiError> {
        let method = MethodId::parse(&self.method_id)
            .map_err(|e| ApiError::field("methodId", e.code, e.message))?;
        let phone = PhoneNumber::parse_in(&self.mobile_phone, home)
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
    let (method, phone) = body.parse(state.edge.home_region)?;
    state
        .core
        .two_factor
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
    let (method, phone) = body.parse(state.edge.home_region)?;
    let user = session.user.id;
    state
        .core
        .two_factor
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
