//! Second-factor methods from the security page: one removed, an authenticator app set up.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{recent, render};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::{MethodId, MethodKind, MethodName};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::enroll::{AuthenticatorPage, RecoveryCodesPage, setup};
use crate::http::web::forms::{AuthenticatorForm, MethodForm};
use crate::http::web::login::explain;
use crate::http::web::{Cookies, SETUP_COOKIE, WebForm, internal};
use crate::two_factor::{EnableMethod, TwoFactorError};

pub async fn remove_method(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<MethodForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Ok(method) = MethodId::parse(&form.method) else {
        return render(
            &state,
            &headers,
            &session,
            &user,
            None,
            Some("No such method.".into()),
        )
        .await;
    };
    match state
        .core
        .two_factor
        .remove_method(
            user.id,
            &method,
            Actor::User(user.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/security?done=removed"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => {
            render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some(explain(&other)),
            )
            .await
        }
    }
}

pub async fn authenticator_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state.core.two_factor.offered_now().await {
        Ok(offered) if offered.authenticator => {}
        Ok(_) => {
            return render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some("Authenticator apps are switched off on this server.".into()),
            )
            .await;
        }
        Err(error) => return internal(&state, &headers, error),
    }
    let mut cookies = Cookies::new(&state, &headers);
    let setup = match setup(&state, &headers, &mut cookies, &user).await {
        Ok(setup) => setup,
        Err(error) => return internal(&state, &headers, error),
    };
    let chrome = cookies.chrome(&state, Some(&user));
    cookies.page(
        StatusCode::OK,
        &AuthenticatorPage::new(
            chrome,
            &setup,
            String::new(),
            None,
            "/security/authenticator",
        ),
    )
}

pub async fn authenticator_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<AuthenticatorForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut cookies = Cookies::new(&state, &headers);
    let setup = match setup(&state, &headers, &mut cookies, &user).await {
        Ok(setup) => setup,
        Err(error) => return internal(&state, &headers, error),
    };
    let request = EnableMethod {
        kind: MethodKind::Authenticator,
        code: form.code.trim().to_owned(),
        secret: Some(setup.secret.clone()),
        name: MethodName::parse(&form.name).ok(),
        mobile_phone: None,
        email: None,
    };
    let chrome = cookies.chrome(&state, Some(&user));
    match state
        .core
        .two_factor
        .enable_method_in_session(&session, &request, &origin, Instant::now())
        .await
    {
        Ok(enabled) => {
            let _ = state
                .core
                .two_factor
                .finish_authenticator_setup(&setup.token)
                .await;
            cookies.clear(SETUP_COOKIE);
            match enabled.recovery_codes {
                Some(codes) => cookies.page(
                    StatusCode::OK,
                    &RecoveryCodesPage::new(
                        chrome,
                        codes,
                        Some("Your authenticator app is set up.".into()),
                        None,
                        "/security/done",
                    ),
                ),
                None => cookies.redirect("/security?done=authenticator"),
            }
        }
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &AuthenticatorPage::new(
                chrome,
                &setup,
                form.name,
                Some(explain(&other)),
                "/security/authenticator",
            ),
        ),
    }
}
