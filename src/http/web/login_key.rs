//! A security key or a passkey on the login pages (issue #32). The pages' script
//! (`static/app.js`) asks a `start` route for the options of `navigator.credentials.get` and
//! posts the browser's answer to a `finish` route, each a form body with the page's CSRF token;
//! both answer JSON: `{options}`, `{redirect}` (where the page goes next), or a refusal's
//! `{message}`, shown beside the button. A key finishes the login waiting under the pending
//! cookie as a code does (`login::keep_login`, then the home page's way on); a passkey signs in
//! alone, both factors in one gesture.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::forms::{EmptyForm, KeyLoginForm, PasskeyLoginForm};
use super::login::{explain, keep_login};
use super::{Cookies, PENDING_COOKIE, WebForm, cookie, internal};
use crate::clock::Instant;
use crate::domain::FieldError;
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::policy::LoginType;
use crate::two_factor::{KeyLogin, TwoFactorError};
use crate::webauthn::{AssertionAnswer, Claimed, PasskeySignIn, WebauthnError};

/// Where a login that expired (or ran out of attempts) sends the page.
const EXPIRED: &str = "/login?expired=1";
const KEY_REFUSED: &str = "Your security key did not log you in";
const PASSKEY_REFUSED: &str = "No passkey signed you in";
const KEYS_OFF: &str = "Security keys are off on this server. Use another way to log in.";

/// A refusal for the page's script: the sentence to show beside the button.
fn refused(cookies: Cookies, status: StatusCode, message: String) -> Response {
    cookies.json(status, json!({ "message": message }))
}

/// Too many ceremonies begun lately (`webauthn::budget`): a 429 the script shows beside the
/// button.
pub(super) fn too_many(cookies: Cookies, retry_after_seconds: i64) -> Response {
    let message = format!(
        "Too many security key and passkey requests came from here lately. Try again in {}, or \
         use your password.",
        minutes(retry_after_seconds)
    );
    throttled(
        refused(cookies, StatusCode::TOO_MANY_REQUESTS, message),
        retry_after_seconds,
    )
}

/// A wait in whole minutes, as words: "1 minute", "5 minutes".
pub(super) fn minutes(seconds: i64) -> String {
    let minutes = ((seconds + 59) / 60).max(1);
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}

/// A field the service refused, as a sentence after `prefix`: "Your security key did not log
/// you in: the key's answer says the person was not present (touch the key). Try again."
pub(super) fn said(prefix: &str, error: &FieldError) -> String {
    if error.code.starts_with("[noKeys]") {
        return format!("{prefix}: your account has no security key any more. Use another way.");
    }
    let what = match error.field.as_str() {
        "credential.id" => "the key",
        "credential.response.authenticatorData" => "the key's answer",
        "credential.response.signature" => "the key's signature",
        "credential.response.clientDataJSON" => "the browser's answer",
        "credential.response.userHandle" => "the passkey's answer",
        _ => "the answer from your browser",
    };
    let mut message = format!("{prefix}: {what} {}.", error.message);
    if !error.message.contains("again") {
        message.push_str(" Try again.");
    }
    message
}

/// The browser's answer, read from the form's `credential` (the JSON of its
/// `PublicKeyCredential`).
fn answer_of(raw: &str, prefix: &str) -> Result<AssertionAnswer, String> {
    serde_json::from_str(raw).map_err(|_| {
        format!("{prefix}: the answer from your browser is not a WebAuthn credential. Try again.")
    })
}

/// The options for `navigator.credentials.get`, to finish the pending login with one of its
/// user's keys.
pub async fn key_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let Some(id) = cookie(&state, &headers, PENDING_COOKIE) else {
        return cookies.json(StatusCode::OK, json!({ "redirect": EXPIRED }));
    };
    match state
        .core
        .webauthn
        .start_second_factor(&id, &origin, Instant::now())
        .await
    {
        Ok(started) => cookies.json(StatusCode::OK, json!({ "options": started.options })),
        Err(error) => key_refusal(&state, &headers, cookies, error),
    }
}

