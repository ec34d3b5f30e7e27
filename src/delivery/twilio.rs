//! Twilio's REST APIs, spoken in their wire format: form-encoded PascalCase parameters, HTTP
//! Basic auth with the Account SID and Auth Token, JSON answers, and error bodies
//! `{code, message, more_info, status}`. The base URLs come from the settings, so the tests
//! (and a self-hosted Verify) can stand in for Twilio.

use reqwest::StatusCode;
use serde::Deserialize;

use super::SendError;
use crate::delivery_settings::TwilioSettings;
use crate::domain::Channel;

#[derive(Debug, Deserialize)]
struct Created {
    sid: String,
}

#[derive(Debug, Deserialize)]
struct CheckAnswer {
    status: String,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    code: Option<u32>,
    message: Option<String>,
}

/// What a verification check at Twilio Verify came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteCheck {
    Approved,
    Pending,
    /// 20404: unknown, expired, approved before, or out of attempts.
    NotFound,
    /// 60202.
    MaxAttempts,
    Failed(SendError),
}

/// Sends an SMS or WhatsApp message (Messages API) or places a call that reads `body` out
/// (Calls API, with inline TwiML). Returns Twilio's sid of the message or call.
pub async fn send_message(
    http: &reqwest::Client,
    settings: &TwilioSettings,
    timeout_seconds: u64,
    channel: Channel,
    to: &str,
    body: &str,
) -> Result<String, SendError> {
    let account = &settings.account_sid;
    let base = settings.api_base_url.trim_end_matches('/');
    let (url, form): (String, Vec<(&str, String)>) = match channel {
        Channel::Sms => (
            format!("{base}/2010-04-01/Accounts/{account}/Messages.json"),
            vec![
                ("To", to.to_owned()),
                ("From", settings.from_number.clone()),
                ("Body", body.to_owned()),
            ],
        ),
        Channel::Whatsapp => (
            format!("{base}/2010-04-01/Accounts/{account}/Messages.json"),
            vec![
                ("To", format!("whatsapp:{to}")),
                ("From", format!("whatsapp:{}", settings.from_number)),
                ("Body", body.to_owned()),
            ],
        ),
        Channel::Call => (
            format!("{base}/2010-04-01/Accounts/{account}/Calls.json"),
            vec![
                ("To", to.to_owned()),
                ("From", settings.from_number.clone()),
                (
                    "Twiml",
                    format!("<Response><Say>{}</Say></Response>", xml_escape(body)),
                ),
            ],
        ),
        Channel::Email => {
            return Err(SendError::Permanent {
                code: None,
                message:
                    "Twilio's messaging sender does not send email; configure SMTP or a webhook"
                        .into(),
            });
        }
    };
    let response = post(http, settings, timeout_seconds, &url, &form).await?;
    created(response).await
}

/// Asks Twilio Verify to make and send a code (`POST /v2/Services/{VA}/Verifications`).
/// Returns the verification's sid (VE…).
pub async fn start_verification(
    http: &reqwest::Client,
    settings: &TwilioSettings,
    timeout_seconds: u64,
    channel: Channel,
    to: &str,
    locale: &str,
) -> Result<String, SendError> {
    let url = format!(
        "{}/v2/Services/{}/Verifications",
        settings.verify_base_url.trim_end_matches('/'),
        settings.verify_service_sid
    );
    let mut form = vec![
        ("To", to.to_owned()),
        ("Channel", channel.as_str().to_owned()),
    ];
    if !locale.is_empty() {
        form.push(("Locale", locale.to_owned()));
    }
    let response = post(http, settings, timeout_seconds, &url, &form).await?;
    created(response).await
}

/// Checks a code at Twilio Verify (`POST /v2/Services/{VA}/VerificationCheck`).
pub async fn check_verification(
    http: &reqwest::Client,
    settings: &TwilioSettings,
    timeout_seconds: u64,
    verification_sid: &str,
    code: &str,
) -> RemoteCheck {
    let url = format!(
        "{}/v2/Services/{}/VerificationCheck",
        settings.verify_base_url.trim_end_matches('/'),
        settings.verify_service_sid
    );
    let form = [
        ("VerificationSid", verification_sid.to_owned()),
        ("Code", code.to_owned()),
    ];
    let response = match post(http, settings, timeout_seconds, &url, &form).await {
        Ok(response) => response,
        Err(error) => return RemoteCheck::Failed(error),
    };
    match answer(response).await {
        Ok((status, body)) => read_check(status, &body),
        Err(error) => RemoteCheck::Failed(error),
    }
}

/// What a `VerificationCheck` answer (status and body) came to. Apart from the I/O so that the
/// reading of Twilio's bytes can be tested and fuzzed on its own.
pub fn read_check(status: StatusCode, body: &[u8]) -> RemoteCheck {
    if status.is_success() {
        return match serde_json::from_slice::<CheckAnswer>(body) {
            Ok(answer) if answer.status == "approved" => RemoteCheck::Approved,
            Ok(_) => RemoteCheck::Pending,
            Err(e) => RemoteCheck::Failed(SendError::Transient(format!(
                "Twilio answered garbage: {e}"
            ))),
        };
    }
    match classify(status, body) {
        SendError::Permanent {
            code: Some(20404), ..
        } => RemoteCheck::NotFound,
        SendError::Permanent {
            code: Some(60202), ..
        } => RemoteCheck::MaxAttempts,
        other => RemoteCheck::Failed(other),
    }
}

