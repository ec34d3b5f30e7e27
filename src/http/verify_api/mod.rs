//! A Twilio-Verify-compatible API under `/v2/`: form-encoded PascalCase parameters in,
//! snake_case JSON out, 34-character SIDs, Twilio's error body `{code, message, more_info,
//! status}`, HTTP Basic auth with an Account SID and Auth Token that Tessera issued. A thin layer
//! over the verify engine: the same codes, limits, fraud guard and delivery.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::Value;

use super::AppState;
use super::extract::RequestOrigin;
use crate::clock::Instant;
use crate::store::{CappedInsert, ServiceRecord};
use crate::verify::{
    Channel, Destination, ServiceOverride, StartRequest, Status, VerificationTarget,
    VerificationView, VerifyError, sid,
};

pub mod forms;
mod resources;

/// The operations of the Verify API, for the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_service,
    list_services,
    fetch_service,
    update_service,
    delete_service,
    create_verification,
    fetch_verification,
    update_verification,
    check,
    create_entity,
    fetch_entity,
    delete_entity,
    create_factor,
    fetch_factor,
    verify_factor,
    create_challenge,
    fetch_challenge,
    answer_challenge,
    create_rate_limit,
    list_rate_limits,
    fetch_rate_limit,
    update_rate_limit,
    delete_rate_limit,
    create_bucket,
    list_buckets,
    fetch_bucket,
    update_bucket,
    delete_bucket,
))]
pub struct Paths;

use resources::*;

const BASE: &str = "https://verify.twilio.com";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/Services", post(create_service).get(list_services))
        .route(
            "/v2/Services/{service}",
            get(fetch_service)
                .post(update_service)
                .delete(delete_service),
        )
        .route(
            "/v2/Services/{service}/Verifications",
            post(create_verification),
        )
        .route(
            "/v2/Services/{service}/Verifications/{verification}",
            get(fetch_verification).post(update_verification),
        )
        .route("/v2/Services/{service}/VerificationCheck", post(check))
}

/// Twilio's error, as its SDKs read it.
pub struct TwilioError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl TwilioError {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 60200, message)
    }

    fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            20404,
            "The requested resource was not found",
        )
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
fn internal(error: impl std::fmt::Display + 'static) -> TwilioError {
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

/// The account behind HTTP Basic auth; anything else is Twilio's 20003.
pub struct Account(String);

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
        match state.core.authenticate_verify_account(sid, token).await {
            Ok(Some(account)) => Ok(Account(account)),
            Ok(None) => Err(refused()),
            Err(error) => Err(internal(format!("{error:#}"))),
        }
    }
}

/// Form parameters; unknown ones are ignored, as Twilio ignores them.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, name: &str) -> Result<Option<bool>, TwilioError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(TwilioError::invalid(format!(
                "Invalid parameter `{name}`: expected true or false"
            ))),
        }
    }

    pub fn number(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, TwilioError> {
        match self.get(name) {
            None => Ok(None),
            Some(raw) => raw
                .parse()
                .ok()
                .filter(|n| range.contains(n))
                .map(Some)
                .ok_or_else(|| {
                    TwilioError::invalid(format!(
                        "Invalid parameter `{name}`: must be between {} and {}",
                        range.start(),
                        range.end()
                    ))
                }),
        }
    }
}

/// Applies the service parameters of a create or an update.
fn apply(params: &Params, service: &mut ServiceRecord) -> Result<(), TwilioError> {
    if let Some(name) = params.get("FriendlyName") {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 30 {
            return Err(TwilioError::invalid(
                "Invalid parameter `FriendlyName`: 1 to 30 characters",
            ));
        }
        service.friendly_name = name.to_owned();
    }
    if let Some(length) = params.number("CodeLength", 4..=10)? {
        service.code_length = length;
    }
    if let Some(on) = params.flag("DoNotShareWarningEnabled")? {
        service.do_not_share_warning_enabled = on;
    }
    if let Some(on) = params.flag("CustomCodeEnabled")? {
        service.custom_code_enabled = on;
    }
    if let Some(issuer) = params.get("Totp.Issuer") {
        service.totp_issuer = Some(issuer.trim().to_owned()).filter(|i| !i.is_empty());
    }
    if let Some(step) = params.number("Totp.TimeStep", 20..=60)? {
        service.totp_time_step = step;
    }
    if let Some(length) = params.number("Totp.CodeLength", 3..=8)? {
        service.totp_code_length = length;
    }
    if let Some(skew) = params.number("Totp.Skew", 0..=2)? {
        service.totp_skew = skew;
    }
    Ok(())
}

