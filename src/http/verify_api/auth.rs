//! HTTP Basic auth with an Account SID and its Auth Token, or an API key SID and its secret: the
//! header is read here, the credentials are checked by the verify service.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use base64::Engine;

use super::error::{TwilioError, internal};
use crate::http::AppState;

/// The account behind HTTP Basic auth; anything else is Twilio's 20003.
pub struct Account(pub String);

impl FromRequestParts<AppState> for Account {
    type Rejection = TwilioError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, TwilioError> {
        let refused = || TwilioError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(refused)?;
        let encoded = header.strip_prefix("Basic ").ok_or_else(refused)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| refused())?;
        let decoded = String::from_utf8(decoded).map_err(|_| refused())?;
        let (sid, token) = decoded.split_once(':').ok_or_else(refused)?;
        match state
            .core
            .verify
            .authenticate_verify_account(sid, token)
            .await
        {
            Ok(Some(account)) => Ok(Account(account)),
            Ok(None) => Err(refused()),
            Err(error) => Err(internal(format!("{error:#}"))),
        }
    }
}
