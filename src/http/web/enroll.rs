//! Enrolment in the middle of a login that requires a second factor the user does not have yet,
//! or that an administrator's access code let through: a phone confirmed by a code, or an
//! authenticator app (a security key's ceremony is `enroll_key.rs`'s); then the recovery codes,
//! shown once.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use qrcode::QrCode;
use qrcode::render::svg;

use super::forms::{AuthenticatorForm, FinishForm, PhoneConfirmForm, PhoneForm, phone_channel};
use super::login::{explain, keep_login};
use super::{Chrome, Cookies, PENDING_COOKIE, SETUP_COOKIE, WebForm, cookie, internal};
use crate::clock::Instant;
use crate::domain::{Channel, Email, MethodKind, MethodName, PhoneNumber, RequestedMethod};
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::two_factor::channels::Offered;
use crate::two_factor::{
    AuthenticatorSetup, CompleteLogin, EnableMethod, Enabled, SecondStep, TwoFactorError,
};
use crate::verify::Destination;
use crate::webauthn::KeyChoices;

#[derive(Template)]
#[template(path = "enroll.html")]
pub struct EnrollPage {
    chrome: Chrome,
    error: Option<String>,
    phone: String,
    action: &'static str,
    /// None: authenticators are switched off.
    authenticator_link: Option<&'static str>,
    /// The ways a phone may hear its codes; none: phones are switched off.
    channels: Vec<ChannelChoice>,
    /// During a login that requires a second factor (else the security settings).
    at_login: bool,
    /// Codes by email, offered with this address filled in (the account's); None: not offered.
    email: Option<String>,
    /// An administrator's access code let this login through: it says so.
    after_access_code: bool,
    /// The keys a login may enrol (`WebAuthn::keys_offered`); none elsewhere.
    keys: KeyChoices,
    /// At a login that may trust this computer once a key is enrolled: for how many days.
    trust_days: Option<i64>,
}

/// One way a phone may hear its code, as a choice on a page.
pub struct ChannelChoice {
    pub value: &'static str,
    pub label: &'static str,
    /// In a sentence ("by phone call").
    pub said: &'static str,
    pub checked: bool,
}

impl ChannelChoice {
    /// The phone channels offered, the `chosen` one (else the first) checked.
    pub fn list(offered: &[Channel], chosen: Option<Channel>) -> Vec<ChannelChoice> {
        let chosen = chosen
            .filter(|c| offered.contains(c))
            .or_else(|| offered.first().copied());
        offered
            .iter()
            .map(|c| ChannelChoice {
                value: c.as_str(),
                label: channel_choice_label(*c),
                said: crate::two_factor::channels::describe(*c),
                checked: Some(*c) == chosen,
            })
            .collect()
    }
}

fn channel_choice_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "Text message (SMS)",
        Channel::Call => "Phone call",
        Channel::Whatsapp => "WhatsApp message",
        Channel::Email => "Email",
    }
}

/// Where a person sets up a second factor: during a login that requires one, or in the
/// security settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrolPlace {
    Login,
    Security,
}

impl EnrollPage {
    pub fn new(
        chrome: Chrome,
        place: EnrolPlace,
        offered: &Offered,
        phone: String,
        chosen: Option<Channel>,
        error: Option<String>,
    ) -> Self {
        Self::with_email(chrome, place, offered, phone, chosen, error, None)
    }

    /// The page with codes by email offered too, where the server offers them, with
    /// `account_email` filled in.
    pub fn with_email(
        chrome: Chrome,
        place: EnrolPlace,
        offered: &Offered,
        phone: String,
        chosen: Option<Channel>,
        error: Option<String>,
        account_email: Option<&Email>,
    ) -> Self {
        let (action, authenticator_link) = match place {
            EnrolPlace::Login => ("/login/enroll/phone", "/login/enroll/authenticator"),
            EnrolPlace::Security => ("/security/phone", "/security/authenticator"),
        };
        Self {
            chrome,
            error,
            phone,
            action,
            authenticator_link: offered.authenticator.then_some(authenticator_link),
            channels: ChannelChoice::list(&offered.phone_channels, chosen),
            at_login: place == EnrolPlace::Login,
            email: offered
                .email
                .then(|| account_email.map(Email::to_string).unwrap_or_default()),
            after_access_code: false,
            keys: KeyChoices::default(),
            trust_days: None,
        }
    }

