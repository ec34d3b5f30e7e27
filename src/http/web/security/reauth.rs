//! Re-authentication: the password again, with a code of a method or a security key when the
//! user has one, before security settings can change. The same page asks what an application's
//! sign-in still needs (step-up, `web::step_up`): the password when the login is too old, or a
//! second factor alone; and the second factor a site behind a reverse proxy asks
//! (`web::forward_auth`). A key is offered whenever the user has one (`reauth_key.rs`): the
//! prompt when keys are their only second factor, else beside the code.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::clock::Instant;
use crate::domain::{MethodId, User};
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::{MethodForm, ReauthForm, phone_channel};
use crate::http::web::login::explain;
use crate::http::web::{Choice, Chrome, Cookies, WebForm, internal, signed_in};
use crate::oidc::Step;
use crate::two_factor::TwoFactorError;

/// What the person re-authenticates for.
pub enum Purpose {
    /// Security settings.
    Settings,
    /// The sign-in to the application named `client`, which asks for `step`.
    Application { client: String, step: Step },
    /// A site behind a reverse proxy, by its host, whose access rule asks for a second factor.
    Site { host: String },
}

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage {
    chrome: Chrome,
    title: &'static str,
    /// What is asked, and why, in a sentence.
    lead: String,
    notice: Option<String>,
    error: Option<String>,
    /// Where the form and the send buttons post.
    action: &'static str,
    /// Where "continue" goes when a second factor must be set up first.
    continue_to: &'static str,
    needs_password: bool,
    needs_code: bool,
    /// The user has security keys (and the server a relying party): "Use a security key".
    offer_key: bool,
    /// Keys are the user's only second factor: the key is the prompt, no code is asked.
    key_prompt: bool,
    /// A second factor is asked of an account that has none: it is set up first.
    set_one_up: bool,
    send_methods: Vec<Choice>,
}

pub async fn render_reauth(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    purpose: &Purpose,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let two_factor = &state.core.two_factor;
    let (methods, offered, factors) = match (
        two_factor.code_methods(user).await,
        two_factor.offered_now().await,
        two_factor.second_factors(user.id).await,
    ) {
        (Ok(methods), Ok(offered), Ok(factors)) => (methods, offered, factors),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => {
            return internal(state, headers, error);
        }
    };
    let has_method = !methods.is_empty();
    // Keys are of no use where the server has no relying party: only codes are asked there.
    let offer_key = factors.keys && state.core.webauthn.relying_party().is_some();
    let with_code = if has_method || offer_key {
        " with your second factor"
    } else {
        ""
    };
    let give = match (has_method, offer_key) {
        (true, true) => "give a code or use your security key",
        (false, true) => "use your security key",
        _ => "give a code",
    };
    let mut continue_to = "/oauth2/continue";
    let (title, lead, action, needs_password) = match purpose {
        Purpose::Settings => (
            "Confirm it's you — Security settings",
            format!("Security settings need a fresh login{with_code}."),
            "/security/reauth",
            true,
        ),
        Purpose::Application {
            client,
            step: Step::Reauthenticate,
        } => (
            "Confirm it's you",
            format!("{client} asks for a recent login: confirm it's you{with_code}."),
            "/oauth2/step-up",
            true,
        ),
        Purpose::Application {
            client,
            step: Step::SecondFactor,
        } => (
            "Confirm it's you",
            if has_method || offer_key {
                format!("{client} asks for your second factor: {give} to go on.")
            } else {
                format!(
                    "{client} asks for a second factor, and your account has none yet. Set one \
                     up in your security settings, then continue."
                )
            },
            "/oauth2/step-up",
            false,
        ),
        Purpose::Site { host } => {
            continue_to = "/forward-auth/continue";
            (
                "Confirm it's you",
                if has_method || offer_key {
                    format!("{host} asks for your second factor: {give} to go on.")
                } else {
                    format!(
                        "{host} asks for a second factor, and your account has none yet. Set one \
                         up in your security settings, then continue."
                    )
                },
                "/forward-auth/step-up",
                false,
            )
        }
    };
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(user));
    cookies.page(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &ReauthPage {
            chrome,
            title,
            lead,
            notice,
            error,
            action,
            continue_to,
            needs_password,
            needs_code: has_method,
            offer_key,
            key_prompt: offer_key && !has_method,
            set_one_up: !has_method && !offer_key && !needs_password,
            send_methods: Choice::list(&methods, &offered.phone_channels, false),
        },
    )
}

pub async fn reauth_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((_, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    render_reauth(&state, &headers, &user, &Purpose::Settings, None, None).await
}

pub async fn reauth_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<ReauthForm>,
) -> Response {
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    let code = Some(form.code.trim()).filter(|c| !c.is_empty());
    match state
        .core
        .logins
        .reauthenticate(&session, &form.password, code, &origin, Instant::now())
        .await
    {
        Ok(()) => Cookies::new(&state, &headers).redirect("/security"),
        Err(error) => refused(&state, &headers, &user, &Purpose::Settings, error).await,
    }
}

/// The page again, saying why the proof was refused.
pub async fn refused(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    purpose: &Purpose,
    error: TwoFactorError,
) -> Response {
    match error {
        TwoFactorError::Internal(error) => internal(state, headers, format!("{error:#}")),
        TwoFactorError::WrongCode => {
            let why = if matches!(
                purpose,
                Purpose::Application {
                    step: Step::SecondFactor,
                    ..
                } | Purpose::Site { .. }
            ) {
                "The code is not right."
            } else {
                "The password or the code is not right."
            };
            render_reauth(state, headers, user, purpose, None, Some(why.into())).await
        }
        other => {
            let page =
                render_reauth(state, headers, user, purpose, None, Some(explain(&other))).await;
            match other {
                TwoFactorError::TooManyFailures {
                    retry_after_seconds,
                } => throttled(page, retry_after_seconds),
                _ => page,
            }
        }
    }
}

pub async fn reauth_send(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<MethodForm>,
) -> Response {
    let Some((session, user)) = signed_in(&state, &headers).await else {
        return Cookies::new(&state, &headers).redirect("/login");
    };
    send_code(
        &state,
        &headers,
        &session,
        &user,
        &form,
        &origin,
        &Purpose::Settings,
    )
    .await
}

/// Sends a code of one of the user's methods for the page's form, and shows the page again.
pub async fn send_code(
    state: &AppState,
    headers: &HeaderMap,
    session: &crate::store::SessionRecord,
    user: &User,
    form: &MethodForm,
    origin: &crate::audit::Origin,
    purpose: &Purpose,
) -> Response {
    let Ok(method) = MethodId::parse(&form.method) else {
        return render_reauth(
            state,
            headers,
            user,
            purpose,
            None,
            Some("Choose one of your methods.".into()),
        )
        .await;
    };
    match state
        .core
        .two_factor
        .send_reauth_code(
            user.id,
            &session.id,
            &method,
            phone_channel(form.channel.as_deref()),
            origin,
            Instant::now(),
        )
        .await
    {
        Ok(()) => {
            render_reauth(
                state,
                headers,
                user,
                purpose,
                Some("We sent you a code.".into()),
                None,
            )
            .await
        }
        Err(TwoFactorError::Internal(error)) => internal(state, headers, format!("{error:#}")),
        Err(other) => {
            render_reauth(state, headers, user, purpose, None, Some(explain(&other))).await
        }
    }
}