#[utoipa::path(
    post, path = "/v2/Services", tag = "verify",
    security(("basic" = [])),
    request_body(content = forms::CreateServiceForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 201, description = "The service, created", body = ServiceResource),
    )
)]
async fn create_service(
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
    let now = Instant::now();
    let mut service = ServiceRecord {
        sid: sid("VA"),
        account_sid: account,
        friendly_name: String::new(),
        code_length: 6,
        do_not_share_warning_enabled: false,
        custom_code_enabled: false,
        totp_issuer: None,
        totp_time_step: 30,
        totp_code_length: 6,
        totp_skew: 1,
        created_at: now,
        updated_at: now,
    };
    apply(&params, &mut service)?;
    state
        .core
        .store
        .save_service(&service)
        .await
        .map_err(internal)?;
    Ok((StatusCode::CREATED, axum::Json(service_json(&service))).into_response())
}

async fn service_of(
    state: &AppState,
    account: &str,
    sid: &str,
) -> Result<ServiceRecord, TwilioError> {
    state
        .core
        .store
        .service(account, sid)
        .await
        .map_err(internal)?
        .ok_or_else(TwilioError::not_found)
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
async fn fetch_service(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    Ok(axum::Json(service_json(&service)).into_response())
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
async fn update_service(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let mut service = service_of(&state, &account, &sid).await?;
    apply(&Params::parse(&body), &mut service)?;
    service.updated_at = Instant::now();
    state
        .core
        .store
        .save_service(&service)
        .await
        .map_err(internal)?;
    Ok(axum::Json(service_json(&service)).into_response())
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
async fn delete_service(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
) -> Result<Response, TwilioError> {
    if !state
        .core
        .store
        .delete_service(&account, &sid)
        .await
        .map_err(internal)?
    {
        return Err(TwilioError::not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

const MAX_PAGE: i64 = 1_000_000;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
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
async fn list_services(
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
    // Far past any real list; it keeps `page * size` (the offset) and `page + 1` in range.
    if page > MAX_PAGE {
        return Err(TwilioError::invalid(format!(
            "Invalid parameter `Page`: at most {MAX_PAGE}"
        )));
    }
    let services = state
        .core
        .store
        .services(&account, size + 1, page * size)
        .await
        .map_err(internal)?;
    let more = services.len() as i64 > size;
    // Paging URLs are followed by the SDKs as they are: they name this server.
    let base = state.core.tokens.issuer.clone();
    let url = |p: i64| format!("{base}/v2/Services?PageSize={size}&Page={p}");
    let body = ServicePage {
        services: services
            .iter()
            .take(size as usize)
            .map(service_json)
            .collect(),
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
    Ok(axum::Json(body).into_response())
}

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
async fn create_verification(
    State(state): State<AppState>,
    Account(account): Account,
    RequestOrigin(origin): RequestOrigin,
    Path(sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
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
    let custom_code = match params.get("CustomCode") {
        Some(code) if !service.custom_code_enabled => {
            let _ = code;
            return Err(TwilioError::new(
                StatusCode::BAD_REQUEST,
                60204,
                "Service does not support this feature: CustomCode",
            ));
        }
        Some(code)
            if !(4..=10).contains(&code.len()) || !code.chars().all(|c| c.is_ascii_digit()) =>
        {
            return Err(TwilioError::invalid(
                "Invalid parameter `CustomCode`: 4 to 10 digits",
            ));
        }
        other => other.map(str::to_owned),
    };
    apply_rate_limits(&state, &service, &params).await?;
    let friendly_name = params
        .get("CustomFriendlyName")
        .map(|n| n.trim().chars().take(30).collect())
        .filter(|n: &String| !n.is_empty())
        .unwrap_or_else(|| service.friendly_name.clone());
    let request = StartRequest {
        service_id: &service.sid,
        destination,
        channel,
        locale: params.get("Locale").map(str::to_owned),
        context: None,
        user: None,
        origin: &origin,
        service: Some(ServiceOverride {
            friendly_name,
            code_length: service.code_length as u32,
            custom_code,
        }),
    };
    let view = state
        .core
        .start_verification(&request, Instant::now())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(verification_json(&service, &view)),
    )
        .into_response())
}

/// A pending verification of this service; finished ones are soft-deleted (20404), as Twilio's.
async fn pending(
    state: &AppState,
    service: &ServiceRecord,
    sid: &str,
) -> Result<VerificationView, TwilioError> {
    let view = state
        .core
        .verification_view(sid)
        .await
        .map_err(|_| TwilioError::not_found())?;
    if view.service_id != service.sid
        || view.status != Status::Pending
        || view.expires_at <= Instant::now()
    {
        return Err(TwilioError::not_found());
    }
    Ok(view)
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
async fn fetch_verification(
    State(state): State<AppState>,
    Account(account): Account,
    Path((service_sid, sid)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &service_sid).await?;
    let view = pending(&state, &service, &sid).await?;
    Ok(axum::Json(verification_json(&service, &view)).into_response())
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
async fn update_verification(
    State(state): State<AppState>,
    Account(account): Account,
    Path((service_sid, sid)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &service_sid).await?;
    pending(&state, &service, &sid).await?;
    let params = Params::parse(&body);
    let status = match params.get("Status") {
        Some("canceled") => "canceled",
        Some("approved") => "approved",
        _ => {
            return Err(TwilioError::invalid(
                "Invalid parameter `Status`: canceled or approved",
            ));
        }
    };
    if !state
        .core
        .store
        .transition_verification(&sid, "pending", status, Instant::now())
        .await
        .map_err(internal)?
    {
        return Err(TwilioError::not_found());
    }
    let view = state.core.verification_view(&sid).await?;
    Ok(axum::Json(verification_json(&service, &view)).into_response())
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
async fn check(
    State(state): State<AppState>,
    Account(account): Account,
    Path(service_sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &service_sid).await?;
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
        .check_verification(&service.sid, &target, code, Instant::now())
        .await?;
    let body = check_json(&service, &outcome.verification, outcome.approved);
    Ok(axum::Json(body).into_response())
}

pub fn totp_routes() -> Router<AppState> {
    Router::new()
        .route("/v2/Services/{service}/Entities", post(create_entity))
        .route(
            "/v2/Services/{service}/Entities/{identity}",
            get(fetch_entity).delete(delete_entity),
        )
        .route(
            "/v2/Services/{service}/Entities/{identity}/Factors",
            post(create_factor),
        )
        .route(
            "/v2/Services/{service}/Entities/{identity}/Factors/{factor}",
            get(fetch_factor).post(verify_factor),
        )
        .route(
            "/v2/Services/{service}/Entities/{identity}/Challenges",
            post(create_challenge),
        )
        .route(
            "/v2/Services/{service}/Entities/{identity}/Challenges/{challenge}",
            get(fetch_challenge).post(answer_challenge),
        )
}

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
async fn create_entity(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let params = Params::parse(&body);
    let identity = params.get("Identity").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter Identity in the post body")
    })?;
    let entity = state
        .core
        .entity(&service, identity, true, Instant::now())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(entity_json(&service, &entity)),
    )
        .into_response())
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
async fn fetch_entity(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let entity = state
        .core
        .entity(&service, &identity, false, Instant::now())
        .await?;
    Ok(axum::Json(entity_json(&service, &entity)).into_response())
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
async fn delete_entity(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let entity = state
        .core
        .entity(&service, &identity, false, Instant::now())
        .await?;
    state
        .core
        .store
        .delete_entity(&entity.sid)
        .await
        .map_err(internal)?;
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
async fn create_factor(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    use crate::verify::factors::FactorConfig;
    let service = service_of(&state, &account, &sid).await?;
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
            .number("Config.CodeLength", 3..=8)?
            .unwrap_or(service.totp_code_length) as u32,
        time_step: params
            .number("Config.TimeStep", 20..=60)?
            .unwrap_or(service.totp_time_step) as u32,
        skew: params
            .number("Config.Skew", 0..=2)?
            .unwrap_or(service.totp_skew) as u32,
    };
    let now = Instant::now();
    let (factor, secret, uri) = state
        .core
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
        axum::Json(factor_json(&service, &identity, &factor, Some(binding))),
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
async fn fetch_factor(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity, factor)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let factor = state
        .core
        .factor(&service, &identity, &factor, Instant::now())
        .await?;
    Ok(axum::Json(factor_json(&service, &identity, &factor, None)).into_response())
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
async fn verify_factor(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity, factor)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let params = Params::parse(&body);
    let payload = params.get("AuthPayload").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter AuthPayload in the post body")
    })?;
    let factor = state
        .core
        .verify_factor(&service, &identity, &factor, payload, Instant::now())
        .await?;
    Ok(axum::Json(factor_json(&service, &identity, &factor, None)).into_response())
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
async fn create_challenge(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let params = Params::parse(&body);
    let factor = params.get("FactorSid").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter FactorSid in the post body")
    })?;
    let now = Instant::now();
    let challenge = state
        .core
        .create_factor_challenge(&service, &identity, factor, params.get("AuthPayload"), now)
        .await?;
    let entity = state.core.entity(&service, &identity, false, now).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(challenge_json(&service, &identity, &entity.sid, &challenge)),
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
async fn fetch_challenge(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity, challenge)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let now = Instant::now();
    let (challenge, factor) = state
        .core
        .factor_challenge(&service, &identity, &challenge, now)
        .await?;
    Ok(axum::Json(challenge_json(
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
async fn answer_challenge(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, identity, challenge)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let params = Params::parse(&body);
    let payload = params.get("AuthPayload").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter AuthPayload in the post body")
    })?;
    let now = Instant::now();
    let challenge = state
        .core
        .answer_challenge(&service, &identity, &challenge, payload, now)
        .await?;
    let entity = state.core.entity(&service, &identity, false, now).await?;
    Ok(axum::Json(challenge_json(&service, &identity, &entity.sid, &challenge)).into_response())
}

pub fn rate_limit_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/Services/{service}/RateLimits",
            post(create_rate_limit).get(list_rate_limits),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{limit}",
            get(fetch_rate_limit)
                .post(update_rate_limit)
                .delete(delete_rate_limit),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{limit}/Buckets",
            post(create_bucket).get(list_buckets),
        )
        .route(
            "/v2/Services/{service}/RateLimits/{limit}/Buckets/{bucket}",
            get(fetch_bucket).post(update_bucket).delete(delete_bucket),
        )
}

const MAX_RATE_LIMITS: i64 = 10;
const MAX_BUCKETS: i64 = 10;

async fn limit_of(
    state: &AppState,
    service: &ServiceRecord,
    sid: &str,
) -> Result<crate::store::RateLimitRecord, TwilioError> {
    state
        .core
        .store
        .rate_limits(&service.sid)
        .await
        .map_err(internal)?
        .into_iter()
        .find(|l| l.sid == sid)
        .ok_or_else(TwilioError::not_found)
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
async fn create_rate_limit(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let params = Params::parse(&body);
    let name = params.get("UniqueName").ok_or_else(|| {
        TwilioError::invalid("Missing required parameter UniqueName in the post body")
    })?;
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(TwilioError::new(
            StatusCode::BAD_REQUEST,
            60209,
            "Invalid UniqueName: letters, digits, _ or -, at most 64",
        ));
    }
    let now = Instant::now();
    let limit = crate::store::RateLimitRecord {
        sid: sid_of("RK"),
        service_sid: service.sid.clone(),
        unique_name: name.to_owned(),
        description: params
            .get("Description")
            .map(|d| d.chars().take(256).collect()),
        created_at: now,
        updated_at: now,
    };
    match state
        .core
        .store
        .insert_rate_limit(&limit, MAX_RATE_LIMITS)
        .await
        .map_err(internal)?
    {
        CappedInsert::Inserted => {}
        CappedInsert::Full => {
            return Err(TwilioError::new(
                StatusCode::BAD_REQUEST,
                60207,
                "Max rate limits reached for this service",
            ));
        }
        CappedInsert::Duplicate => {
            return Err(TwilioError::new(
                StatusCode::BAD_REQUEST,
                60208,
                "A rate limit with this UniqueName already exists",
            ));
        }
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(rate_limit_json(&service, &limit)),
    )
        .into_response())
}

fn sid_of(prefix: &str) -> String {
    sid(prefix)
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
async fn list_rate_limits(
    State(state): State<AppState>,
    Account(account): Account,
    Path(sid): Path<String>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limits = state
        .core
        .store
        .rate_limits(&service.sid)
        .await
        .map_err(internal)?;
    let url = format!(
        "{}/v2/Services/{}/RateLimits",
        state.core.tokens.issuer, service.sid
    );
    Ok(axum::Json(RateLimitPage {
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
async fn fetch_rate_limit(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limit = limit_of(&state, &service, &limit).await?;
    Ok(axum::Json(rate_limit_json(&service, &limit)).into_response())
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
async fn update_rate_limit(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limit = limit_of(&state, &service, &limit).await?;
    let params = Params::parse(&body);
    let description = params
        .get("Description")
        .map(|d| d.chars().take(256).collect::<String>());
    state
        .core
        .store
        .update_rate_limit(
            &limit.sid,
            description.as_deref().or(limit.description.as_deref()),
            Instant::now(),
        )
        .await
        .map_err(internal)?;
    let limit = limit_of(&state, &service, &limit.sid).await?;
    Ok(axum::Json(rate_limit_json(&service, &limit)).into_response())
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
async fn delete_rate_limit(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limit = limit_of(&state, &service, &limit).await?;
    state
        .core
        .store
        .delete_rate_limit(&limit.sid)
        .await
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn bucket_numbers(
    params: &Params,
    required: bool,
) -> Result<(Option<i64>, Option<i64>), TwilioError> {
    let max = params.number("Max", 1..=1_000_000)?;
    let interval = params.number("Interval", 1..=86_400)?;
    if required && (max.is_none() || interval.is_none()) {
        return Err(TwilioError::invalid(
            "Missing required parameters Max and Interval in the post body",
        ));
    }
    Ok((max, interval))
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
async fn create_bucket(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limit = limit_of(&state, &service, &limit).await?;
    let (max, interval) = bucket_numbers(&Params::parse(&body), true)?;
    let now = Instant::now();
    let bucket = crate::store::BucketRecord {
        sid: sid_of("BL"),
        rate_limit_sid: limit.sid.clone(),
        max: max.unwrap_or(1),
        interval: interval.unwrap_or(60),
        created_at: now,
        updated_at: now,
    };
    match state
        .core
        .store
        .insert_bucket(&bucket, MAX_BUCKETS)
        .await
        .map_err(internal)?
    {
        CappedInsert::Inserted => {}
        CappedInsert::Full => {
            return Err(TwilioError::new(
                StatusCode::BAD_REQUEST,
                60210,
                "Max buckets reached for this rate limit",
            ));
        }
        CappedInsert::Duplicate => {
            return Err(TwilioError::new(
                StatusCode::BAD_REQUEST,
                60211,
                "A bucket with this Interval already exists",
            ));
        }
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(bucket_json(&service, &bucket)),
    )
        .into_response())
}

async fn bucket_of(
    state: &AppState,
    limit: &crate::store::RateLimitRecord,
    sid: &str,
) -> Result<crate::store::BucketRecord, TwilioError> {
    state
        .core
        .store
        .buckets(&limit.sid)
        .await
        .map_err(internal)?
        .into_iter()
        .find(|b| b.sid == sid)
        .ok_or_else(TwilioError::not_found)
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
async fn list_buckets(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit)): Path<(String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limit = limit_of(&state, &service, &limit).await?;
    let buckets = state
        .core
        .store
        .buckets(&limit.sid)
        .await
        .map_err(internal)?;
    let url = format!(
        "{}/v2/Services/{}/RateLimits/{}/Buckets",
        state.core.tokens.issuer, service.sid, limit.sid
    );
    Ok(axum::Json(BucketPage {
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
async fn fetch_bucket(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit, bucket)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limit = limit_of(&state, &service, &limit).await?;
    let bucket = bucket_of(&state, &limit, &bucket).await?;
    Ok(axum::Json(bucket_json(&service, &bucket)).into_response())
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
async fn update_bucket(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit, bucket)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limit = limit_of(&state, &service, &limit).await?;
    let current = bucket_of(&state, &limit, &bucket).await?;
    let (max, interval) = bucket_numbers(&Params::parse(&body), false)?;
    state
        .core
        .store
        .update_bucket(
            &current.sid,
            max.unwrap_or(current.max),
            interval.unwrap_or(current.interval),
            Instant::now(),
        )
        .await
        .map_err(|_| {
            TwilioError::new(
                StatusCode::BAD_REQUEST,
                60211,
                "A bucket with this Interval already exists",
            )
        })?;
    let bucket = bucket_of(&state, &limit, &current.sid).await?;
    Ok(axum::Json(bucket_json(&service, &bucket)).into_response())
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
async fn delete_bucket(
    State(state): State<AppState>,
    Account(account): Account,
    Path((sid, limit, bucket)): Path<(String, String, String)>,
) -> Result<Response, TwilioError> {
    let service = service_of(&state, &account, &sid).await?;
    let limit = limit_of(&state, &service, &limit).await?;
    let bucket = bucket_of(&state, &limit, &bucket).await?;
    state
        .core
        .store
        .delete_bucket(&bucket.sid)
        .await
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `RateLimits` of a verification (a JSON object, as the SDKs send it): each named limit's
/// buckets count this key, and a full bucket refuses the verification.
async fn apply_rate_limits(
    state: &AppState,
    service: &ServiceRecord,
    params: &Params,
) -> Result<(), TwilioError> {
    let Some(raw) = params.get("RateLimits") else {
        return Ok(());
    };
    let keys: std::collections::BTreeMap<String, Value> =
        serde_json::from_str(raw).map_err(|_| {
            TwilioError::invalid(
                "Invalid parameter `RateLimits`: a JSON object of unique names and values",
            )
        })?;
    let limits = state
        .core
        .store
        .rate_limits(&service.sid)
        .await
        .map_err(internal)?;
    let now = Instant::now();
    for (name, value) in keys {
        let Some(limit) = limits.iter().find(|l| l.unique_name == name) else {
            continue;
        };
        let value = match value {
            Value::String(s) => s,
            other => other.to_string(),
        };
        for bucket in state
            .core
            .store
            .buckets(&limit.sid)
            .await
            .map_err(internal)?
        {
            let window = bucket.interval * 1000;
            let start = now.millis() - now.millis().rem_euclid(window);
            let key = format!("verify:{}:{}:{value}", bucket.sid, window);
            let count = state
                .core
                .store
                .hit_rate_limit(&key, start)
                .await
                .map_err(internal)?;
            if count > bucket.max {
                return Err(TwilioError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    60203,
                    format!(
                        "Max send attempts reached: rate limit {name} allows {} per {} s",
                        bucket.max, bucket.interval
                    ),
                ));
            }
        }
    }
    Ok(())
}