    /// The page of a login that `pending` is, which says so when an access code let it through
    /// and offers the keys it may enrol.
    pub fn of_login(mut self, state: &AppState, pending: &crate::two_factor::PendingLogin) -> Self {
        self.after_access_code = pending.challenge.access_code_used;
        self.keys = state.core.webauthn.keys_offered(pending);
        self.trust_days = trust_offered(pending);
        self
    }
}

/// A phone's number as a form shows it back: the number typed, or the one on file.
pub fn phone_shown(typed: &str) -> String {
    typed.chars().take(40).collect()
}

#[derive(Template)]
#[template(path = "confirm_phone.html")]
pub struct ConfirmPhonePage {
    pub chrome: Chrome,
    pub error: Option<String>,
    pub masked: String,
    pub phone: String,
    /// The channel the code went by.
    pub channel: &'static str,
    /// In words ("text message").
    pub channel_said: &'static str,
    /// The other ways to have the code sent again.
    pub other_channels: Vec<ChannelChoice>,
    /// Where the other ways are asked for.
    pub resend_action: &'static str,
    pub method_id: Option<String>,
    pub action: &'static str,
}

impl ConfirmPhonePage {
    /// The page after a code went to `phone` by `channel`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chrome: Chrome,
        phone: &PhoneNumber,
        channel: Channel,
        offered: &[Channel],
        method_id: Option<String>,
        place: EnrolPlace,
        error: Option<String>,
    ) -> Self {
        let (action, resend_action) = match place {
            EnrolPlace::Login => ("/login/enroll/phone/confirm", "/login/enroll/phone"),
            EnrolPlace::Security => ("/security/phone/confirm", "/security/phone"),
        };
        Self {
            chrome,
            error,
            masked: phone.masked(),
            phone: phone.e164().to_owned(),
            channel: channel.as_str(),
            channel_said: crate::two_factor::channels::describe(channel),
            other_channels: ChannelChoice::list(offered, None)
                .into_iter()
                .filter(|c| c.value != channel.as_str())
                .collect(),
            resend_action,
            method_id,
            action,
        }
    }
}

#[derive(Template)]
#[template(path = "authenticator.html")]
pub struct AuthenticatorPage {
    pub chrome: Chrome,
    pub error: Option<String>,
    pub qr_svg: String,
    pub grouped_key: String,
    pub uri: String,
    pub name: String,
    pub action: &'static str,
    /// How long the key waits for its first code.
    pub minutes: i64,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage {
    pub chrome: Chrome,
    pub done: Option<String>,
    pub codes: Vec<String>,
    pub download: String,
    pub completion: Option<String>,
    pub action: &'static str,
    /// At a login that may trust this computer: for how many days ("Trust this computer").
    pub trust_days: Option<i64>,
}

impl AuthenticatorPage {
    pub fn new(
        chrome: Chrome,
        setup: &AuthenticatorSetup,
        name: String,
        error: Option<String>,
        action: &'static str,
    ) -> Self {
        let qr_svg = QrCode::new(setup.uri.as_bytes())
            .map(|qr| {
                qr.render::<svg::Color<'_>>()
                    .min_dimensions(220, 220)
                    .quiet_zone(true)
                    .build()
            })
            .unwrap_or_default();
        // The XML prolog is not allowed inside HTML.
        let qr_svg = match qr_svg.find("<svg") {
            Some(start) => qr_svg[start..].to_owned(),
            None => qr_svg,
        };
        let key = setup.secret.to_base32();
        let grouped_key = key
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            chrome,
            error,
            qr_svg,
            grouped_key,
            uri: setup.uri.clone(),
            name,
            action,
            minutes: (setup.lifetime_seconds + 59) / 60,
        }
    }
}

