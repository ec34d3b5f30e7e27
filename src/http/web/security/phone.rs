//! The verified phone from the security page: a user with a phone method edits its number on a
//! page of its own (the number now, a new one, a code sent to it, a confirmation); one without
//! adds a phone as at enrolment. A new number counts once the code sent to it is confirmed.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::recent;
use crate::clock::Instant;
use crate::domain::{Channel, MethodId, MethodKind, PhoneNumber, RequestedMethod, User};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::enroll::{
    ChannelChoice, ConfirmPhonePage, EnrolPlace, EnrollPage, RecoveryCodesPage, phone_shown,
};
use crate::http::web::forms::{PhoneConfirmForm, PhoneForm, phone_channel};
use crate::http::web::login::explain;
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::store::MethodRecord;
use crate::two_factor::channels::Offered;
use crate::two_factor::{EnableMethod, TwoFactorError};
use crate::verify::Destination;

/// The page that replaces the number of a phone method.
#[derive(Template)]
#[template(path = "change_phone.html")]
struct ChangePhonePage {
    chrome: Chrome,
    error: Option<String>,
    /// The number now, masked.
    masked: String,
    /// The new number as typed.
    phone: String,
    channels: Vec<ChannelChoice>,
}

/// The confirmation that a new number is verified.
#[derive(Template)]
#[template(path = "phone_verified.html")]
struct PhoneVerifiedPage {
    chrome: Chrome,
    masked: String,
}

/// The user's phone method, if any, and what the user may use now.
async fn phone_and_offer(
    state: &AppState,
    user: &User,
) -> Result<(Option<MethodRecord>, Offered), TwoFactorError> {
    let phone = state
        .core
        .two_factor
        .user_methods(user.id)
        .await?
        .into_iter()
        .find(|m| m.kind == MethodKind::Phone);
    Ok((phone, state.core.two_factor.offered_now().await?))
}

/// The form for a phone: a new number for the phone method, or a first phone.
#[allow(clippy::too_many_arguments)]
fn phone_form(
    cookies: Cookies,
    chrome: Chrome,
    user: &User,
    existing: Option<&MethodRecord>,
    offered: &Offered,
    typed: Option<&str>,
    channel: Option<Channel>,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    match existing {
        Some(method) => cookies.page(
            status,
            &ChangePhonePage {
                chrome,
                error,
                masked: method
                    .mobile_phone
                    .as_ref()
                    .map(PhoneNumber::masked)
                    .unwrap_or_default(),
                phone: typed.map(phone_shown).unwrap_or_default(),
                channels: ChannelChoice::list(&offered.phone_channels, channel.or(method.channel)),
            },
        ),
        None => {
            // The number on the profile is offered first.
            let shown = typed.map(phone_shown).unwrap_or_else(|| {
                user.mobile_phone
                    .as_ref()
                    .map(|p| p.e164().to_owned())
                    .unwrap_or_default()
            });
            cookies.page(
                status,
                &EnrollPage::new(chrome, EnrolPlace::Security, offered, shown, channel, error),
            )
        }
    }
}

pub async fn phone_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (existing, offered) = match phone_and_offer(&state, &user).await {
        Ok(found) => found,
        Err(error) => return internal(&state, &headers, error),
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    phone_form(
        cookies,
        chrome,
        &user,
        existing.as_ref(),
        &offered,
        None,
        None,
        None,
    )
}

pub async fn phone_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<PhoneForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (existing, offered) = match phone_and_offer(&state, &user).await {
        Ok(found) => found,
        Err(error) => return internal(&state, &headers, error),
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let channel = phone_channel(form.channel.as_deref());
    let retry = |cookies: Cookies, chrome: Chrome, error: String| {
        phone_form(
            cookies,
            chrome,
            &user,
            existing.as_ref(),
            &offered,
            Some(&form.mobile_phone),
            channel,
            Some(error),
        )
    };
    let phone = match PhoneNumber::parse_in(&form.mobile_phone, state.edge.home_region) {
        Ok(phone) => phone,
        Err(e) => {
            return retry(
                cookies,
                chrome,
                format!("This number cannot be used: {}.", e.message),
            );
        }
    };
    let now = Instant::now();
    let two_factor = &state.core.two_factor;
    let sent = match &existing {
        Some(method) => {
            two_factor
                .send_phone_change_code(user.id, &method.id, phone.clone(), channel, &origin, now)
                .await
        }
        None => {
            let requested = RequestedMethod {
                kind: MethodKind::Phone,
                channel,
            };
            two_factor
                .send_enrollment_code(
                    user.id,
                    requested,
                    Destination::Phone(phone.clone()),
                    &origin,
                    now,
                )
                .await
        }
    };
    match sent {
        Ok(sent_by) => cookies.page(
            StatusCode::OK,
            &ConfirmPhonePage::new(
                chrome,
                &phone,
                sent_by,
                &offered.phone_channels,
                existing.map(|m| m.id.to_string()),
                EnrolPlace::Security,
                None,
            ),
        ),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => retry(cookies, chrome, explain(&other)),
    }
}

pub async fn phone_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<PhoneConfirmForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let Ok(phone) = PhoneNumber::parse_in(&form.mobile_phone, state.edge.home_region) else {
        return cookies.redirect("/security/phone");
    };
    let channel = phone_channel(form.channel.as_deref()).unwrap_or(Channel::Sms);
    let now = Instant::now();
    let method = form.method.as_deref().and_then(|m| MethodId::parse(m).ok());
    let two_factor = &state.core.two_factor;
    let outcome = match &method {
        Some(method) => two_factor
            .change_method_phone_in_session(
                &session,
                method,
                &phone,
                form.code.trim(),
                &origin,
                now,
            )
            .await
            .map(|()| None),
        None => {
            let request = EnableMethod {
                kind: MethodKind::Phone,
                code: form.code.trim().to_owned(),
                secret: None,
                name: None,
                mobile_phone: Some(phone.clone()),
                email: None,
            };
            two_factor
                .enable_method_in_session(&session, &request, &origin, now)
                .await
                .map(|enabled| enabled.recovery_codes)
        }
    };
    match outcome {
        Ok(Some(codes)) => cookies.page(
            StatusCode::OK,
            &RecoveryCodesPage::new(
                chrome,
                codes,
                Some("Your phone is verified.".into()),
                None,
                "/security/done",
            ),
        ),
        Ok(None) if method.is_some() => cookies.page(
            StatusCode::OK,
            &PhoneVerifiedPage {
                chrome,
                masked: phone.masked(),
            },
        ),
        Ok(None) => cookies.redirect("/security?done=phone"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => {
            let offered = match two_factor.offered_now().await {
                Ok(offered) => offered,
                Err(error) => return internal(&state, &headers, error),
            };
            cookies.page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ConfirmPhonePage::new(
                    chrome,
                    &phone,
                    channel,
                    &offered.phone_channels,
                    method.map(|m| m.to_string()),
                    EnrolPlace::Security,
                    Some(explain(&other)),
                ),
            )
        }
    }
}
