//! An application the person let in, taken back from the security page: what they allowed is
//! forgotten and its sign-ins end. It only takes access away, so a signed-in session and the
//! form's CSRF token suffice, without re-authentication.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::clock::Instant;
use crate::http::AppState;
use crate::http::extract::RequestOrigin;
use crate::http::web::forms::IdForm;
use crate::http::web::{Cookies, WebForm, internal, signed_in};

pub async fn revoke_application(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestOrigin(origin): RequestOrigin,
    WebForm(form): WebForm<IdForm>,
) -> Response {
    let cookies = Cookies::new(&state, &headers);
    let Some((_, user)) = signed_in(&state, &headers).await else {
        return cookies.redirect("/login");
    };
    let client_id = form.id.chars().take(64).collect::<String>();
    match state
        .core
        .oidc
        .revoke_application(user.id, &client_id, &origin, Instant::now())
        .await
    {
        Ok(true) => cookies.redirect("/security?done=application"),
        Ok(false) => cookies.redirect("/security?done=no-application"),
        Err(error) => internal(&state, &headers, error),
    }
}