impl RecoveryCodesPage {
    pub fn new(
        chrome: Chrome,
        codes: Vec<String>,
        done: Option<String>,
        completion: Option<String>,
        action: &'static str,
    ) -> Self {
        let text = codes.join("\n");
        let download =
            percent_encoding::utf8_percent_encode(&text, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        Self {
            chrome,
            done,
            codes,
            download,
            completion,
            action,
            trust_days: None,
        }
    }
}

/// For how many days a login that enrolled its second factor may trust this computer, as its
/// code page would offer: where the settings trust computers, the user is not asked at every
/// login, and no access code let the login through (such a login trusts none).
pub(super) fn trust_offered(pending: &crate::two_factor::PendingLogin) -> Option<i64> {
    let offered = pending.policy.trusts_computers()
        && !pending.user.every_login
        && !pending.challenge.access_code_used;
    offered.then_some(pending.policy.trust_days)
}

/// The login waiting for enrolment, or where to send the browser instead: a login that expired
/// at `step` (`enroll`, `authenticator`) sends the next one back there.
pub(super) async fn enrolling(
    state: &AppState,
    headers: &HeaderMap,
    step: &str,
) -> Result<(String, crate::two_factor::PendingLogin), Response> {
    let cookies = Cookies::new(state, headers);
    let Some(id) = cookie(state, headers, PENDING_COOKIE) else {
        return Err(cookies.redirect(&format!("/login?expired={step}")));
    };
    match state
        .core
        .two_factor
        .pending_login(&id, Instant::now())
        .await
    {
        Ok(Some(pending)) if pending.must_enrol() => Ok((id, pending)),
        Ok(Some(_)) => Err(cookies.redirect("/login/code")),
        Ok(None) => Err(cookies.redirect(&format!("/login?expired={step}"))),
        Err(error) => Err(internal(state, headers, error)),
    }
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let pending = match enrolling(&state, &headers, "enroll").await {
        Ok((_, pending)) => pending,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, None);
    // The number on the profile is offered first: most people enrol the phone they gave.
    let profile_phone = pending
        .user
        .mobile_phone
        .as_ref()
        .map(|p| p.e164().to_owned())
        .unwrap_or_default();
    cookies.page(
        StatusCode::OK,
        &EnrollPage::with_email(
            chrome,
            EnrolPlace::Login,
            &pending.offered,
            profile_phone,
            None,
            None,
            pending.user.email.as_ref(),
        )
        .of_login(&state, &pending),
    )
}

pub async fn phone(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<PhoneForm>,
) -> Response {
    let (id, pending) = match enrolling(&state, &headers, "enroll").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, None);
    let channel = phone_channel(form.channel.as_deref());
    let offered = &pending.offered;
    let retry = |cookies: Cookies, chrome: Chrome, error: String| {
        cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EnrollPage::with_email(
                chrome,
                EnrolPlace::Login,
                offered,
                phone_shown(&form.mobile_phone),
                channel,
                Some(error),
                pending.user.email.as_ref(),
            )
            .of_login(&state, &pending),
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
    let requested = RequestedMethod {
        kind: MethodKind::Phone,
        channel,
    };
    let sent = state
        .core
        .two_factor
        .send_enrollment_code_during_login(
            &id,
            requested,
            Destination::Phone(phone.clone()),
            &origin,
            Instant::now(),
        )
        .await;
    match sent {
        Ok(sent_by) => cookies.page(
            StatusCode::OK,
            &ConfirmPhonePage::new(
                chrome,
                &phone,
                sent_by,
                &offered.phone_channels,
                None,
                EnrolPlace::Login,
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
    let (id, pending) = match enrolling(&state, &headers, "enroll").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let cookies = Cookies::new(&state, &headers);
    let chrome = cookies.chrome(&state, None);
    let Ok(phone) = PhoneNumber::parse_in(&form.mobile_phone, state.edge.home_region) else {
        return cookies.redirect("/login/enroll");
    };
    let channel = phone_channel(form.channel.as_deref()).unwrap_or(Channel::Sms);
    let request = EnableMethod {
        kind: MethodKind::Phone,
        code: form.code.trim().to_owned(),
        secret: None,
        name: None,
        mobile_phone: Some(phone.clone()),
        email: None,
    };
    match state
        .core
        .two_factor
        .enable_method_during_login(&id, &request, &origin, Instant::now())
        .await
    {
        Ok(enabled) => recovery_page(
            cookies,
            chrome,
            (enabled, &pending),
            "Your phone is verified.",
        ),
        Err(TwoFactorError::UnknownChallenge) => cookies.redirect("/login?expired=enroll"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ConfirmPhonePage::new(
                chrome,
                &phone,
                channel,
                &pending.offered.phone_channels,
                None,
                EnrolPlace::Login,
                Some(explain(&other)),
            ),
        ),
    }
}

pub(super) fn recovery_page(
    cookies: Cookies,
    chrome: Chrome,
    (enabled, pending): (Enabled, &crate::two_factor::PendingLogin),
    done: &str,
) -> Response {
    let mut page = RecoveryCodesPage::new(
        chrome,
        enabled.recovery_codes.unwrap_or_default(),
        Some(done.to_owned()),
        enabled.completion_code,
        "/login/enroll/finish",
    );
    page.trust_days = trust_offered(pending);
    cookies.page(StatusCode::OK, &page)
}

/// The pending authenticator setup of this browser, or a new one.
pub async fn setup(
    state: &AppState,
    headers: &HeaderMap,
    cookies: &mut Cookies,
    user: &crate::domain::User,
) -> Result<AuthenticatorSetup, TwoFactorError> {
    let now = Instant::now();
    let account = user
        .email
        .as_ref()
        .map(|e| e.to_string())
        .unwrap_or_else(|| user.username.to_string());
    if let Some(token) = cookie(state, headers, SETUP_COOKIE)
        && let Some(existing) = state
            .core
            .two_factor
            .authenticator_setup(user.id, &token, &account, now)
            .await?
    {
        return Ok(existing);
    }
    let fresh = state
        .core
        .two_factor
        .start_authenticator_setup(user.id, &account, now)
        .await?;
    cookies.set(
        SETUP_COOKIE,
        &fresh.token,
        Some(fresh.lifetime_seconds),
        "Lax",
    );
    Ok(fresh)
}

pub async fn authenticator_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let pending = match enrolling(&state, &headers, "authenticator").await {
        Ok((_, pending)) => pending,
        Err(response) => return response,
    };
    let mut cookies = Cookies::new(&state, &headers);
    if !pending.offered.authenticator {
        return cookies.redirect("/login/enroll");
    }
    let setup = match setup(&state, &headers, &mut cookies, &pending.user).await {
        Ok(setup) => setup,
        Err(error) => return internal(&state, &headers, error),
    };
    let chrome = cookies.chrome(&state, None);
    cookies.page(
        StatusCode::OK,
        &AuthenticatorPage::new(
            chrome,
            &setup,
            String::new(),
            None,
            "/login/enroll/authenticator",
        ),
    )
}

pub async fn authenticator_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<AuthenticatorForm>,
) -> Response {
    let (id, pending) = match enrolling(&state, &headers, "authenticator").await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut cookies = Cookies::new(&state, &headers);
    let setup = match setup(&state, &headers, &mut cookies, &pending.user).await {
        Ok(setup) => setup,
        Err(error) => return internal(&state, &headers, error),
    };
    let chrome = cookies.chrome(&state, None);
    let request = EnableMethod {
        kind: MethodKind::Authenticator,
        code: form.code.trim().to_owned(),
        secret: Some(setup.secret.clone()),
        name: MethodName::parse(&form.name).ok(),
        mobile_phone: None,
        email: None,
    };
    match state
        .core
        .two_factor
        .enable_method_during_login(&id, &request, &origin, Instant::now())
        .await
    {
        Ok(enabled) => {
            let _ = state
                .core
                .two_factor
                .finish_authenticator_setup(&setup.token)
                .await;
            cookies.clear(SETUP_COOKIE);
            recovery_page(
                cookies,
                chrome,
                (enabled, &pending),
                "Your authenticator app is set up.",
            )
        }
        Err(TwoFactorError::UnknownChallenge) => cookies.redirect("/login?expired=authenticator"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => cookies.page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &AuthenticatorPage::new(
                chrome,
                &setup,
                form.name,
                Some(explain(&other)),
                "/login/enroll/authenticator",
            ),
        ),
    }
}

/// After the recovery codes: the login finishes with the code the enrolment handed out.
pub async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<FinishForm>,
) -> Response {
    let mut cookies = Cookies::new(&state, &headers);
    let Some(id) = cookie(&state, &headers, PENDING_COOKIE) else {
        return cookies.redirect("/login?expired=1");
    };
    if form.saved.is_none() {
        return super::error_page(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            "Tick \"I have saved these codes\" to go on. Go back to see them again.",
        );
    }
    // A computer trusted here is bound to the browser's id cookie (kept, or made now).
    let browser = form
        .trust
        .is_some()
        .then(|| super::browser_id(&state, &headers));
    let request = CompleteLogin {
        two_factor_id: id,
        code: form.completion,
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
        Ok(SecondStep::LoggedIn(done)) => {
            let trust = done.trust_token.as_ref();
            keep_login(&mut cookies, &done.tokens, trust, browser.as_deref(), now);
            cookies.redirect("/?welcome=1")
        }
        Ok(SecondStep::Enrol) => cookies.redirect("/login/enroll"),
        Err(TwoFactorError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(_) => cookies.redirect("/login?expired=1"),
    }
}