/// The key's answer to `key_start`'s options: the pending login completed as by a right code
/// (its session, the computer trusted if asked), or why not; a refused answer counts as a
/// wrong code.
pub async fn key_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<KeyLoginForm>,
) -> Response {
    let mut cookies = Cookies::new(&state, &headers);
    let Some(id) = cookie(&state, &headers, PENDING_COOKIE) else {
        return cookies.json(StatusCode::OK, json!({ "redirect": EXPIRED }));
    };
    let answer = match answer_of(&form.credential, KEY_REFUSED) {
        Ok(answer) => answer,
        Err(message) => return refused(cookies, StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    // The page is this server's own, so its answer was made at this server's origin.
    let Some(party) = state.core.webauthn.relying_party() else {
        return refused(cookies, StatusCode::UNPROCESSABLE_ENTITY, KEYS_OFF.into());
    };
    let claimed = Claimed {
        origin: party.origin.as_str(),
        rp_id: &party.id,
    };
    // A computer trusted here is bound to the browser's id cookie (kept, or made now).
    let browser = form
        .trust
        .is_some()
        .then(|| super::browser_id(&state, &headers));
    let request = KeyLogin {
        two_factor_id: id,
        trust_computer: form.trust.is_some(),
        application_id: None,
        browser_id: browser.clone(),
    };
    let now = Instant::now();
    match state
        .core
        .webauthn
        .finish_second_factor(&request, &answer, claimed, &origin, now)
        .await
    {
        Ok(done) => {
            let trust = done.trust_token.as_ref();
            keep_login(&mut cookies, &done.tokens, trust, browser.as_deref(), now);
            cookies.json(StatusCode::OK, json!({ "redirect": "/" }))
        }
        Err(error) => key_refusal(&state, &headers, cookies, error),
    }
}

/// Why a key did not finish the login, for the page: a login gone sends the page back to the
/// start, as a code's page does.
fn key_refusal(
    state: &AppState,
    headers: &HeaderMap,
    cookies: Cookies,
    error: WebauthnError,
) -> Response {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    match error {
        WebauthnError::Invalid(fields) => {
            let message = fields.first().map_or_else(
                || format!("{KEY_REFUSED}. Try again."),
                |f| said(KEY_REFUSED, f),
            );
            refused(cookies, unprocessable, message)
        }
        WebauthnError::Refused(field) => refused(cookies, unprocessable, said(KEY_REFUSED, &field)),
        WebauthnError::Unavailable => refused(cookies, unprocessable, KEYS_OFF.into()),
        WebauthnError::Throttled {
            retry_after_seconds,
            ..
        } => too_many(cookies, retry_after_seconds),
        WebauthnError::NoSuchUser => refused(
            cookies,
            unprocessable,
            explain(&TwoFactorError::UserNotFound),
        ),
        WebauthnError::Inactive => refused(
            cookies,
            StatusCode::FORBIDDEN,
            "This account is disabled. Ask your administrator to enable it.".into(),
        ),
        WebauthnError::TwoFactor(TwoFactorError::UnknownChallenge) => {
            cookies.json(StatusCode::OK, json!({ "redirect": EXPIRED }))
        }
        WebauthnError::TwoFactor(TwoFactorError::Internal(error))
        | WebauthnError::Internal(error) => internal(state, headers, format!("{error:#}")),
        WebauthnError::TwoFactor(other) => {
            let page = refused(cookies, unprocessable, explain(&other));
            match other {
                TwoFactorError::TooManyFailures {
                    retry_after_seconds,
                } => throttled(page, retry_after_seconds),
                _ => page,
            }
        }
    }
}

/// The options for a passkey sign-in: no account named, the browser offers the passkeys it
/// holds for this site (modally, or in the username field's autofill).
pub async fn passkey_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(_form): WebForm<EmptyForm>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    match state
        .core
        .webauthn
        .start_passkey_login(None, &origin, Instant::now())
        .await
    {
        Ok(started) => cookies.json(StatusCode::OK, json!({ "options": started.options })),
        Err(error) => passkey_refusal(&state, &headers, cookies, error),
    }
}

/// A passkey's answer to `passkey_start`'s options: a web session with both factors, then the
/// same way on as after any login (the home page's: welcome, an application, the way back).
pub async fn passkey_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<PasskeyLoginForm>,
) -> Response {
    let mut cookies = Cookies::new(&state, &headers);
    let answer = match answer_of(&form.credential, PASSKEY_REFUSED) {
        Ok(answer) => answer,
        Err(message) => return refused(cookies, StatusCode::UNPROCESSABLE_ENTITY, message),
    };
    let Some(party) = state.core.webauthn.relying_party() else {
        return refused(cookies, StatusCode::UNPROCESSABLE_ENTITY, KEYS_OFF.into());
    };
    let claimed = Claimed {
        origin: party.origin.as_str(),
        rp_id: &party.id,
    };
    let request = PasskeySignIn {
        login_type: LoginType::Web,
        application_id: None,
        remember_me: form.remember.is_some(),
    };
    let now = Instant::now();
    match state
        .core
        .webauthn
        .finish_passkey_login(&request, &answer, claimed, &origin, now)
        .await
    {
        Ok(done) => {
            keep_login(&mut cookies, &done.tokens, None, None, now);
            cookies.json(StatusCode::OK, json!({ "redirect": "/" }))
        }
        Err(error) => passkey_refusal(&state, &headers, cookies, error),
    }
}

