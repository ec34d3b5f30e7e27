//! The login pages: password, then the code prompt with its alternatives (an administrator's
//! one-time access code among them, which goes on to enrolment, and a security key, whose
//! ceremony `login_key.rs` runs).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::forms::{CodeForm, LoginForm, MethodForm, phone_channel};
use super::{Choice, Chrome, Cookies, PENDING_COOKIE, WebForm, cookie, internal};
use crate::auth::{LoginError, LoginOutcome, LoginRequest};
use crate::clock::Instant;
use crate::domain::{Channel, LoginId, MethodId, MethodKind, Password};
use crate::http::AppState;
use crate::http::cookies::{BROWSER_COOKIE, TRUST_COOKIE};
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::otp::AccessCode;
use crate::policy::LoginType;
use crate::sessions::IssuedTokens;
use crate::two_factor::channels::{self, describe};
use crate::two_factor::preference;
use crate::two_factor::{CompleteLogin, SecondStep, TwoFactorError, codes};
use crate::two_factor::{IssuedTrust, PendingLogin};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    username: String,
    error: Option<String>,
    notice: Option<String>,
    /// Where a login that expired during enrolment goes back to (`LoginQuery::expired`).
    resume: Option<String>,
    /// Self-registration is on: the page offers "Create an account".
    registration_open: bool,
    /// The page offers "Remember me" (`session.remember_me_seconds`), ticked or not.
    offer_remember_me: bool,
    remember_me: bool,
    /// WebAuthn is on: the page offers "Sign in with a passkey" (when the browser can).
    offer_passkey: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// `1`: a login expired; `enroll` or `authenticator`: it expired while the user enrolled
    /// there, where the next login goes back to.
    expired: Option<String>,
    out: Option<String>,
    /// `1`: a password was just reset by a link.
    reset: Option<String>,
    /// Where a reverse proxy's site wants the browser back once it is signed in.
    rd: Option<String>,
}

/// An enrolment step a login that expired there goes back to: its name in `?expired=` and the
/// form's `resume`, and its page. Anything else names none.
fn enrolment_step(raw: Option<&str>) -> Option<(&'static str, &'static str)> {
    match raw? {
        "enroll" => Some(("enroll", "/login/enroll")),
        "authenticator" => Some(("authenticator", "/login/enroll/authenticator")),
        _ => None,
    }
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let back = match query.rd.as_deref() {
        Some(rd) => Some(super::return_to::way_back(&state, rd).await),
        None => None,
    };
    if super::signed_in(&state, &headers).await.is_some() {
        let to = match &back {
            Some(Ok(back)) => back.as_str(),
            _ => "/",
        };
        return Cookies::new(&state, &headers).redirect(to);
    }
    let resume = enrolment_step(query.expired.as_deref()).map(|(step, _)| step.to_owned());
    let notice = if resume.is_some() {
        Some(
            "Setting up your second factor took longer than this login could wait. Enter your \
             password again to go on where you left off."
                .to_owned(),
        )
    } else if query.expired.is_some() {
        Some("Your login expired or had too many wrong codes. Please start again.".to_owned())
    } else if query.out.is_some() {
        Some("You are logged out.".to_owned())
    } else if query.reset.is_some() {
        Some("Your password is changed. Log in with the new one.".to_owned())
    } else if let Some(Err(note)) = &back {
        Some(note.clone())
    } else {
        None
    };
    let registration_open = match state.core.registration.is_open().await {
        Ok(open) => open,
        Err(error) => return internal(&state, &headers, error),
    };
    let offer_passkey = match state.core.webauthn.offers_passkeys().await {
        Ok(offered) => offered,
        Err(error) => return internal(&state, &headers, error),
    };
    let mut cookies = Cookies::new(&state, &headers);
    cookies.give_browser_id(&state, &headers);
    match &back {
        Some(Ok(back)) => super::return_to::keep(&mut cookies, back),
        // A way back kept by an earlier visit is not where this one, refused or ended by a
        // logout, is to lead.
        Some(Err(_)) => super::return_to::forget(&mut cookies, &headers, &state),
        None if query.out.is_some() => super::return_to::forget(&mut cookies, &headers, &state),
        None => {}
    }
    let chrome = cookies.chrome(&state, None);
    cookies.page(
        StatusCode::OK,
        &LoginPage {
            chrome,
            username: String::new(),
            error: None,
            notice,
            resume,
            registration_open,
            offer_remember_me: state.web.remember_me,
            remember_me: false,
            offer_passkey,
        },
    )
}

