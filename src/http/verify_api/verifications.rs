//! Verifications of a service: a code sent (`Verifications`), read or finished by hand, and
//! checked (`VerificationCheck`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::Account;
use super::error::TwilioError;
use super::forms;
use super::params::Params;
use super::resources::{
    VerificationCheckResource, VerificationResource, VerifyErrorBody, check_json, verification_json,
};
use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::verify::{Channel, Destination, ServiceVerification, VerificationTarget};

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/Verifications", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)")),
    request_body(content = forms::CreateVerificationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "A code is on its way (the same code again while one is pending)", body = VerificationResource),
        (status = 403, description = "The destination is refused by the fraud guard (60410, 60605, 60205)", body = VerifyErrorBody),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
        (status = 429, description = "A limit is reached (60202 checks, 60203 sends or a rate limit bucket)", body = VerifyErrorBody),
    )
)]
pub(super) async fn create_verification(
    State(state): State<AppState>,
    Account(account): Account,
    RequestOrigin(origin): RequestOrigin,
    Path(sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let to = params
        .get("To")
        .ok_or_else(|| TwilioError::invalid("Missing required parameter To in the post body"))?;
    let destination = Destination::parse(to)
        .map_err(|e| TwilioError::invalid(format!("Invalid parameter `To`: {}", e.message)))?;
    let channel: Channel = params
        .get("Channel")
        .ok_or_else(|| TwilioError::invalid("Missing required parameter Channel in the post body"))?
        .parse()
        .map_err(|_| {
            TwilioError::invalid("Invalid parameter `Channel`: sms, call, email or whatsapp")
        })?;
    let request = ServiceVerification {
        destination,
        channel,
        locale: params.get("Locale"),
        custom_code: params.get("CustomCode"),
        friendly_name: params.get("CustomFriendlyName"),
        rate_limits: params.get("RateLimits"),
    };
    let view = state
        .core
        .verify
        .start_service_verification(&service, request, &origin, Instant::now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(verification_json(&service, &view)),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}/Verifications/{Sid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Sid" = String, Path, description = "The verification's SID (VE…)")),
    responses(
        (status = 200, description = "The pending verification", body = VerificationResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn fetch_verification(
    State(state): State<AppState>,
    Account(account): Account,
    Path((service_sid, sid)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = state
        .core
        .verify
        .verify_service(&account, &service_sid)
        .await?;
    let view = state
        .core
        .verify
        .pending_service_verification(&service, &sid, Instant::now())
        .await?;
    Ok(Json(verification_json(&service, &view)).into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/Verifications/{Sid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Sid" = String, Path, description = "The verification's SID (VE…)")),
    request_body(content = forms::UpdateVerificationForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The verification, canceled or approved", body = VerificationResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn update_verification(
    State(state): State<AppState>,
    Account(account): Account,
    Path((service_sid, sid)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state
        .core
        .verify
        .verify_service(&account, &service_sid)
        .await?;
    let params = Params::parse(&body);
    let view = state
        .core
        .verify
        .finish_service_verification(&service, &sid, params.get("Status"), Instant::now())
        .await?;
    Ok(Json(verification_json(&service, &view)).into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/VerificationCheck", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)")),
    request_body(content = forms::VerificationCheckForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The check: `valid` and `status` say whether the code approved the verification", body = VerificationCheckResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
        (status = 429, description = "A limit is reached (60202 checks, 60203 sends or a rate limit bucket)", body = VerifyErrorBody),
    )
)]
pub(super) async fn check(
    State(state): State<AppState>,
    Account(account): Account,
    Path(service_sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state
        .core
        .verify
        .verify_service(&account, &service_sid)
        .await?;
    let params = Params::parse(&body);
    let code = params
        .get("Code")
        .ok_or_else(|| TwilioError::invalid("Missing required parameter Code in the post body"))?;
    let target =
        match (params.get("VerificationSid"), params.get("To")) {
            (Some(sid), _) => VerificationTarget::Sid(sid.to_owned()),
            (None, Some(to)) => VerificationTarget::To(Destination::parse(to).map_err(|e| {
                TwilioError::invalid(format!("Invalid parameter `To`: {}", e.message))
            })?),
            (None, None) => {
                return Err(TwilioError::invalid(
                    "Either a 'To' number or 'VerificationSid' must be specified",
                ));
            }
        };
    let outcome = state
        .core
        .verify
        .check_verification(&service.sid, &target, code, Instant::now())
        .await?;
    let body = check_json(&service, &outcome.verification, outcome.approved);
    Ok(Json(body).into_response())
}