fn passkey_refusal(
    state: &AppState,
    headers: &HeaderMap,
    cookies: Cookies,
    error: WebauthnError,
) -> Response {
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let message = match error {
        WebauthnError::Invalid(fields) => fields.first().map_or_else(
            || format!("{PASSKEY_REFUSED}. Try again."),
            |f| said(PASSKEY_REFUSED, f),
        ),
        WebauthnError::Refused(field) => said(PASSKEY_REFUSED, &field),
        WebauthnError::Unavailable => {
            "Passkeys are off on this server. Log in with your password.".into()
        }
        WebauthnError::NoSuchUser => format!("{PASSKEY_REFUSED}: its account no longer exists."),
        WebauthnError::Throttled {
            retry_after_seconds,
            ..
        } => return too_many(cookies, retry_after_seconds),
        WebauthnError::Inactive => {
            return refused(
                cookies,
                StatusCode::FORBIDDEN,
                "This account is disabled. Ask your administrator to enable it.".into(),
            );
        }
        WebauthnError::TwoFactor(TwoFactorError::Internal(error))
        | WebauthnError::Internal(error) => {
            return internal(state, headers, format!("{error:#}"));
        }
        WebauthnError::TwoFactor(other) => explain(&other),
    };
    refused(cookies, unprocessable, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Invalid;

    #[test]
    fn a_refused_field_is_said_as_a_sentence_for_the_page() {
        let absent = FieldError::new(
            "credential.response.authenticatorData",
            Invalid::new(
                "[invalid]",
                "says the person was not present (touch the key)",
            ),
        );
        assert_eq!(
            said(KEY_REFUSED, &absent),
            "Your security key did not log you in: the key's answer says the person was not \
             present (touch the key). Try again."
        );
        let spent = FieldError::new(
            "credential.response.clientDataJSON",
            Invalid::new("[invalid]", "answers a challenge already used: start again"),
        );
        assert_eq!(
            said(PASSKEY_REFUSED, &spent),
            "No passkey signed you in: the browser's answer answers a challenge already used: \
             start again."
        );
        let none = FieldError::new(
            "twoFactorId",
            Invalid::new("[noKeys]", "this user has no security key"),
        );
        assert_eq!(
            said(KEY_REFUSED, &none),
            "Your security key did not log you in: your account has no security key any more. \
             Use another way."
        );
    }

    #[test]
    fn an_answer_that_is_not_a_credential_is_refused_with_words() {
        assert_eq!(
            answer_of("{not json", PASSKEY_REFUSED).unwrap_err(),
            "No passkey signed you in: the answer from your browser is not a WebAuthn \
             credential. Try again."
        );
    }
}
