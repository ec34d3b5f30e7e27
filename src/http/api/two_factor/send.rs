//! `POST /api/two-factor/send`: codes sent to a phone (by text, call or WhatsApp) or an email
//! address, to finish a login, to enrol a method, or to prove one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::clock::Instant;
use crate::domain::{Channel, Email, MethodId, MethodKind, PhoneNumber, RequestedMethod};
use crate::http::AppState;
use crate::http::api::ids::parse_user_id;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Caller, RequestOrigin};
use crate::otp::TotpSecret;
use crate::verify::Destination;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendForLoginBody {
    /// Where to send; without it, the preferred of the user's methods that receive codes.
    method_id: Option<String>,
    /// How a phone hears the code: `sms`, `call` or `whatsapp` (among the `channels` of the
    /// method in the 242 answer); without it, the way the phone heard its last code.
    channel: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
}

/// `POST /api/two-factor/send/{twoFactorId}` `{methodId?, channel?}`: sends the code that
/// finishes this login to a phone or email method (`{}`: the user's preferred one), to a phone
/// by the channel named. Codes sent before in this login to other destinations stop working; a
/// resend to the same one sends the same code.
#[utoipa::path(
    post, path = "/api/two-factor/send/{twoFactorId}", tag = "two-factor",
    params(("twoFactorId" = String, Path, description = "From the 242 answer of `POST /api/login`")),
    request_body = SendForLoginBody,
    responses(
        (status = 200, description = "The code is on its way (no body)"),
        (status = 403, description = "The destination or method is refused", body = crate::http::error::Errors),
        (status = 404, description = "The twoFactorId or the method is unknown (no body)"),
        (status = 429, description = "A send limit is reached", body = crate::http::error::Errors),
    )
)]
pub async fn send_for_login(
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    Path(two_factor_id): Path<String>,
    ApiJson(body): ApiJson<SendForLoginBody>,
) -> Result<StatusCode, ApiError> {
    if two_factor_id.is_empty() || two_factor_id.len() > 128 {
        return Err(ApiError::Empty(StatusCode::NOT_FOUND));
    }
    let method_id = body
        .method_id
        .as_deref()
        .map(MethodId::parse)
        .transpose()
        .map_err(|e| ApiError::field("methodId", e.code, e.message))?;
    let channel = parse_channel(body.channel.as_deref())?;
    state
        .core
        .two_factor
        .send_login_code(
            &two_factor_id,
            method_id.as_ref(),
            channel,
            &origin,
            Instant::now(),
        )
        .await?;
    Ok(StatusCode::OK)
}

