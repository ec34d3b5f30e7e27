//! `POST /api/two-factor/login`: the second step of a login, with the code.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::clock::Instant;
use crate::http::AppState;
use crate::http::api::ids::parse_application_id;
use crate::http::api::views::{TokenResponse, UserView};
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, RequestOrigin, apply_claimed_ip};
use crate::two_factor::CompleteLogin;

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

/// `POST /api/two-factor/login`: 200 with tokens; 421 for a wrong code (no body) or for an
/// authenticator's code already used (a field error `[used]code`); 404 when the `twoFactorId`
/// is unknown, expired, finished or out of attempts.
#[utoipa::path(
    post, path = "/api/two-factor/login", tag = "two-factor",
    request_body = TwoFactorLoginBody,
    responses(
        (status = 200, description = "Logged in; with `twoFactorTrustId` when the computer is now trusted", body = TokenResponse),
        (status = 403, description = "The code cannot be used here", body = crate::http::error::Errors),
        (status = 404, description = "The twoFactorId is unknown, spent or expired (no body)"),
        (status = 421, description = "The code is wrong (no body), or it is an authenticator's code of a time step already used (`fieldErrors.code`: `[used]code`)"),
        (status = 429, description = "Too many wrong codes for this account", body = crate::http::error::Errors),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(mut origin): RequestOrigin,
    ApiJson(body): ApiJson<TwoFactorLoginBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let application_id = parse_application_id(body.application_id.as_deref())?;
    apply_claimed_ip(&state, &headers, body.ip_address.as_deref(), &mut origin).await?;
    if body.two_factor_id.is_empty() || body.two_factor_id.len() > 128 {
        return Err(ApiError::Empty(StatusCode::NOT_FOUND));
    }
    let request = CompleteLogin {
        two_factor_id: body.two_factor_id,
        code: body.code,
        trust_computer: body.trust_computer,
        application_id,
        browser_id: None,
    };
    let done = state
        .core
        .two_factor
        .complete_login(&request, &origin, Instant::now())
        .await?;
    Ok(Json(
        TokenResponse::new(
            done.tokens,
            Some(UserView::with_methods(&done.user, &done.methods)),
        )
        .with_trust(done.trust_token.map(|trust| trust.token)),
    ))
}
