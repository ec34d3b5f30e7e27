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
use crate::two_factor::{CompleteLogin, SecondStep};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwoFactorLoginBody {
    two_factor_id: String,
    /// A code of one of the user's methods, a recovery code, or an administrator's one-time
    /// access code.
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
///
/// `code` is a code of one of the user's methods, one of their recovery codes (`QJD73-L6GR5`),
/// or a one-time access code an administrator issued for them (`7QKD2-M9X4T-R2H8C-W3N6P`, from
/// `POST /api/user/two-factor/access-code/{userId}`). An access code logs in once, a user
/// without any method too, with the normal 200: its session's `amr` is
/// `["pwd", "access_code", "mfa"]`, and it never trusts the computer. The person then enrols a
/// new method (`POST /api/user/two-factor` with the new token). A wrong, used, revoked or
/// expired access code is a wrong code (421), counted against the same limit.
#[utoipa::path(
    post, path = "/api/two-factor/login", tag = "two-factor",
    request_body = TwoFactorLoginBody,
    responses(
        (status = 200, description = "Logged in; with `twoFactorTrustId` when the computer is now trusted (never after an access code)", body = TokenResponse),
        (status = 403, description = "The code cannot be used here; or an access code let a login of the pages through, which goes on to enrol a new method with its `twoFactorId` (`[enrolFirst]`)", body = crate::http::error::Errors),
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
    let done = match state
        .core
        .two_factor
        .complete_login(&request, &origin, Instant::now())
        .await?
    {
        SecondStep::LoggedIn(done) => done,
        // Only a login begun on the pages goes on to enrolment.
        SecondStep::Enrol => {
            return Err(ApiError::general(
                StatusCode::FORBIDDEN,
                "[enrolFirst]",
                "the access code is accepted: this login goes on by enrolling a new method with its twoFactorId, whose code then completes it",
            ));
        }
    };
    Ok(Json(
        TokenResponse::new(
            done.tokens,
            Some(UserView::with_methods(&done.user, &done.methods)),
        )
        .with_trust(done.trust_token.map(|trust| trust.token)),
    ))
}