/// Keeps a login that just completed, whichever way it did (password, code, key, passkey): its
/// session cookie and the trust it gave, the pending login forgotten. Where it goes next (the
/// welcome step, an application's sign-in, the way back to a site) is the home page's to say.
pub(super) fn keep_login(
    cookies: &mut Cookies,
    tokens: &IssuedTokens,
    trust: Option<&IssuedTrust>,
    browser: Option<&str>,
    now: Instant,
) {
    cookies.clear(PENDING_COOKIE);
    cookies.set_session(&tokens.refresh_token, tokens.cookie_max_age);
    if let Some(trust) = trust {
        cookies.keep_trust(trust, browser, now);
    }
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<LoginForm>,
) -> Response {
    let mut cookies = Cookies::new(&state, &headers);
    let fail = |cookies: Cookies, status: StatusCode, error: &str| {
        let chrome = cookies.chrome(&state, None);
        cookies.page(
            status,
            &LoginPage {
                chrome,
                username: form.username.chars().take(254).collect(),
                error: Some(error.to_owned()),
                notice: None,
                resume: enrolment_step(form.resume.as_deref()).map(|(step, _)| step.to_owned()),
                // A refusal's page leaves the offer out rather than read the settings again.
                registration_open: false,
                offer_remember_me: state.web.remember_me,
                remember_me: form.remember.is_some(),
                offer_passkey: state.core.webauthn.relying_party().is_some(),
            },
        )
    };
    let (Ok(login_id), Ok(password)) = (
        LoginId::parse(&form.username),
        Password::attempt(&form.password),
    ) else {
        return fail(
            cookies,
            StatusCode::BAD_REQUEST,
            "Enter your username (or email) and your password.",
        );
    };
    let request = LoginRequest {
        login_id,
        password,
        application_id: None,
        login_type: LoginType::Web,
        trust_token: cookie(&state, &headers, TRUST_COOKIE),
        browser_id: cookie(&state, &headers, BROWSER_COOKIE),
        // Kept with the pending login on the server when a code is due, never asked again.
        remember_me: form.remember.is_some(),
    };
    let now = Instant::now();
    match state.core.logins.login(&request, &origin, now).await {
        Ok(LoginOutcome::Complete { tokens, trust, .. }) => {
            // A trust's token was spent for this one.
            let browser = request.browser_id.as_deref();
            keep_login(&mut cookies, &tokens, trust.as_ref(), browser, now);
            cookies.redirect("/")
        }
        Ok(LoginOutcome::PasswordChangeRequired { link, .. }) => {
            cookies.redirect(&format!("/reset-password/{}", link.id.expose()))
        }
        Ok(LoginOutcome::SecondFactor {
            user,
            two_factor_id,
            methods,
            code_sent_to,
            waits_seconds,
        }) => {
            cookies.set(PENDING_COOKIE, &two_factor_id, Some(waits_seconds), "Lax");
            // A user whose only second factor is a key finishes on the code page, by the key.
            let keys_only = methods.is_empty()
                && match state.core.webauthn.credentials_of(user.id).await {
                    Ok(keys) => !keys.is_empty(),
                    Err(error) => return internal(&state, &headers, format!("{error:#}")),
                };
            if keys_only {
                return cookies.redirect("/login/code");
            }
            if methods.is_empty() {
                // The welcome step, if any, waits until the login is complete. A login that
                // expired while enrolling goes back to where it was.
                let resume = enrolment_step(form.resume.as_deref())
                    .map_or("/login/enroll", |(_, page)| page);
                return cookies.redirect(resume);
            }
            // Moved from Authy: told so, and invited to set up an app once logged in.
            match code_sent_to {
                Some(method) if user.authy_migrated => {
                    cookies.redirect(&format!("/login/code?method={method}&sent=1&migrated=1"))
                }
                Some(method) => cookies.redirect(&format!("/login/code?method={method}&sent=1")),
                None => cookies.redirect("/login/code"),
            }
        }
        Err(LoginError::WrongCredentials) => fail(
            cookies,
            StatusCode::UNAUTHORIZED,
            "The username or password is not right.",
        ),
        Err(LoginError::Inactive) => fail(
            cookies,
            StatusCode::FORBIDDEN,
            "This account is disabled. Ask your administrator to enable it.",
        ),
        Err(LoginError::EmailNotVerified { sent_to }) => {
            let said = match sent_to {
                Some(to) => format!(
                    "Verify your email address before you log in: we sent a new link to {to}. \
                     Open it, then log in again."
                ),
                None => "Verify your email address before you log in: open the link we emailed \
                         you when you signed up, then log in again."
                    .to_owned(),
            };
            fail(cookies, StatusCode::FORBIDDEN, &said)
        }
        Err(
            refusal @ (LoginError::TwoFactorBlocked {
                retry_after_seconds,
            }
            | LoginError::Throttled {
                retry_after_seconds,
            }),
        ) => {
            let why = match refusal {
                LoginError::Throttled { .. } => {
                    "Too many wrong passwords were tried from your network."
                }
                _ => "Too many wrong codes were entered for this account.",
            };
            let message = format!(
                "{why} Try again in {} minutes.",
                (retry_after_seconds + 59) / 60
            );
            throttled(
                fail(cookies, StatusCode::TOO_MANY_REQUESTS, &message),
                retry_after_seconds,
            )
        }
        Err(LoginError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
    }
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<String>,
    show_alternatives: bool,
    methods: Vec<Choice>,
    confirm_send: bool,
    prompt: String,
    method_id: String,
    /// The channel of a phone's code; empty for other methods.
    channel: &'static str,
    recovery: bool,
    /// The prompt for an administrator's one-time access code.
    access: bool,
    resend: bool,
    offer_trust: bool,
    trust_days: i64,
    migrated: bool,
    /// The user has keys and WebAuthn is on: "Use a security key" is offered.
    offer_key: bool,
    /// The key is the prompt (asked for, or the user's only second factor), not a code.
    key_prompt: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeQuery {
    method: Option<String>,
    channel: Option<String>,
    alternatives: Option<String>,
    recovery: Option<String>,
    access: Option<String>,
    sent: Option<String>,
    migrated: Option<String>,
    /// `1`: the prompt is the security key's.
    key: Option<String>,
}

/// What the code page shows for one method.
struct Prompt {
    method: String,
    /// For a phone: the channel asked for (else its own, else the first offered).
    channel: Option<Channel>,
    recovery: bool,
    access: bool,
    sent: bool,
    migrated: bool,
    alternatives: bool,
    key: bool,
}

fn render_code(
    state: &AppState,
    cookies: Cookies,
    pending: &PendingLogin,
    prompt: Prompt,
    error: Option<String>,
) -> Response {
    let chrome = cookies.chrome(state, None);
    let chosen = MethodId::parse(&prompt.method)
        .ok()
        .and_then(|id| pending.methods.iter().find(|m| m.id == id))
        .or_else(|| preference::preferred(&pending.methods));
    let offer_key = pending.security_keys && state.core.webauthn.relying_party().is_some();
    let typed = prompt.recovery || prompt.access;
    let key_prompt = offer_key && (prompt.key || (chosen.is_none() && !typed));
    if chosen.is_none() && !pending.security_keys {
        return cookies.redirect("/login/enroll");
    }
    let masked = chosen
        .and_then(codes::destination_of)
        .map(|d| d.masked())
        .unwrap_or_default();
    let phone_channels = &pending.offered.phone_channels;
    // A phone's way: the one asked for if offered, else its own, else the first offered.
    let channel = match chosen {
        Some(method) if method.kind == MethodKind::Phone => {
            let asked = prompt.channel.filter(|c| phone_channels.contains(c));
            channels::channel_for(method, asked, phone_channels).ok()
        }
        _ => None,
    };
    let (text, confirm_send) = if key_prompt {
        (
            "Use your security key to finish logging in: select the button below, then touch \
             the key or unlock it as your browser asks."
                .to_owned(),
            false,
        )
    } else if prompt.access {
        (
            "Enter the one-time access code your administrator gave you. It lets you in once: \
             next you set up a new way to get your codes."
                .to_owned(),
            false,
        )
    } else if prompt.recovery {
        ("Enter one of your recovery codes.".to_owned(), false)
    } else if let Some(method) = chosen {
        match (method.kind, channel) {
            (MethodKind::Authenticator, _) => (
                "Enter the 6-digit code from your authenticator app.".to_owned(),
                false,
            ),
            _ if prompt.sent && prompt.migrated => (
                format!(
                    "Your account moved to a new verification service. We sent a code to {masked}; enter it below."
                ),
                false,
            ),
            (_, Some(channel)) if prompt.sent => (
                format!(
                    "We sent a code to {masked} by {}. Enter it below.",
                    describe(channel)
                ),
                false,
            ),
            _ if prompt.sent => (
                format!("We sent a code to {masked}. Enter it below."),
                false,
            ),
            (MethodKind::Phone, Some(Channel::Call)) => {
                (format!("We will call {masked} and read out a code."), true)
            }
            (MethodKind::Phone, Some(Channel::Whatsapp)) => (
                format!("We will send a code by WhatsApp to {masked}."),
                true,
            ),
            (MethodKind::Phone, Some(_)) => (
                format!("We will send a code by text message to {masked}."),
                true,
            ),
            (MethodKind::Phone, None) => (
                format!(
                    "Codes by phone are switched off on this server, so {masked} cannot get one now. Use another method below."
                ),
                false,
            ),
            (MethodKind::Email, _) => (format!("We will email a code to {masked}."), true),
        }
    } else {
        // Keys only, and WebAuthn off since they were added: the alternatives are left.
        (String::new(), false)
    };
    let channel_value = channel.map(Channel::as_str).unwrap_or_default();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let unreachable = match chosen {
        Some(method) => method.kind == MethodKind::Phone && channel.is_none(),
        None => !key_prompt && !typed,
    };
    let method_id = chosen.map(|m| m.id.to_string()).unwrap_or_default();
    cookies.page(
        status,
        &CodePage {
            chrome,
            notice: None,
            error,
            show_alternatives: prompt.alternatives || unreachable,
            methods: Choice::list(&pending.methods, phone_channels, true)
                .into_iter()
                .filter(|c| key_prompt || !(c.id == method_id && c.channel == channel_value))
                .collect(),
            confirm_send,
            prompt: text,
            method_id,
            channel: channel_value,
            recovery: prompt.recovery,
            access: prompt.access,
            resend: prompt.sent
                && chosen.is_some_and(|m| m.kind != MethodKind::Authenticator)
                && !key_prompt
                && !prompt.recovery
                && !prompt.access,
            // A login by access code trusts no computer (`TwoFactor::complete_login`).
            offer_trust: pending.policy.trusts_computers()
                && !pending.user.every_login
                && !prompt.access,
            trust_days: pending.policy.trust_days,
            migrated: prompt.migrated,
            offer_key,
            key_prompt,
        },
    )
}

pub(super) async fn pending(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, PendingLogin)>, Response> {
    let Some(id) = cookie(state, headers, PENDING_COOKIE) else {
        return Ok(None);
    };
    match state
        .core
        .two_factor
        .pending_login(&id, Instant::now())
        .await
    {
        Ok(found) => Ok(found.map(|p| (id, p))),
        Err(error) => Err(internal(state, headers, error)),
    }
}

pub async fn code_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CodeQuery>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let pending = match pending(&state, &headers).await {
        Ok(Some((_, pending))) => pending,
        Ok(None) => return cookies.redirect("/login?expired=1"),
        Err(response) => return response,
    };
    if pending.must_enrol() {
        return cookies.redirect("/login/enroll");
    }
    let prompt = Prompt {
        method: query.method.unwrap_or_default(),
        channel: phone_channel(query.channel.as_deref()),
        recovery: query.recovery.is_some(),
        access: query.access.is_some(),
        sent: query.sent.is_some(),
        migrated: query.migrated.is_some(),
        alternatives: query.alternatives.is_some(),
        key: query.key.is_some(),
    };
    render_code(&state, cookies, &pending, prompt, None)
}

pub async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<MethodForm>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let (id, pending) = match pending(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return cookies.redirect("/login?expired=1"),
        Err(response) => return response,
    };
    let Ok(method) = MethodId::parse(&form.method) else {
        return cookies.redirect("/login/code");
    };
    let channel = phone_channel(form.channel.as_deref());
    match state
        .core
        .two_factor
        .send_login_code(&id, Some(&method), channel, &origin, Instant::now())
        .await
    {
        Ok((_, channel)) => cookies.redirect(&format!(
            "/login/code?method={method}&channel={channel}&sent=1"
        )),
        Err(TwoFactorError::UnknownChallenge) => cookies.redirect("/login?expired=1"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => {
            let prompt = Prompt {
                method: form.method,
                channel,
                recovery: false,
                access: false,
                sent: false,
                migrated: false,
                alternatives: false,
                key: false,
            };
            let page = render_code(&state, cookies, &pending, prompt, Some(explain(&other)));
            match other {
                TwoFactorError::TooManyFailures {
                    retry_after_seconds,
                } => throttled(page, retry_after_seconds),
                _ => page,
            }
        }
    }
}

pub async fn code_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<CodeForm>,
) -> Response {
    let mut cookies = Cookies::new(&state, &headers);
    let (id, pending) = match pending(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return cookies.redirect("/login?expired=1"),
        Err(response) => return response,
    };
    // A computer trusted here is bound to the browser's id cookie (kept, or made now).
    let browser = form
        .trust
        .is_some()
        .then(|| super::browser_id(&state, &headers));
    let request = CompleteLogin {
        two_factor_id: id,
        code: form.code.trim().to_owned(),
        trust_computer: form.trust.is_some(),
        application_id: None,
        browser_id: browser.clone(),
    };
    let now = Instant::now();
    match state
        .core
        .two_factor
        .complete_login(&request, &origin, now)
        .await
    {
        // The login waits, under its pending cookie, for the new method's code.
        Ok(SecondStep::Enrol) => cookies.redirect("/login/enroll"),
        Ok(SecondStep::LoggedIn(done)) => {
            let trust = done.trust_token.as_ref();
            keep_login(&mut cookies, &done.tokens, trust, browser.as_deref(), now);
            // After an Authy migration the user is invited to set up an app or keep SMS.
            cookies.redirect(if form.migrated.is_some() {
                "/?welcome=1"
            } else {
                "/"
            })
        }
        Err(TwoFactorError::UnknownChallenge) => cookies.redirect("/login?expired=1"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => {
            let recovery = crate::otp::RecoveryCode::looks_like(&form.code);
            let access = form.access.is_some() || AccessCode::is_meant(&form.code);
            let prompt = Prompt {
                method: form.method,
                channel: phone_channel(form.channel.as_deref()),
                recovery: recovery && !access,
                access,
                sent: true,
                migrated: form.migrated.is_some(),
                alternatives: false,
                key: false,
            };
            let page = render_code(&state, cookies, &pending, prompt, Some(explain(&other)));
            match other {
                TwoFactorError::TooManyFailures {
                    retry_after_seconds,
                } => throttled(page, retry_after_seconds),
                _ => page,
            }
        }
    }
}

/// A two-factor refusal in words for a page.
pub fn explain(error: &TwoFactorError) -> String {
    match error {
        TwoFactorError::WrongCode => "That code is not right. Check it and try again.".to_owned(),
        TwoFactorError::CodeAlreadyUsed => {
            "That code was just used. Wait for your app to show the next one and enter it."
                .to_owned()
        }
        TwoFactorError::Invalid(fields) => fields
            .first()
            .map(|f| {
                let mut message = f.message.clone();
                if let Some(first) = message.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                format!("{message}.")
            })
            .unwrap_or_else(|| "Check what you entered.".to_owned()),
        TwoFactorError::UnknownChallenge => "Your login expired. Please start again.".to_owned(),
        TwoFactorError::UserNotFound => "This account no longer exists.".to_owned(),
        TwoFactorError::Forbidden(message) => message.clone(),
        TwoFactorError::TooManyFailures {
            retry_after_seconds,
        } => format!(
            "Too many wrong codes were entered for this account. Try again in {} minutes.",
            (retry_after_seconds + 59) / 60
        ),
        TwoFactorError::Delivery(error) => format!("{error}."),
        TwoFactorError::Internal(_) => "Something went wrong. Try again in a moment.".to_owned(),
    }
}
