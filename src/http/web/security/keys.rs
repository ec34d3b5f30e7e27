//! Security keys from the security page (issue #32), behind the same recent re-authentication as
//! every other change there. Adding one takes two requests from the page's script
//! (`static/app.js`): `start` answers the options for `navigator.credentials.create`, `finish`
//! keeps the key from the browser's answer; both answer JSON, a refusal as the sentence to show
//! beside the form. Removing one asks first, on a page of its own.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{recent, render, when};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::domain::FieldError;
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::http::web::admin::confirm::confirmed;
use crate::http::web::forms::{KeyAnswerForm, KeyRemovalForm, NameForm};
use crate::http::web::{Chrome, Cookies, WebForm, internal};
use crate::webauthn::{Claimed, RegistrationAnswer, WebauthnError};

/// What the page says when the server has no relying party.
pub const KEYS_OFF: &str = "Security keys are off on this server: its public URL has no domain \
                            name, and browsers use keys only at a domain name. Ask your \
                            administrator.";

/// A refusal for the page's script: the field it concerns (`name` or `credential`) and the
/// sentence shown beside the form.
fn refused(field: &str, message: String) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "field": field, "message": message })),
    )
        .into_response()
}

/// A sentence from a rule's words: "give the key a name" → "Give the key a name."
fn sentence(words: &str) -> String {
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// The service's refusal in words for the form: a name's beside the name, anything else as
/// why no key was added.
fn refusal(state: &AppState, headers: &HeaderMap, error: WebauthnError) -> Response {
    match error {
        WebauthnError::Invalid(fields) => {
            let Some(first) = fields.first() else {
                return refused("credential", "No key was added. Try again.".into());
            };
            let (field, message) = explain_field(first);
            refused(field, message)
        }
        WebauthnError::Refused(field) => {
            let (field, message) = explain_field(&field);
            refused(field, message)
        }
        WebauthnError::Unavailable => refused("credential", KEYS_OFF.into()),
        WebauthnError::Throttled {
            retry_after_seconds,
            ..
        } => throttled(
            refused(
                "credential",
                format!(
                    "No key was added: too many keys were begun for your account lately. Try \
                     again in {}.",
                    crate::http::web::login_key::minutes(retry_after_seconds)
                ),
            ),
            retry_after_seconds,
        ),
        WebauthnError::NoSuchUser | WebauthnError::Inactive => refused(
            "credential",
            "Your account cannot add a key: it is not active.".into(),
        ),
        WebauthnError::TwoFactor(error) => {
            refused("credential", format!("No key was added: {error}."))
        }
        WebauthnError::Internal(error) => internal(state, headers, format!("{error:#}")),
    }
}

/// Which part of the form a field error belongs to, and its sentence.
fn explain_field(error: &FieldError) -> (&'static str, String) {
    let what = match error.field.as_str() {
        "name" => return ("name", sentence(&error.message)),
        // Refused by the settings, not by the key: trying again does not help.
        "workflow" => {
            return (
                "credential",
                format!("No key can be added here: {}.", error.message),
            );
        }
        "credential" if error.code.starts_with("[duplicate]") => {
            return (
                "credential",
                "No key was added: this key is registered already.".into(),
            );
        }
        "credential.response.attestationObject" => "the key's answer".to_owned(),
        "credential.response.clientDataJSON" => "the browser's answer".to_owned(),
        other => format!("the answer's {other}"),
    };
    let mut message = format!("No key was added: {what} {}.", error.message);
    if !error.message.contains("again") {
        message.push_str(" Try again.");
    }
    ("credential", message)
}

/// The options for `navigator.credentials.create`, for a key named as the form says.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<NameForm>,
) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match state
        .core
        .webauthn
        .start_registration(user.id, &form.name, None, &origin, Instant::now())
        .await
    {
        Ok(started) => Json(json!({ "options": started.options })).into_response(),
        Err(error) => refusal(&state, &headers, error),
    }
}

