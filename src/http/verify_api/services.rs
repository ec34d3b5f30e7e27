//! `/v2/Services`: an account's Verify services, created, listed, read, changed and deleted.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::auth::Account;
use super::error::TwilioError;
use super::forms;
use super::params::Params;
use super::resources::{PageMeta, ServicePage, ServiceResource, VerifyErrorBody, service_json};
use crate::clock::Instant;
use crate::http::AppState;
use crate::verify::ServiceParams;

/// Far past any real list; it keeps `page * size` (the offset) and `page + 1` in range.
const MAX_PAGE: i64 = 1_000_000;

/// The service parameters of a create or an update; the verify service checks them.
fn service_params(params: &Params) -> ServiceParams<'_> {
    ServiceParams {
        friendly_name: params.get("FriendlyName"),
        code_length: params.get("CodeLength"),
        do_not_share_warning_enabled: params.get("DoNotShareWarningEnabled"),
        custom_code_enabled: params.get("CustomCodeEnabled"),
        totp_issuer: params.get("Totp.Issuer"),
        totp_time_step: params.get("Totp.TimeStep"),
        totp_code_length: params.get("Totp.CodeLength"),
        totp_skew: params.get("Totp.Skew"),
    }
}

#[utoipa::path(
    post, path = "/v2/Services", tag = "verify",
    security(("basic" = [])),
    request_body(content = forms::CreateServiceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The service, created", body = ServiceResource),
    )
)]
pub(super) async fn create_service(
    State(state): State<AppState>,
    Account(account): Account,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let params = Params::parse(&body);
    if params.get("FriendlyName").is_none() {
        return Err(TwilioError::invalid(
            "Missing required parameter FriendlyName in the post body",
        ));
    }
    let service = state
        .core
        .verify
        .create_verify_service(&account, &service_params(&params), Instant::now())
        .await?;
    Ok((StatusCode::CREATED, Json(service_json(&service))).into_response())
}

#[utoipa::path(
    get, path = "/v2/Services/{ServiceSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)")),
    responses(
        (status = 200, description = "The service", body = ServiceResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn fetch_service(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
) -> Result<Response, TwilioError> {
    let service = state.core.verify.verify_service(&account, &sid).await?;
    Ok(Json(service_json(&service)).into_response())
}

#[utoipa::path(
    post, path = "/v2/Services/{ServiceSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)")),
    request_body(content = forms::UpdateServiceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The service, updated", body = ServiceResource),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn update_service(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let params = Params::parse(&body);
    let service = state
        .core
        .verify
        .update_verify_service(&account, &sid, &service_params(&params), Instant::now())
        .await?;
    Ok(Json(service_json(&service)).into_response())
}

#[utoipa::path(
    delete, path = "/v2/Services/{ServiceSid}", tag = "verify",
    security(("basic" = [])),
    params(("ServiceSid" = String, Path, description = "The service's SID (VA…)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such resource of this account (20404)", body = VerifyErrorBody),
    )
)]
pub(super) async fn delete_service(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
) -> Result<Response, TwilioError> {
    state
        .core
        .verify
        .delete_verify_service(&account, &sid)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PageQuery {
    /// Services per page, 50 by default; held between 1 and 1000.
    #[serde(rename = "PageSize")]
    page_size: Option<i64>,
    /// From 0.
    #[serde(rename = "Page")]
    #[param(maximum = 1_000_000)]
    page: Option<i64>,
}

#[utoipa::path(
    get, path = "/v2/Services", tag = "verify",
    security(("basic" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of the account's services", body = ServicePage),
    )
)]
pub(super) async fn list_services(
    State(state): State<AppState>,
    Account(account): Account,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, TwilioError> {
    // Axum's own rejection is plain text; a Twilio client expects Twilio's error body.
    let Query(query) = query.map_err(|rejection| {
        TwilioError::invalid(format!(
            "Invalid paging parameters: {}",
            rejection.body_text()
        ))
    })?;
    let size = query.page_size.unwrap_or(50).clamp(1, 1000);
    let page = query.page.unwrap_or(0).max(0);
    if page > MAX_PAGE {
        return Err(TwilioError::invalid(format!(
            "Invalid parameter `Page`: at most {MAX_PAGE}"
        )));
    }
    let (services, more) = state
        .core
        .verify
        .verify_services(&account, size, page)
        .await?;
    // Paging URLs are followed by the SDKs as they are: they name this server.
    let base = state.public_url.clone();
    let url = |p: i64| format!("{base}/v2/Services?PageSize={size}&Page={p}");
    let body = ServicePage {
        services: services.iter().map(service_json).collect(),
        meta: PageMeta {
            page,
            page_size: size,
            first_page_url: url(0),
            previous_page_url: (page > 0).then(|| url(page - 1)),
            url: url(page),
            next_page_url: more.then(|| url(page + 1)),
            key: "services".into(),
        },
    };
    Ok(Json(body).into_response())
}
