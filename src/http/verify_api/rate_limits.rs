//! A service's `RateLimits` and their `Buckets`; the counting itself is the verify service's,
//! when a verification names the limits (`RateLimits`).

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
    BucketPage, BucketResource, PageMeta, RateLimitPage, RateLimitResource, VerifyErrorBody,
    bucket_json, rate_limit_json,
};
use crate::clock::Instant;
use crate::http::AppState;
use crate::verify::BucketParams;

fn bucket_params(params: &Params) -> BucketParams<'_> {
    BucketParams {
        max: params.get("Max"),
        interval: params.get("Interval"),
    }
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/RateLimits", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)")),
    request_body(content = forms::CreateRateLimitForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The rate limit", body = RateLimitResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn create_rate_limit(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let name = params.get("UniqueName").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter UniqueName in the post body")
    })?;
    let limit = state
        .core
        .verify
        .create_rate_limit(&service, name, params.get("Description"), Instant::now())
        .await?;
    Ok((StatusCode::CREATED, Json(rate_limit_json(&service, &limit))).into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}/RateLimits", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)")),
    responses(
        (status = 200, description = "The service's rate limits", body = RateLimitPage),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn list_rate_limits(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let limits = state.core.verify.rate_limits(&service).await?;
    let url = format!(
        "{}/v2/Services/{}/RateLimits",
        state.public_url, service.sid
    );
    Ok(Json(RateLimitPage {
        rate_limits: limits
            .iter()
            .map(|l| rate_limit_json(&service, l))
            .collect(),
        meta: PageMeta::single(url, "rate_limits"),
    })
    .into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("RateLimitSid" = String, Path, description = "The rate limit's SID (RK…)")),
    responses(
        (status = 200, description = "The rate limit", body = RateLimitResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn fetch_rate_limit(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let limit = state.core.verify.rate_limit(&service, &limit).await?;
    Ok(Json(rate_limit_json(&service, &limit)).into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("RateLimitSid" = String, Path, description = "The rate limit's SID (RK…)")),
    request_body(content = forms::UpdateRateLimitForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The rate limit, updated", body = RateLimitResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn update_rate_limit(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let limit = state
        .core
        .verify
        .update_rate_limit(&service, &limit, params.get("Description"), Instant::now())
        .await?;
    Ok(Json(rate_limit_json(&service, &limit)).into_response())
}

#[utoipa::path(
    delete, path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("RateLimitSid" = String, Path, description = "The rate limit's SID (RK…)")),
    responses(
        (status = 204, description = "Deleted with its buckets"),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn delete_rate_limit(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    state
        .core
        .verify
        .delete_rate_limit(&service, &limit)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("RateLimitSid" = String, Path, description = "The rate limit's SID (RK…)")),
    request_body(content = forms::CreateBucketForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The bucket", body = BucketResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn create_bucket(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let bucket = state
        .core
        .verify
        .create_bucket(&service, &limit, &bucket_params(&params), Instant::now())
        .await?;
    Ok((StatusCode::CREATED, Json(bucket_json(&service, &bucket))).into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("RateLimitSid" = String, Path, description = "The rate limit's SID (RK…)")),
    responses(
        (status = 200, description = "The rate limit's buckets", body = BucketPage),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn list_buckets(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let buckets = state.core.verify.buckets(&service, &limit).await?;
    let url = format!(
        "{}/v2/Services/{}/RateLimits/{}/Buckets",
        state.public_url, service.sid, limit
    );
    Ok(Json(BucketPage {
        buckets: buckets.iter().map(|b| bucket_json(&service, b)).collect(),
        meta: PageMeta::single(url, "buckets"),
    })
    .into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{BucketSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("RateLimitSid" = String, Path, description = "The rate limit's SID (RK…)"), ("BucketSid" = String, Path, description = "The bucket's SID (BL…)")),
    responses(
        (status = 200, description = "The bucket", body = BucketResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn fetch_bucket(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit, bucket)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let bucket = state.core.verify.bucket(&service, &limit, &bucket).await?;
    Ok(Json(bucket_json(&service, &bucket)).into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{BucketSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("RateLimitSid" = String, Path, description = "The rate limit's SID (RK…)"), ("BucketSid" = String, Path, description = "The bucket's SID (BL…)")),
    request_body(content = forms::UpdateBucketForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The bucket, updated", body = BucketResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn update_bucket(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit, bucket)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    let params = Params::parse(&body);
    let bucket = state
        .core
        .verify
        .update_bucket(
            &service,
            &limit,
            &bucket,
            &bucket_params(&params),
            Instant::now(),
        )
        .await?;
    Ok(Json(bucket_json(&service, &bucket)).into_response())
}

#[utoipa::path(
    delete, path = "/v2/Services/{ServiceSid}/RateLimits/{RateLimitSid}/Buckets/{BucketSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)"), ("RateLimitSid" = String, Path, description = "The rate limit's SID (RK…)"), ("BucketSid" = String, Path, description = "The bucket's SID (BL…)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn delete_bucket(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit, bucket)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    state
        .core
        .verify
        .delete_bucket(&service, &limit, &bucket)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
