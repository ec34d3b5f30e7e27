use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::users::UserView;
use crate::auth::{IssuedTokens, LoginError, LoginRequest};
use crate::clock::Instant;
use crate::domain::{LoginId, Password, User};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, RequestOrigin};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    login_id: String,
    password: String,
    application_id: Option<String>,
    /// The end user's address when an application logs in on their behalf.
    ip_address: Option<String>,
    /// Accepted for FusionAuth clients; trusted computers come with two-factor login.
    #[allow(dead_code)]
    two_factor_trust_id: Option<String>,
    #[serde(rename = "noJWT")]
    #[allow(dead_code)]
    no_jwt: Option<bool>,
    #[allow(dead_code)]
    meta_data: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub token: String,
    pub token_expiration_instant: i64,
    pub refresh_token: String,
    pub refresh_token_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
}

impl TokenResponse {
    pub fn new(tokens: IssuedTokens, user: Option<&User>) -> Self {
        Self {
            token: tokens.token,
            token_expiration_instant: tokens.token_expires_at.millis(),
            refresh_token: tokens.refresh_token,
            refresh_token_id: tokens.refresh_token_id,
            user: user.map(UserView::from),
        }
    }
}

pub fn parse_application_id(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|id| {
        uuid::Uuid::parse_str(id)
            .map(|u| u.to_string())
            .map_err(|_| {
                ApiError::field("applicationId", "[invalid]", "applicationId must be a UUID")
            })
    })
    .transpose()
}

/// `POST /api/login`: 200 with tokens; 404 (empty) for an unknown user or a wrong password,
/// alike; 423 for a disabled account.
pub async fn login(
    State(state): State<AppState>,
    RequestOrigin(mut origin): RequestOrigin,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let mut errors = Vec::new();
    let login_id = LoginId::parse(&body.login_id)
        .map_err(|e| errors.push(crate::accounts::FieldError::new("loginId", e)))
        .ok();
    let password = Password::attempt(&body.password)
        .map_err(|e| errors.push(crate::accounts::FieldError::new("password", e)))
        .ok();
    let application_id = parse_application_id(body.application_id.as_deref())?;
    if let Some(ip) = &body.ip_address {
        let ip: IpAddr = ip.trim().parse().map_err(|_| {
            ApiError::field("ipAddress", "[invalid]", "ipAddress must be an IP address")
        })?;
        origin.ip = Some(ip.to_string());
    }
    let (Some(login_id), Some(password)) = (login_id, password) else {
        return Err(ApiError::Fields(errors));
    };
    let request = LoginRequest {
        login_id,
        password,
        application_id,
    };
    match state.core.login(&request, &origin, Instant::now()).await {
        Ok((user, tokens)) => Ok(Json(TokenResponse::new(tokens, Some(&user)))),
        Err(LoginError::WrongCredentials) => Err(ApiError::Empty(StatusCode::NOT_FOUND)),
        Err(LoginError::Inactive) => Err(ApiError::Empty(StatusCode::LOCKED)),
        Err(LoginError::Internal(e)) => Err(ApiError::Internal(e)),
    }
}
