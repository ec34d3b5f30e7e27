//! The ids the API's paths and bodies carry, read into their types; a malformed one is refused
//! under the field it came in.

use crate::domain::UserId;
use crate::http::error::ApiError;

pub fn parse_user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|e| ApiError::field("userId", e.code, e.message))
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
