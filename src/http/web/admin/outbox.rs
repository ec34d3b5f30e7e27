//! `/dev/outbox`: the development outbox as a page. Its messages hold live codes, so it is
//! shown to a signed-in administrator (re-authenticated, as for the rest of the console)
//! unless `delivery.outbox_public` opens it to anyone; the JSON is `api::outbox`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use super::administrator;
use crate::http::AppState;
use crate::http::web::internal;
use crate::verify::Destination;

const SHOWN: i64 = 50;

/// `GET /dev/outbox`: newest first.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.edge.outbox_public
        && let Err(elsewhere) = administrator(&state, &headers).await
    {
        return elsewhere;
    }
    let messages = match state.core.delivery.outbox_messages(SHOWN).await {
        Ok(messages) => messages,
        Err(error) => return internal(&state, &headers, error),
    };
    let mut rows = String::new();
    for m in &messages {
        let to = Destination::parse(&m.destination)
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.channel),
            escape(&to),
            match &m.subject {
                Some(subject) =>
                    format!("<strong>{}</strong><br>{}", escape(subject), lines(&m.body)),
                None => lines(&m.body),
            },
            escape(&m.status)
        ));
    }
    if messages.is_empty() {
        rows.push_str("<tr><td colspan=\"4\">No message yet.</td></tr>");
    }
    let product = escape(&state.web.product_name);
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Development outbox — {product}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
         <body style=\"font-family: system-ui, sans-serif; margin: 2rem\"><h1>Development outbox</h1>\
         <p>Codes and links Tessera would have sent by SMS, call or email, newest first. Configure a real \
         sender (Twilio, SMTP, webhook) to deliver them.</p>\
         <table cellpadding=\"6\"><thead><tr><th>Channel</th><th>To</th><th>Message</th><th>Status</th></tr></thead>\
         <tbody>{rows}</tbody></table></body></html>"
    ))
    .into_response()
}

/// A message's text with its line breaks kept.
fn lines(text: &str) -> String {
    escape(text).replace('\n', "<br>")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
