//! Twilio's errors: `{code, message, more_info, status}`, with the HTTP status Twilio gives each
//! code. A failure of the server itself is logged and answered 20500 (20503 when the database
//! was too busy).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::resources::VerifyErrorBody;
use crate::verify::VerifyError;

/// Twilio's error, as its SDKs read it.
pub struct TwilioError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl TwilioError {
    pub(super) fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 60200, message)
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let body = VerifyErrorBody {
            code: self.code,
            more_info: format!("https://www.twilio.com/docs/errors/{}", self.code),
            message: self.message,
            status: self.status.as_u16(),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<VerifyError> for TwilioError {
    fn from(error: VerifyError) -> Self {
        if let VerifyError::Internal(error) = error {
            return internal(error);
        }
        let code = error.twilio_code();
        let status = match code {
            20404 => StatusCode::NOT_FOUND,
            60202 | 60203 | 60308 => StatusCode::TOO_MANY_REQUESTS,
            60410 | 60605 | 60205 => StatusCode::FORBIDDEN,
            20500 => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let message = match &error {
            VerifyError::Invalid { param, message } => {
                format!("Invalid parameter `{param}`: {message}")
            }
            VerifyError::MaxSendAttempts => "Max send attempts reached".into(),
            VerifyError::MaxCheckAttempts => "Max check attempts reached".into(),
            other => other.to_string(),
        };
        Self::new(status, code, message)
    }
}

/// Twilio's 20503: the database stayed busy for the pool's whole wait.
fn busy() -> TwilioError {
    TwilioError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        20503,
        "Service unavailable: the server is too busy to answer now; try again in a moment",
    )
}

/// Twilio's 20500, or its 20503 when the database was too busy. The log gets the whole chain
/// of causes (`{:#}`: an `anyhow::Error` prints only its last context without it).
pub(super) fn internal(error: impl std::fmt::Display + 'static) -> TwilioError {
    if crate::http::error::is_busy(&error) {
        tracing::warn!(
            error = format!("{error:#}"),
            "Verify API request refused: database busy"
        );
        return busy();
    }
    tracing::error!(error = format!("{error:#}"), "Verify API request failed");
    TwilioError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        20500,
        "An internal error occurred",
    )
}