/// The browser's answer (`credential`, the JSON of its `PublicKeyCredential`), kept as the
/// person's key; the answer says where to go next.
pub async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<KeyAnswerForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let answer: RegistrationAnswer = match serde_json::from_str(&form.credential) {
        Ok(answer) => answer,
        Err(error) => {
            return refused(
                "credential",
                format!(
                    "No key was added: the answer from your browser is not a WebAuthn \
                     credential ({error}). Try again."
                ),
            );
        }
    };
    // The page is this server's own, so its answer was made at this server's origin: the
    // library checks the origin the browser wrote into the answer against it.
    let Some(party) = state.core.webauthn.relying_party() else {
        return refused("credential", KEYS_OFF.into());
    };
    let claimed = Claimed {
        origin: party.origin.as_str(),
        rp_id: &party.id,
    };
    match state
        .core
        .webauthn
        .finish_registration(
            user.id,
            &answer,
            claimed,
            Some(&session),
            Actor::User(user.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        // A first second factor comes with recovery codes: the page shows them, once.
        Ok(registered) => match registered.recovery_codes {
            Some(codes) => Json(json!({ "recoveryCodes": codes })).into_response(),
            None => Json(json!({ "redirect": "/security?done=key" })).into_response(),
        },
        Err(error) => refusal(&state, &headers, error),
    }
}

/// The question before one of the person's keys is removed.
#[derive(Template)]
#[template(path = "key_removal.html")]
struct RemovalPage {
    chrome: Chrome,
    id: String,
    name: String,
    added: String,
    last_used: String,
}

/// Removes one of the person's keys once its question is answered; until then, asks it. Like
/// a method, it needs a recent re-authentication, and the last one may go too.
pub async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<KeyRemovalForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let id = form.id.chars().take(64).collect::<String>();
    let cookies = Cookies::new(&state, &headers);
    if !confirmed(form.confirm.as_deref()) {
        let keys = match state.core.webauthn.credentials_of(user.id).await {
            Ok(keys) => keys,
            Err(error) => return internal(&state, &headers, format!("{error:#}")),
        };
        let Some(key) = keys.into_iter().find(|k| k.id == id) else {
            return cookies.redirect("/security?done=no-key");
        };
        let chrome = cookies.chrome(&state, Some(&user));
        return cookies.page(
            StatusCode::OK,
            &RemovalPage {
                chrome,
                id: key.id,
                name: key.name,
                added: when(Some(key.created_at.millis())),
                last_used: when(key.last_used_at.map(|at| at.millis())),
            },
        );
    }
    match state
        .core
        .webauthn
        .delete_of(
            user.id,
            &id,
            None,
            Actor::User(user.id),
            &origin,
            Instant::now(),
        )
        .await
    {
        Ok(true) => cookies.redirect("/security?done=key-removed"),
        Ok(false) => cookies.redirect("/security?done=no-key"),
        Err(WebauthnError::Internal(error)) => internal(&state, &headers, format!("{error:#}")),
        Err(other) => {
            render(
                &state,
                &headers,
                &session,
                &user,
                None,
                Some(format!("The key was not removed: {other}.")),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Invalid;

    #[test]
    fn a_rules_words_become_a_sentence() {
        assert_eq!(
            sentence("give the key a name, such as where it is kept"),
            "Give the key a name, such as where it is kept."
        );
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn a_name_refused_goes_beside_the_name_and_the_rest_beside_the_form() {
        let name = FieldError::new(
            "name",
            Invalid::new("[tooLong]", "a key's name has at most 64 characters"),
        );
        assert_eq!(
            explain_field(&name),
            ("name", "A key's name has at most 64 characters.".to_owned())
        );
        let duplicate = FieldError::new(
            "credential",
            Invalid::new("[duplicate]", "this key is registered already"),
        );
        assert_eq!(
            explain_field(&duplicate).1,
            "No key was added: this key is registered already."
        );
        let expired = FieldError::new(
            "credential.response.clientDataJSON",
            Invalid::new("[invalid]", "answers a challenge that expired: start again"),
        );
        assert_eq!(
            explain_field(&expired),
            (
                "credential",
                "No key was added: the browser's answer answers a challenge that expired: start \
                 again."
                    .to_owned()
            )
        );
        let absent = FieldError::new(
            "credential.response.attestationObject",
            Invalid::new(
                "[invalid]",
                "says the person was not present (touch the key)",
            ),
        );
        assert_eq!(
            explain_field(&absent).1,
            "No key was added: the key's answer says the person was not present (touch the \
             key). Try again."
        );
    }
}
