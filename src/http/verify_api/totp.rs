//! TOTP factors of a service: `Entities` (one per end user), their `Factors` (an authenticator
//! each, verified with a first code) and `Challenges` (a login answered with a code).

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
    ChallengeResource, EntityResource, FactorBinding, FactorResource, VerifyErrorBody,
    challenge_json, entity_json, factor_json,
};
use crate::clock::Instant;
use crate::http::AppState;
use crate::verify::{TOTP_CODE_LENGTHS, TOTP_SKEWS, TOTP_TIME_STEPS};

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/Entities", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)")),
    request_body(content = forms::CreateEntityForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The entity", body = EntityResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn create_entity(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let identity = params.get("Identity").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter Identity in the post body")
    })?;
    let entity = state
        .core
        .verify
        .entity(&service, identity, true, Instant::now())
        .await?;
    Ok((StatusCode::CREATED, Json(entity_json(&service, &entity))).into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}/Entities/{Identity}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Identity" = String, Path, description = "The entity's identity")),
    responses(
        (status = 200, description = "The entity", body = EntityResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn fetch_entity(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let entity = state
        .core
        .verify
        .entity(&service, &identity, false, Instant::now())
        .await?;
    Ok(Json(entity_json(&service, &entity)).into_response())
}

#[utoipa::path(
    delete, path = "/v2/Services/{ServiceSid}/Entities/{Identity}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Identity" = String, Path, description = "The entity's identity")),
    responses(
        (status = 204, description = "Deleted with its factors and challenges"),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn delete_entity(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    state
        .core
        .verify
        .delete_entity(&service, &identity, Instant::now())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Identity" = String, Path, description = "The entity's identity")),
    request_body(content = forms::CreateFactorForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "An unverified TOTP factor with its key (shown once)", body = FactorResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn create_factor(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    use crate::verify::factors::FactorConfig;
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    match params.get("FactorType") {
        Some("totp") => {}
        Some(_) => {
            return Err(TwilioError::new(
                StatusCode::BAD_REQUEST,
                60204,
                "Service does not support this feature: only totp factors",
            ));
        }
        None => {
            return Err(TwilioError::invalid(
                "Missing required parameter FactorType in the post body",
            ));
        }
    }
    let name = params.get("FriendlyName").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter FriendlyName in the post body")
    })?;
    let algorithm = match params.get("Config.Alg") {
        Some(raw) => crate::otp::Algorithm::parse(raw).map_err(|e| {
            TwilioError::invalid(format!("Invalid parameter `Config.Alg`: {}", e.message))
        })?,
        None => crate::otp::Algorithm::Sha1,
    };
    let config = FactorConfig {
        algorithm,
        code_length: params
            .number("Config.CodeLength", TOTP_CODE_LENGTHS)?
            .unwrap_or(service.totp_code_length) as u32,
        time_step: params
            .number("Config.TimeStep", TOTP_TIME_STEPS)?
            .unwrap_or(service.totp_time_step) as u32,
        skew: params
            .number("Config.Skew", TOTP_SKEWS)?
            .unwrap_or(service.totp_skew) as u32,
    };
    let now = Instant::now();
    let (factor, secret, uri) = state
        .core
        .verify
        .create_factor(
            &service,
            &identity,
            name,
            params.get("Binding.Secret"),
            config,
            now,
        )
        .await?;
    let binding = FactorBinding {
        secret: secret.to_base32(),
        uri,
    };
    Ok((
        StatusCode::CREATED,
        Json(factor_json(&service, &identity, &factor, Some(binding))),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{FactorSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Identity" = String, Path, description = "The entity's identity"), ("FactorSid" = String, Path, description = "The factor's SID (YF…)")),
    responses(
        (status = 200, description = "The factor (never its key)", body = FactorResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn fetch_factor(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity, factor)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let factor = state
        .core
        .verify
        .factor(&service, &identity, &factor, Instant::now())
        .await?;
    Ok(Json(factor_json(&service, &identity, &factor, None)).into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{FactorSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Identity" = String, Path, description = "The entity's identity"), ("FactorSid" = String, Path, description = "The factor's SID (YF…)")),
    request_body(content = forms::AuthPayloadForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The factor: verified when the code was right", body = FactorResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
        (status = 429, description = "The factor took too many wrong codes in a row and is locked for a while (60308)", body = VerifyErrorBody),
    )
)]
pub(super) async fn verify_factor(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity, factor)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let payload = params.get("AuthPayload").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter AuthPayload in the post body")
    })?;
    let factor = state
        .core
        .verify
        .verify_factor(&service, &identity, &factor, payload, Instant::now())
        .await?;
    Ok(Json(factor_json(&service, &identity, &factor, None)).into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Identity" = String, Path, description = "The entity's identity")),
    request_body(content = forms::CreateChallengeForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The challenge (approved at once when a right AuthPayload came with it)", body = ChallengeResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
        (status = 429, description = "The challenge's attempts are spent, or the factor took too many wrong codes in a row and is locked for a while (60308)", body = VerifyErrorBody),
    )
)]
pub(super) async fn create_challenge(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let factor = params.get("FactorSid").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter FactorSid in the post body")
    })?;
    let now = Instant::now();
    let challenge = state
        .core
        .verify
        .create_factor_challenge(&service, &identity, factor, params.get("AuthPayload"), now)
        .await?;
    let entity = state
        .core
        .verify
        .entity(&service, &identity, false, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(challenge_json(&service, &identity, &entity.sid, &challenge)),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{ChallengeSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Identity" = String, Path, description = "The entity's identity"), ("ChallengeSid" = String, Path, description = "The challenge's SID (YC…)")),
    responses(
        (status = 200, description = "The challenge", body = ChallengeResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn fetch_challenge(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity, challenge)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let now = Instant::now();
    let (challenge, factor) = state
        .core
        .verify
        .factor_challenge(&service, &identity, &challenge, now)
        .await?;
    Ok(Json(challenge_json(
        &service,
        &identity,
        &factor.entity_sid,
        &challenge,
    ))
    .into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{ChallengeSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("Identity" = String, Path, description = "The entity's identity"), ("ChallengeSid" = String, Path, description = "The challenge's SID (YC…)")),
    request_body(content = forms::AuthPayloadForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The challenge, approved when the code was right", body = ChallengeResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
        (status = 429, description = "The challenge's attempts are spent, or the factor took too many wrong codes in a row and is locked for a while (60308)", body = VerifyErrorBody),
    )
)]
pub(super) async fn answer_challenge(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity, challenge)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let payload = params.get("AuthPayload").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter AuthPayload in the post body")
    })?;
    let now = Instant::now();
    let challenge = state
        .core
        .verify
        .answer_challenge(&service, &identity, &challenge, payload, now)
        .await?;
    let entity = state
        .core
        .verify
        .entity(&service, &identity, false, now)
        .await?;
    Ok(Json(challenge_json(&service, &identity, &entity.sid, &challenge)).into_response())
}