async fn post(
    http: &reqwest::Client,
    settings: &TwilioSettings,
    timeout_seconds: u64,
    url: &str,
    form: &[(&str, String)],
) -> Result<reqwest::Response, SendError> {
    http.post(url)
        .timeout(std::time::Duration::from_secs(timeout_seconds))
        .basic_auth(&settings.account_sid, settings.auth_token.expose())
        .form(form)
        .send()
        .await
        .map_err(|e| {
            SendError::Transient(if e.is_timeout() {
                "Twilio did not answer in time".into()
            } else {
                format!("Twilio unreachable: {e}")
            })
        })
}

async fn created(response: reqwest::Response) -> Result<String, SendError> {
    let (status, body) = answer(response).await?;
    read_created(status, &body)
}

/// Twilio's answers are a few hundred bytes. One far larger is not Twilio's (a proxy, a
/// misconfigured URL, a hostile server): it is refused before it is held in memory whole.
const ANSWER_BYTES_AT_MOST: usize = 64 * 1024;

/// The status and whole body of an answer, up to `ANSWER_BYTES_AT_MOST`.
async fn answer(mut response: reqwest::Response) -> Result<(StatusCode, Vec<u8>), SendError> {
    let status = response.status();
    let too_large = || {
        SendError::Transient(format!(
            "Twilio's answer was larger than {} KiB; it was not read",
            ANSWER_BYTES_AT_MOST / 1024
        ))
    };
    if response
        .content_length()
        .is_some_and(|length| length > ANSWER_BYTES_AT_MOST as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SendError::Transient(format!("Twilio's answer could not be read: {e}")))?
    {
        if body.len() + chunk.len() > ANSWER_BYTES_AT_MOST {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// The sid in an answer of the Messages, Calls or Verify API that creates something, or why
/// there is none. Apart from the I/O so that it can be tested and fuzzed on its own.
pub fn read_created(status: StatusCode, body: &[u8]) -> Result<String, SendError> {
    if status.is_success() {
        return serde_json::from_slice::<Created>(body)
            .map(|c| c.sid)
            .map_err(|e| SendError::Transient(format!("Twilio answered garbage: {e}")));
    }
    Err(classify(status, body))
}

/// Twilio's answer as a permanent or passing failure, with a message a user can act on.
fn classify(status: StatusCode, body: &[u8]) -> SendError {
    // An error answer without Twilio's JSON (a proxy's HTML page) is classified by status.
    let body: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let code = body.code;
    let permanent = |message: &str| SendError::Permanent {
        code,
        message: message.to_owned(),
    };
    match code {
        Some(21211 | 60200) => permanent("the phone number is not valid"),
        Some(21614 | 60205) => {
            permanent("this number cannot receive text messages (landline); choose a voice call")
        }
        Some(21408 | 60605) => permanent("codes cannot be sent to this country"),
        Some(21610) => permanent("this number has opted out of messages"),
        Some(60410) => permanent("this number is blocked by fraud protection"),
        Some(60203) => permanent("too many codes were sent to this number; wait 10 minutes"),
        Some(20404) => permanent("not found"),
        Some(60202) => permanent("too many wrong codes"),
        _ if status.as_u16() == 429 || status.is_server_error() || status.as_u16() == 401 => {
            SendError::Transient(format!(
                "Twilio answered {status}{}",
                body.message.map(|m| format!(": {m}")).unwrap_or_default()
            ))
        }
        _ => SendError::Permanent {
            code,
            message: format!(
                "Twilio refused the request ({status}{})",
                body.message.map(|m| format!(": {m}")).unwrap_or_default()
            ),
        },
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_from_status_and_body() {
        let ok = StatusCode::CREATED;
        assert_eq!(
            read_created(ok, br#"{"sid": "SM1", "status": "queued"}"#),
            Ok("SM1".into())
        );
        assert!(matches!(
            read_created(ok, b"<html>"),
            Err(SendError::Transient(_))
        ));
        let refused = br#"{"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}"#;
        assert!(matches!(
            read_created(StatusCode::BAD_REQUEST, refused),
            Err(SendError::Permanent {
                code: Some(21211),
                ..
            })
        ));
        // A proxy's page instead of Twilio's JSON: classified by its status alone.
        assert!(matches!(
            read_created(StatusCode::BAD_GATEWAY, b"<html>Bad gateway</html>"),
            Err(SendError::Transient(_))
        ));
        assert_eq!(
            read_check(StatusCode::OK, br#"{"status": "approved"}"#),
            RemoteCheck::Approved
        );
        assert_eq!(
            read_check(StatusCode::OK, br#"{"status": "pending"}"#),
            RemoteCheck::Pending
        );
        assert_eq!(
            read_check(StatusCode::NOT_FOUND, br#"{"code": 20404}"#),
            RemoteCheck::NotFound
        );
        assert_eq!(
            read_check(StatusCode::TOO_MANY_REQUESTS, br#"{"code": 60202}"#),
            RemoteCheck::MaxAttempts
        );
    }

    #[test]
    fn spoken_text_is_escaped_for_twiml() {
        assert_eq!(xml_escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
