//! Self-registration in FusionAuth's shape: `POST /api/user/registration` with
//! `{"user": {"username", "email", "password"}}`, no API key, only when the account settings
//! allow it (FusionAuth's self-service registration). Off, the path answers 404 whatever it is
//! sent, as an unknown path does.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::clock::Instant;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, RequestOrigin};
use crate::registration::SignUp;

/// No `Debug`: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistrationRequest {
    user: NewRegistrant,
}

/// The account a person asks for. No `Debug`: it holds a password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRegistrant {
    /// The username: the rules of every account's.
    #[serde(default)]
    username: String,
    /// Where the link that lets the account in is sent; at a domain of
    /// `registrationDomains` when the settings list some.
    #[serde(default)]
    email: String,
    /// 8 to 256 characters, not a common or breached one.
    #[serde(default)]
    password: String,
}

/// The same answer whether an account was made or the address had one already.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationResponse {}

/// Lets a request through only while self-registration is on: before its body is read, so that
/// a closed registration answers 404 to anything.
pub struct RegistrationOpen;

impl FromRequestParts<AppState> for RegistrationOpen {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.core.registration.open_settings().await?;
        Ok(RegistrationOpen)
    }
}

/// `POST /api/user/registration`: makes an account that logs in once the link emailed to its
/// address is opened. An address that has an account already gets the same answer (its owner
/// is told by email, and no account is made).
#[utoipa::path(
    post, path = "/api/user/registration", tag = "users",
    request_body = RegistrationRequest,
    responses(
        (status = 200, description = "Accepted: a link to verify the address is on its way (or, when the address has an account already, a note to it; the answer is the same). The account logs in once the link is opened", body = RegistrationResponse),
        (status = 400, description = "A field is refused: `user.username` blank, too long, malformed or taken (`[duplicate]user.username`); `user.email` blank, malformed or outside `registrationDomains` (`[notAllowed]user.email`); `user.password` too short, too long, common or breached; or an unknown field", body = crate::http::error::Errors),
        (status = 404, description = "Self-registration is off (no body)"),
        (status = 429, description = "Too many sign-ups from this address", body = crate::http::error::Errors),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    _open: RegistrationOpen,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<RegistrationRequest>,
) -> Result<Json<RegistrationResponse>, ApiError> {
    let request = SignUp {
        username: &body.user.username,
        email: &body.user.email,
        password: &body.user.password,
        confirmation: None,
        origin: &origin,
    };
    state
        .core
        .registration
        .register(&request, Instant::now())
        .await?;
    Ok(Json(RegistrationResponse {}))
}