fn parse_channel(raw: Option<&str>) -> Result<Option<Channel>, ApiError> {
    raw.map(str::parse::<Channel>)
        .transpose()
        .map_err(|e| ApiError::field("channel", e.code, e.message))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendBody {
    /// `sms`, `email`, or a phone named by the way it hears the code (`voice`, `whatsapp`).
    method: Option<String>,
    /// How a phone hears the code: `sms`, `call` or `whatsapp`; it overrides what `method`
    /// implies.
    channel: Option<String>,
    mobile_phone: Option<String>,
    email: Option<String>,
    method_id: Option<String>,
    user_id: Option<String>,
    /// The older enable shape: `{mobilePhone, secret}` sends a code for enabling.
    secret: Option<String>,
    #[allow(dead_code)]
    application_id: Option<String>,
}

/// `POST /api/two-factor/send`: a code to enrol a phone or an address
/// (`{method, mobilePhone | email}`), or to prove a method before removing it (`{methodId}`),
/// or the legacy forms `{mobilePhone, secret}` and `{userId}`. With an API key, `userId` names
/// the user; with a JWT, the caller is the user (after a recent login).
#[utoipa::path(
    post, path = "/api/two-factor/send", tag = "two-factor",
    security(("apiKey" = []), ("bearer" = [])),
    request_body = SendBody,
    responses(
        (status = 200, description = "The code is on its way (no body)"),
        (status = 403, description = "The destination or method is refused", body = crate::http::error::Errors),
        (status = 404, description = "No such user or method (no body)"),
        (status = 429, description = "A send limit is reached", body = crate::http::error::Errors),
    )
)]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    RequestOrigin(origin): RequestOrigin,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<StatusCode, ApiError> {
    let now = Instant::now();
    let user = match &caller {
        Caller::User(session) => {
            session.require_recent_login(&state, now).await?;
            Some(session.user.id)
        }
        Caller::ApiKey(_) => body.user_id.as_deref().map(parse_user_id).transpose()?,
    };
    let phone = body
        .mobile_phone
        .as_deref()
        .map(|raw| PhoneNumber::parse_in(raw, state.edge.home_region))
        .transpose()
        .map_err(|e| ApiError::field("mobilePhone", e.code, e.message))?;
    let need_user = || ApiError::field("userId", "[blank]", "with an API key, give the userId");
    let channel = parse_channel(body.channel.as_deref())?;
    if let Some(method_id) = &body.method_id {
        let method_id = MethodId::parse(method_id)
            .map_err(|e| ApiError::field("methodId", e.code, e.message))?;
        let user = user.ok_or_else(need_user)?;
        match phone {
            // A new number for a phone method.
            Some(phone) => {
                state
                    .core
                    .two_factor
                    .send_phone_change_code(user, &method_id, phone, channel, &origin, now)
                    .await?;
            }
            None => {
                state
                    .core
                    .two_factor
                    .send_method_code(user, &method_id, channel, &origin, now)
                    .await?
            }
        }
        return Ok(StatusCode::OK);
    }
    if let Some(method) = &body.method {
        let mut requested = method
            .parse::<RequestedMethod>()
            .map_err(|e| ApiError::field("method", e.code, e.message))?;
        if requested.kind == MethodKind::Phone && channel.is_some() {
            requested.channel = channel;
        }
        let user = user.ok_or_else(need_user)?;
        let account = state
            .core
            .accounts
            .user(user)
            .await?
            .ok_or(ApiError::Empty(StatusCode::NOT_FOUND))?;
        let destination = match requested.kind {
            MethodKind::Email => {
                let email = match &body.email {
                    Some(raw) => Email::parse(raw)
                        .map_err(|e| ApiError::field("email", e.code, e.message))?,
                    None => account.email.ok_or_else(|| {
                        ApiError::field("email", "[blank]", "give the email address to verify")
                    })?,
                };
                Destination::Email(email)
            }
            _ => Destination::Phone(phone.or(account.mobile_phone).ok_or_else(|| {
                ApiError::field(
                    "mobilePhone",
                    "[blank]",
                    "give the mobile phone number to verify",
                )
            })?),
        };
        state
            .core
            .two_factor
            .send_enrollment_code(user, requested, destination, &origin, now)
            .await?;
        return Ok(StatusCode::OK);
    }
    if let (Some(phone), Some(secret)) = (phone, &body.secret) {
        let secret = TotpSecret::from_base64(secret)
            .or_else(|_| TotpSecret::from_base32(secret))
            .map_err(|e| ApiError::field("secret", e.code, e.message))?;
        state
            .core
            .two_factor
            .send_legacy_enrollment_code(user, Destination::Phone(phone), &secret, &origin, now)
            .await?;
        return Ok(StatusCode::OK);
    }
    if let Some(user) = user {
        let method_id = state.core.two_factor.phone_method(user).await?;
        state
            .core
            .two_factor
            .send_method_code(user, &method_id, channel, &origin, now)
            .await?;
        return Ok(StatusCode::OK);
    }
    Err(ApiError::field(
        "method",
        "[blank]",
        "say what the code is for: {method, mobilePhone|email} to enrol, {methodId} for a method",
    ))
}
