//! RP-Initiated Logout 1.0 (`/oauth2/logout`): an application sends the person back to log out
//! of Tessera, with the ID token it holds (`id_token_hint`) and where to return
//! (`post_logout_redirect_uri`, registered for that client, exactly). A hint that names this
//! browser's session logs it out at once; anything less asks the person first, so that a link
//! on another site cannot log anyone out. A hint Tessera did not sign, or a return address not
//! registered, is shown as an error page and redirects nowhere.

use serde::Deserialize;

use super::{Oidc, OidcError};
use crate::audit::Origin;
use crate::clock::Instant;
use crate::crypto::oidc_keys::JWT;
use crate::store::SessionRecord;

/// The query (or form) of a logout request, as it arrived.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// The person is asked before the browser's session ends.
    Confirm,
    /// Logged out (or was not signed in); back to the application, or a page that says so.
    Done {
        redirect: Option<String>,
    },
    ErrorPage(String),
}

impl Oidc {
    /// Answers a logout request for a browser with `session`; `confirmed`: the person pressed
    /// the button of the question page.
    pub async fn logout(
        &self,
        params: &LogoutParams,
        session: Option<&SessionRecord>,
        confirmed: bool,
        origin: &Origin,
        now: Instant,
    ) -> Result<LogoutOutcome, OidcError> {
        let hint = match params.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            // An ID token's `typ`: the JSON API's access tokens (`at+jwt`) are no hint.
            Some(token) => match self.keys().await?.verify_typed(token, JWT) {
                Ok(claims) if claims["iss"].as_str() == Some(self.issuer.as_str()) => Some(claims),
                _ => {
                    return Ok(LogoutOutcome::ErrorPage(
                        "The application sent an ID token this server did not sign. Nobody was \
                         logged out."
                            .into(),
                    ));
                }
            },
            None => None,
        };
        let client_id = hint
            .as_ref()
            .and_then(|c| c["aud"].as_str().map(str::to_owned))
            .or_else(|| params.client_id.clone());
        if let (Some(hinted), Some(named)) = (
            hint.as_ref().and_then(|c| c["aud"].as_str()),
            params.client_id.as_deref(),
        ) && hinted != named
        {
            return Ok(LogoutOutcome::ErrorPage(
                "The ID token was issued to another application than the one named.".into(),
            ));
        }
        let redirect = match params
            .post_logout_redirect_uri
            .as_deref()
            .filter(|u| !u.is_empty())
        {
            None => None,
            Some(uri) => {
                let registered = match client_id.as_deref() {
                    Some(id) => self
                        .oidc_store
                        .client(id)
                        .await?
                        .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri)),
                    None => false,
                };
                if !registered {
                    return Ok(LogoutOutcome::ErrorPage(
                        "The application asked to return to an address not registered for it. \
                         Nobody was logged out, and nothing was sent there."
                            .into(),
                    ));
                }
                let mut url = url::Url::parse(uri).map_err(anyhow::Error::from)?;
                if let Some(state) = params.state.as_deref() {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url.to_string())
            }
        };
        let Some(session) = session else {
            return Ok(LogoutOutcome::Done { redirect });
        };
        let hinted_here = hint
            .as_ref()
            .is_some_and(|c| c["sid"].as_str() == Some(session.id.as_str()));
        if !hinted_here && !confirmed {
            return Ok(LogoutOutcome::Confirm);
        }
        self.sessions
            .logout(None, Some(&session.id), false, origin, now)
            .await?;
        Ok(LogoutOutcome::Done { redirect })
    }
}
