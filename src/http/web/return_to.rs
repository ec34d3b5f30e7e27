//! The way back to a site behind a reverse proxy (`rd`), kept in a cookie while the browser logs
//! in (the login page keeps it, the home page sees it, `/forward-auth/continue` takes it up).

use axum::http::HeaderMap;

use super::{Cookies, cookie};
use crate::clock::Instant;
use crate::forward_auth::ForwardAuthError;
use crate::http::AppState;

/// The cookie that keeps the way back through the login.
pub const RETURN_COOKIE: &str = "tessera_return";
/// How long a login may take before the way back is forgotten.
pub const RETURN_SECONDS: i64 = 30 * 60;

/// The way back a login page was opened with, checked: the address, or why it is not kept
/// (in words for the page).
pub async fn way_back(state: &AppState, rd: &str) -> Result<String, String> {
    match state.core.forward_auth.return_to(rd, Instant::now()).await {
        Ok(back) => Ok(back.as_str().to_owned()),
        Err(ForwardAuthError::Refused(refusal)) => Err(format!(
            "After you log in you will not be sent back to the address you came from: \
             {refusal}."
        )),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "cannot check a way back");
            Err(
                "After you log in you will not be sent back to the address you came from."
                    .to_owned(),
            )
        }
    }
}

/// Keeps a checked way back for after the login.
pub fn keep(cookies: &mut Cookies, back: &str) {
    let value: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
    cookies.set(RETURN_COOKIE, &value, Some(RETURN_SECONDS), "Lax");
}

/// Forgets the way back the browser keeps, if it keeps one.
pub fn forget(cookies: &mut Cookies, headers: &HeaderMap, state: &AppState) {
    if returning(state, headers) {
        cookies.clear(RETURN_COOKIE);
    }
}

/// The way back the browser keeps, as it was kept.
pub fn kept(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let value = cookie(state, headers, RETURN_COOKIE)?;
    form_urlencoded::parse(format!("rd={value}").as_bytes())
        .next()
        .map(|(_, rd)| rd.into_owned())
}

/// Whether the browser keeps a way back (the home page then sends it on).
pub fn returning(state: &AppState, headers: &HeaderMap) -> bool {
    cookie(state, headers, RETURN_COOKIE).is_some()
}
