//! API errors in FusionAuth's "Errors" shape:
//! `{"fieldErrors": {"user.email": [{"code", "message"}]}, "generalErrors": [{"code", "message"}]}`.
//!
//! A 500 never tells the client why; the cause goes to the log, and the body carries the request
//! id to find it there (filled in by [`fill_internal_error`]).

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::accounts::{AccountError, FieldError};
use crate::addresses::{self, AddressError, EMAIL_FIELD, VERIFICATION_ID_FIELD};
use crate::auth::{CURRENT_PASSWORD_FIELD, PasswordChangeError};
use crate::domain::Invalid;
use crate::groups::GroupError;
use crate::notices::{NOTICE_ID_FIELD, NoticeError};
use crate::recovery::{CHANGE_PASSWORD_ID_FIELD, CODE_FIELD, DeadLink, RecoveryError};
use crate::registration::RegistrationError;
use crate::two_factor::TwoFactorError;
use crate::verify::VerifyError;
use crate::webauthn::WebauthnError;

/// What a request hears when every database connection stayed busy for the pool's whole wait.
pub const BUSY: &str = "The server is too busy to answer now; try again in a moment.";

/// What a client hears for an authenticator's code of a time step already used.
pub const CODE_ALREADY_USED: &str =
    "This code was just used. Wait for the next code from your app.";

/// The `Retry-After` of a 503 for a busy database, in seconds.
const RETRY_AFTER_SECONDS: &str = "1";

/// `response` (a 503 for a busy database) with the `Retry-After` that says when to try again.
pub fn retry_soon(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    response
}

/// `response` (a page or an answer refusing a request past a limit) as a 429 with the
/// `Retry-After` that says when the limit lets the next one through.
pub fn throttled(mut response: Response, retry_after_seconds: i64) -> Response {
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_seconds.max(1)),
    );
    response
}

