//! The verified phone from the security page: a number, a code sent to it, the code confirmed.
//! A user with a phone method gets a new number for it; one without gets a new method.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::recent;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{MethodId, MethodKind, PhoneNumber, User};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::enroll::{ConfirmPhonePage, EnrollPage, RecoveryCodesPage, phone_kind};
use crate::http::web::forms::{PhoneConfirmForm, PhoneForm};
use crate::http::web::login::explain;
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::store::MethodRecord;
use crate::two_factor::{EnableMethod, TwoFactorError};
use crate::verify::Destination;

pub async fn phone_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let current = state
        .core
        .two_factor
        .user_methods(user.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|m| matches!(m.kind, MethodKind::Sms | MethodKind::Voice))
        .and_then(|m| m.mobile_phone)
        .map(|p| p.e164().to_owned())
        .unwrap_or_default();
    cookies.page(
        StatusCode::OK,
        &EnrollPage {
            chrome,
            error: None,
            phone: current,
            action: "/security/phone",
            authenticator_link: "/security/authenticator",
        },
    )
}

/// The user's phone method, if any: a new number replaces its number.
async fn phone_method(state: &AppState, user: &User) -> Option<MethodRecord> {
    state
        .core
        .two_factor
        .user_methods(user.id)
        .await
        .ok()?
        .into_iter()
        .find(|m| matches!(m.kind, MethodKind::Sms | MethodKind::Voice))
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
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, Some(&user));
    let retry = |cookies: Cookies, chrome: Chrome, error: String| {
        cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EnrollPage {
                chrome,
                error: Some(error),
                phone: form.mobile_phone.chars().take(40).collect(),
                action: "/security/phone",
                authenticator_link: "/security/authenticator",
            },
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
    let kind = phone_kind(&form.kind);
    let now = Instant::now();
    let existing = phone_method(&state, &user).await;
    let sent = match &existing {
        Some(method) => {
            state
                .core
                .two_factor
                .send_phone_change_code(user.id, &method.id, phone.clone(), &origin, now)
                .await
        }
        None => {
            state
                .core
                .two_factor
                .send_enrollment_code(
                    user.id,
                    kind,
                    Destination::Phone(phone.clone()),
                    &origin,
                    now,
                )
                .await
        }
    };
    match sent {
        Ok(()) => cookies.page(
            StatusCode::OK,
            &ConfirmPhonePage {
                chrome,
                error: None,
                masked: phone.masked(),
                phone: phone.e164().to_owned(),
                kind: kind.as_str().to_owned(),
                method_id: existing.map(|m| m.id.to_string()),
                action: "/security/phone/confirm",
            },
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
    let kind = phone_kind(&form.kind);
    let now = Instant::now();
    let actor = Actor::User(user.id);
    let method = form.method.as_deref().and_then(|m| MethodId::parse(m).ok());
    let outcome = match &method {
        Some(method) => state
            .core
            .two_factor
            .change_method_phone(
                user.id,
                method,
                &phone,
                form.code.trim(),
                actor,
                &origin,
                now,
            )
            .await
            .map(|()| None),
        None => {
            let request = EnableMethod {
                kind,
                code: form.code.trim().to_owned(),
                secret: None,
                name: None,
                mobile_phone: Some(phone.clone()),
                email: None,
            };
            state
                .core
                .two_factor
                .enable_method(user.id, &request, actor, &origin, now)
                .await
                .map(|enabled| enabled.recovery_codes)
        }
    };
    if outcome.is_ok()
        && let Err(error) = state
            .core
            .sessions
            .credit_second_factor(&session, kind, now)
            .await
    {
        return internal(&state, &headers, format!("{error:#}"));
    }
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
        Ok(None) => cookies.redirect("/security?done=phone"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ConfirmPhonePage {
                chrome,
                error: Some(explain(&other)),
                masked: phone.masked(),
                phone: phone.e164().to_owned(),
                kind: kind.as_str().to_owned(),
                method_id: method.map(|m| m.to_string()),
                action: "/security/phone/confirm",
            },
        ),
    }
}
