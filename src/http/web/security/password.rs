//! The password changed from the security settings: the current one, the new one twice, and
//! whether this session stays open. Every refusal is said in a sentence beside its field.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::recent;
use crate::auth::{
    CURRENT_PASSWORD_FIELD, ChangeOwnPassword, NEW_PASSWORD_FIELD, PasswordChangeError,
    PasswordProof,
};
use crate::clock::Instant;
use crate::domain::FieldError;
use crate::http::AppState;
use crate::http::error::throttled;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::PasswordForm;
use crate::http::web::{Chrome, Cookies, WebForm, internal};

/// One password field of the form; a refused one carries its sentence.
pub struct PasswordField {
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    autofocus: bool,
    error: String,
}

#[derive(Template)]
#[template(path = "change_password.html")]
struct ChangePasswordPage {
    chrome: Chrome,
    /// A refusal that is no one field's.
    error: Option<String>,
    fields: Vec<PasswordField>,
    keep_session: bool,
}

/// What the person is told, beside the field it concerns.
#[derive(Default)]
struct Refusals {
    current: String,
    new: String,
    confirm: String,
    general: Option<String>,
}

impl Refusals {
    fn page(self, chrome: Chrome, keep_session: bool) -> ChangePasswordPage {
        let field = |name, label, autocomplete, error: String| PasswordField {
            name,
            label,
            autocomplete,
            autofocus: false,
            error,
        };
        let mut fields = vec![
            field(
                "current_password",
                "Current password",
                "current-password",
                self.current,
            ),
            field("new_password", "New password", "new-password", self.new),
            field(
                "confirm_password",
                "New password again",
                "new-password",
                self.confirm,
            ),
        ];
        // The first field to fix, or the first field of a fresh form.
        let focus = fields.iter().position(|f| !f.error.is_empty()).unwrap_or(0);
        fields[focus].autofocus = true;
        ChangePasswordPage {
            chrome,
            error: self.general,
            fields,
            keep_session,
        }
    }

    fn of(error: &PasswordChangeError) -> Self {
        match error {
            PasswordChangeError::Invalid(fields) => {
                let mut refusals = Self::default();
                for field in fields {
                    let said = sentence(field);
                    match field.field.as_str() {
                        CURRENT_PASSWORD_FIELD => refusals.current = said,
                        NEW_PASSWORD_FIELD => refusals.new = said,
                        _ => refusals.general = Some(said),
                    }
                }
                refusals
            }
            PasswordChangeError::WrongCurrentPassword => Self {
                current: "Your current password is not right. Type the password you logged in with."
                    .into(),
                ..Self::default()
            },
            PasswordChangeError::ChangedMeanwhile => Self {
                current: "Your password was changed while you filled in this form. Type the password in force now and try again."
                    .into(),
                ..Self::default()
            },
            PasswordChangeError::Throttled {
                retry_after_seconds,
            } => Self {
                general: Some(format!(
                    "Too many wrong passwords came from this address. Try again in {} minutes.",
                    (retry_after_seconds + 59) / 60
                )),
                ..Self::default()
            },
            PasswordChangeError::UserNotFound => Self {
                general: Some("This account no longer exists.".into()),
                ..Self::default()
            },
            PasswordChangeError::Internal(_) => Self {
                general: Some("Something went wrong. Try again in a moment.".into()),
                ..Self::default()
            },
        }
    }
}

/// A field's refusal as a sentence: a capital first, a full stop last.
fn sentence(field: &FieldError) -> String {
    if field.code.starts_with("[blank]") {
        return match field.field.as_str() {
            CURRENT_PASSWORD_FIELD => "Type your current password.".into(),
            _ => "Type a new password.".into(),
        };
    }
    let mut said = field.message.clone();
    if let Some(first) = said.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    if !said.ends_with('.') {
        said.push('.');
    }
    said
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    user: &crate::domain::User,
    refusals: Refusals,
    keep_session: bool,
) -> Response {
    let cookies = Cookies::new(state, headers);
    let chrome = cookies.chrome(state, Some(user));
    let refused = !refusals.current.is_empty()
        || !refusals.new.is_empty()
        || !refusals.confirm.is_empty()
        || refusals.general.is_some();
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    cookies.page(status, &refusals.page(chrome, keep_session))
}

pub async fn password_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    render(&state, &headers, &user, Refusals::default(), true)
}

pub async fn password_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<PasswordForm>,
) -> Response {
    let (session, user) = match recent(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let keep_session = form.keep_session.is_some();
    // The confirmation is the page's own check, made before anything is compared or changed.
    if form.new_password != form.confirm_password {
        let refusals = Refusals {
            confirm: "The two new passwords are not the same. Type the new password twice.".into(),
            ..Refusals::default()
        };
        return render(&state, &headers, &user, refusals, keep_session);
    }
    let change = ChangeOwnPassword {
        proof: PasswordProof::CurrentPassword {
            user: user.id,
            current: &form.current_password,
        },
        new_password: &form.new_password,
        keep_session: keep_session.then_some(session.id.as_str()),
    };
    match state
        .core
        .logins
        .change_own_password(&change, &origin, Instant::now())
        .await
    {
        Ok(_) if keep_session => Cookies::new(&state, &headers).redirect("/security?done=password"),
        Ok(_) => {
            let mut cookies = Cookies::new(&state, &headers);
            cookies.clear_session();
            cookies.redirect("/login?out=1")
        }
        Err(PasswordChangeError::Internal(error)) => internal(&state, &headers, error),
        Err(error) => {
            let page = render(&state, &headers, &user, Refusals::of(&error), keep_session);
            match error {
                PasswordChangeError::Throttled {
                    retry_after_seconds,
                } => throttled(page, retry_after_seconds),
                _ => page,
            }
        }
    }
}