/// Whether a failure a handler holds (of whatever error type) is the database being busy:
/// the types the store's errors travel in are looked into.
pub fn is_busy(error: &dyn std::any::Any) -> bool {
    use crate::store::{StoreError, is_busy};
    if let Some(error) = error.downcast_ref::<anyhow::Error>() {
        return is_busy(error.as_ref());
    }
    if let Some(error) = error.downcast_ref::<StoreError>() {
        return is_busy(error);
    }
    if let Some(error) = error.downcast_ref::<AccountError>() {
        return is_busy(error);
    }
    if let Some(error) = error.downcast_ref::<TwoFactorError>() {
        return is_busy(error);
    }
    if let Some(error) = error.downcast_ref::<VerifyError>() {
        return is_busy(error);
    }
    error
        .downcast_ref::<sqlx::Error>()
        .is_some_and(|error| is_busy(error))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorMessage {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Errors {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub field_errors: BTreeMap<String, Vec<ErrorMessage>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub general_errors: Vec<ErrorMessage>,
}

#[derive(Debug)]
pub enum ApiError {
    /// 400 with the fields that were refused.
    Fields(Vec<FieldError>),
    /// Another status with the fields that were refused (421: a code already used).
    FieldsWithStatus(StatusCode, Vec<FieldError>),
    /// Any status with one general error.
    General {
        status: StatusCode,
        code: String,
        message: String,
    },
    /// 429 with one general error and the `Retry-After` that says when to try again.
    Throttled {
        code: String,
        message: String,
        retry_after_seconds: i64,
    },
    /// A status with an empty body, as FusionAuth answers 401, 404 and 421.
    Empty(StatusCode),
    /// 400 with errors already in shape (an import's refused rows).
    Rows(Errors),
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        ApiError::Fields(vec![FieldError {
            field: field.to_owned(),
            code: format!("{code}{field}"),
            message: message.into(),
        }])
    }

    pub fn general(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError::General {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(error.into())
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Invalid(fields) => ApiError::Fields(fields),
            AccountError::UserNotFound | AccountError::ApiKeyNotFound => {
                ApiError::Empty(StatusCode::NOT_FOUND)
            }
            AccountError::Store(e) => ApiError::internal(e),
            AccountError::Other(e) => ApiError::Internal(e),
        }
    }
}

impl From<TwoFactorError> for ApiError {
    fn from(error: TwoFactorError) -> Self {
        match error {
            TwoFactorError::Invalid(fields) => ApiError::Fields(fields),
            TwoFactorError::WrongCode => ApiError::Empty(StatusCode::MISDIRECTED_REQUEST),
            // Still FusionAuth's 421 for a code that does not pass; the field says why.
            TwoFactorError::CodeAlreadyUsed => ApiError::FieldsWithStatus(
                StatusCode::MISDIRECTED_REQUEST,
                vec![FieldError::new(
                    "code",
                    Invalid::new("[used]", CODE_ALREADY_USED),
                )],
            ),
            TwoFactorError::UnknownChallenge | TwoFactorError::UserNotFound => {
                ApiError::Empty(StatusCode::NOT_FOUND)
            }
            TwoFactorError::Forbidden(message) => {
                ApiError::general(StatusCode::FORBIDDEN, "[forbidden]", message)
            }
            TwoFactorError::TooManyFailures {
                retry_after_seconds,
            } => ApiError::Throttled {
                code: "[TooManyTwoFactorFailures]".into(),
                message: format!(
                    "too many wrong second-factor codes for this account; try again in {} minutes",
                    (retry_after_seconds + 59) / 60
                ),
                retry_after_seconds,
            },
            TwoFactorError::Delivery(e) => ApiError::from(e),
            TwoFactorError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<WebauthnError> for ApiError {
    fn from(error: WebauthnError) -> Self {
        match error {
            WebauthnError::Invalid(fields) => ApiError::Fields(fields),
            WebauthnError::Unavailable => ApiError::general(
                StatusCode::BAD_REQUEST,
                "[WebAuthnDisabled]",
                error.to_string(),
            ),
            WebauthnError::NoSuchUser => ApiError::field(
                "userId",
                "[invalid]",
                "there is no active user with this id",
            ),
            // FusionAuth's 421 for a second factor that does not pass; the field says why.
            WebauthnError::Refused(field) => {
                ApiError::FieldsWithStatus(StatusCode::MISDIRECTED_REQUEST, vec![field])
            }
            WebauthnError::Inactive => ApiError::Empty(StatusCode::LOCKED),
            WebauthnError::TwoFactor(e) => ApiError::from(e),
            WebauthnError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<RecoveryError> for ApiError {
    fn from(error: RecoveryError) -> Self {
        match error {
            RecoveryError::Invalid(fields) => ApiError::Fields(fields),
            RecoveryError::Throttled {
                retry_after_seconds,
            } => ApiError::Throttled {
                code: "[TooManyRequests]".into(),
                message: format!(
                    "too many password reset requests from this address; try again in {retry_after_seconds} seconds"
                ),
                retry_after_seconds,
            },
            RecoveryError::WrongCode => ApiError::field(
                CODE_FIELD,
                "[invalid]",
                "this code is not right, or has expired: ask for a new one if you need to",
            ),
            RecoveryError::UnknownLink => ApiError::General {
                status: StatusCode::NOT_FOUND,
                code: format!("[notFound]{CHANGE_PASSWORD_ID_FIELD}"),
                message: "this link is not valid: check that the whole link was copied, or ask for a new one".into(),
            },
            RecoveryError::DeadLink(dead) => ApiError::General {
                status: StatusCode::NOT_FOUND,
                code: format!(
                    "[{}]{CHANGE_PASSWORD_ID_FIELD}",
                    match dead {
                        DeadLink::Used => "used",
                        DeadLink::Expired => "expired",
                        DeadLink::Voided => "voided",
                    }
                ),
                message: dead.sentence().to_owned(),
            },
            RecoveryError::Account(error) => error.into(),
            RecoveryError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<RegistrationError> for ApiError {
    fn from(error: RegistrationError) -> Self {
        match error {
            // Off, the operation does not exist: the same answer as any unknown path.
            RegistrationError::Closed => ApiError::Empty(StatusCode::NOT_FOUND),
            RegistrationError::Invalid(fields) => ApiError::Fields(fields),
            RegistrationError::Throttled {
                retry_after_seconds,
            } => ApiError::Throttled {
                code: "[TooManyRequests]".into(),
                message: format!(
                    "too many sign-ups from this address; try again in {retry_after_seconds} seconds"
                ),
                retry_after_seconds,
            },
            RegistrationError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<AddressError> for ApiError {
    fn from(error: AddressError) -> Self {
        match error {
            AddressError::Invalid(fields) => ApiError::Fields(fields),
            AddressError::UserNotFound => ApiError::Empty(StatusCode::NOT_FOUND),
            AddressError::NothingToVerify => ApiError::field(
                EMAIL_FIELD,
                "[verified]",
                "no email address of this user awaits verification: there is no link to send",
            ),
            AddressError::UnknownLink => ApiError::General {
                status: StatusCode::NOT_FOUND,
                code: format!("[notFound]{VERIFICATION_ID_FIELD}"),
                message: "this link is not valid: check that the whole link was copied, or ask for a new one".into(),
            },
            AddressError::DeadLink(dead) => ApiError::General {
                status: StatusCode::NOT_FOUND,
                code: format!(
                    "[{}]{VERIFICATION_ID_FIELD}",
                    match dead {
                        addresses::DeadLink::Used => "used",
                        addresses::DeadLink::AlreadyVerified => "verified",
                        addresses::DeadLink::Expired => "expired",
                        addresses::DeadLink::Voided => "voided",
                    }
                ),
                message: dead.sentence().to_owned(),
            },
            AddressError::Taken => ApiError::General {
                status: StatusCode::CONFLICT,
                code: format!("[duplicate]{EMAIL_FIELD}"),
                message: "another account uses this email address now: nothing was changed".into(),
            },
            AddressError::NotSent(error) => ApiError::from(error),
            AddressError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<NoticeError> for ApiError {
    fn from(error: NoticeError) -> Self {
        match error {
            NoticeError::Invalid(fields) => ApiError::Fields(fields),
            NoticeError::UnknownLink => ApiError::General {
                status: StatusCode::NOT_FOUND,
                code: format!("[notFound]{NOTICE_ID_FIELD}"),
                message: "this link is not valid: check that the whole link was copied".into(),
            },
            NoticeError::Expired => ApiError::General {
                status: StatusCode::NOT_FOUND,
                code: format!("[expired]{NOTICE_ID_FIELD}"),
                message: "this link has expired".into(),
            },
            NoticeError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<crate::forward_auth::ForwardAuthError> for ApiError {
    fn from(error: crate::forward_auth::ForwardAuthError) -> Self {
        use crate::forward_auth::ForwardAuthError;
        let said = error.to_string();
        match error {
            ForwardAuthError::Invalid(errors) => {
                ApiError::Fields(errors.iter().map(|e| e.field_error()).collect())
            }
            ForwardAuthError::Refused(refusal) => {
                ApiError::field("rd", "[invalid]", refusal.to_string())
            }
            ForwardAuthError::Code(error) => error.into(),
            ForwardAuthError::KeptInFile(_) => ApiError::General {
                status: StatusCode::CONFLICT,
                code: "[keptInFile]accessRules".into(),
                message: said,
            },
            ForwardAuthError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<GroupError> for ApiError {
    fn from(error: GroupError) -> Self {
        match error {
            GroupError::Invalid(fields) => ApiError::Fields(fields),
            GroupError::GroupNotFound => ApiError::Empty(StatusCode::NOT_FOUND),
            GroupError::UserNotFound(user) => ApiError::General {
                status: StatusCode::NOT_FOUND,
                code: "[notFound]userId".into(),
                message: format!("there is no user {user}: nobody was added"),
            },
            GroupError::InTwoFactorSettings(_) => ApiError::General {
                status: StatusCode::CONFLICT,
                code: "[inUse]requiredForGroups".into(),
                message: error.to_string(),
            },
            GroupError::NamedByAccessRules { .. } => ApiError::General {
                status: StatusCode::CONFLICT,
                code: "[inUse]accessRules".into(),
                message: error.to_string(),
            },
            GroupError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<PasswordChangeError> for ApiError {
    fn from(error: PasswordChangeError) -> Self {
        match error {
            PasswordChangeError::Invalid(fields) => ApiError::Fields(fields),
            PasswordChangeError::WrongCurrentPassword => ApiError::field(
                CURRENT_PASSWORD_FIELD,
                "[mismatch]",
                "the current password is not right",
            ),
            PasswordChangeError::ChangedMeanwhile => ApiError::field(
                CURRENT_PASSWORD_FIELD,
                "[changed]",
                "the password was changed while this request was made; send it again with the password in force now",
            ),
            PasswordChangeError::Throttled {
                retry_after_seconds,
            } => ApiError::Throttled {
                code: "[TooManyLoginAttempts]".into(),
                message: format!(
                    "too many wrong passwords from this address; try again in {retry_after_seconds} seconds"
                ),
                retry_after_seconds,
            },
            PasswordChangeError::UserNotFound => ApiError::Empty(StatusCode::NOT_FOUND),
            PasswordChangeError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::delivery::DeliverySettingsError> for ApiError {
    fn from(error: crate::delivery::DeliverySettingsError) -> Self {
        ApiError::from(TwoFactorError::from(error))
    }
}

impl From<VerifyError> for ApiError {
    /// In this API's shape, with Twilio's error code as the error's code.
    fn from(error: VerifyError) -> Self {
        let code = error.twilio_code().to_string();
        let message = error.to_string();
        match error {
            VerifyError::Invalid { param, .. } => {
                let field = match param {
                    "To" => "mobilePhone",
                    "Channel" => "method",
                    "Code" => "code",
                    other => other,
                };
                ApiError::field(field, "[invalid]", message)
            }
            VerifyError::MaxSendAttempts
            | VerifyError::RateLimited { .. }
            | VerifyError::BucketFull { .. }
            | VerifyError::MaxCheckAttempts
            | VerifyError::ChallengeAttempts
            | VerifyError::FactorLocked { .. } => {
                ApiError::general(StatusCode::TOO_MANY_REQUESTS, &code, message)
            }
            VerifyError::NotFound | VerifyError::NoSuchResource => {
                ApiError::Empty(StatusCode::NOT_FOUND)
            }
            VerifyError::Refused(_) => ApiError::general(StatusCode::FORBIDDEN, &code, message),
            VerifyError::Delivery {
                code: Some(60410 | 60605 | 60205),
                ..
            } => ApiError::general(StatusCode::FORBIDDEN, &code, message),
            VerifyError::Delivery {
                code: Some(60203), ..
            } => ApiError::general(StatusCode::TOO_MANY_REQUESTS, &code, message),
            VerifyError::Delivery { .. }
            | VerifyError::Missing(_)
            | VerifyError::Unsupported(_)
            | VerifyError::InvalidUniqueName
            | VerifyError::TooManyRateLimits
            | VerifyError::DuplicateRateLimit
            | VerifyError::TooManyBuckets
            | VerifyError::DuplicateBucket => {
                ApiError::general(StatusCode::BAD_REQUEST, &code, message)
            }
            VerifyError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Fields(fields) => {
                (StatusCode::BAD_REQUEST, axum::Json(field_errors(fields))).into_response()
            }
            ApiError::FieldsWithStatus(status, fields) => {
                (status, axum::Json(field_errors(fields))).into_response()
            }
            ApiError::General {
                status,
                code,
                message,
            } => {
                let errors = Errors {
                    general_errors: vec![ErrorMessage { code, message }],
                    ..Errors::default()
                };
                (status, axum::Json(errors)).into_response()
            }
            ApiError::Throttled {
                code,
                message,
                retry_after_seconds,
            } => {
                let errors = Errors {
                    general_errors: vec![ErrorMessage { code, message }],
                    ..Errors::default()
                };
                throttled(axum::Json(errors).into_response(), retry_after_seconds)
            }
            ApiError::Empty(status) => status.into_response(),
            ApiError::Rows(errors) => (StatusCode::BAD_REQUEST, axum::Json(errors)).into_response(),
            ApiError::Internal(error) if crate::store::is_busy(error.as_ref()) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "request refused: database busy"
                );
                let errors = Errors {
                    general_errors: vec![ErrorMessage {
                        code: "[busy]".into(),
                        message: BUSY.into(),
                    }],
                    ..Errors::default()
                };
                retry_soon((StatusCode::SERVICE_UNAVAILABLE, axum::Json(errors)).into_response())
            }
            ApiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

fn field_errors(fields: Vec<FieldError>) -> Errors {
    let mut errors = Errors::default();
    for f in fields {
        errors
            .field_errors
            .entry(f.field)
            .or_default()
            .push(ErrorMessage {
                code: f.code,
                message: f.message,
            });
    }
    errors
}

/// Gives every 500 (an [`ApiError::Internal`] or a caught panic) the same opaque JSON body
/// naming the request id.
pub async fn fill_internal_error(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_owned();
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let errors = Errors {
        general_errors: vec![ErrorMessage {
            code: "[internal]".into(),
            message: format!(
                "the server could not complete this request; it is logged under request id {request_id}"
            ),
        }],
        ..Errors::default()
    };
    let mut fresh = (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(errors)).into_response();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        fresh.headers_mut().insert("x-request-id", value);
    }
    fresh
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    fresh
}

#[cfg(test)]
mod tests {
    use super::is_busy;
    use crate::accounts::AccountError;
    use crate::store::StoreError;
    use crate::two_factor::TwoFactorError;
    use crate::verify::VerifyError;

    fn pool_timed_out() -> StoreError {
        StoreError::Database(sqlx::Error::PoolTimedOut)
    }

    #[test]
    fn a_wait_for_a_connection_that_ran_out_is_busy_in_every_error_that_carries_it() {
        assert!(is_busy(&sqlx::Error::PoolTimedOut));
        assert!(is_busy(&pool_timed_out()));
        assert!(is_busy(&anyhow::Error::from(pool_timed_out())));
        assert!(is_busy(
            &anyhow::Error::from(pool_timed_out()).context("reading the user")
        ));
        assert!(is_busy(&AccountError::from(pool_timed_out())));
        assert!(is_busy(&TwoFactorError::from(pool_timed_out())));
        assert!(is_busy(&VerifyError::from(pool_timed_out())));
    }

    #[test]
    fn other_failures_are_not_busy() {
        assert!(!is_busy(&StoreError::Database(sqlx::Error::RowNotFound)));
        assert!(!is_busy(&StoreError::Corrupt("a damaged row".into())));
        assert!(!is_busy(&anyhow::anyhow!("disk full")));
        assert!(!is_busy(&"a page failed to render".to_owned()));
    }
}
