//! A stand-in for Twilio on loopback that speaks its documented wire format: form-encoded
//! PascalCase requests with HTTP Basic auth, JSON answers, and Twilio's error bodies. It
//! records every request so that tests can assert on exactly what Tessera sent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "fedcba9876543210fedcba9876543210";
pub const SERVICE_SID: &str = "VA00000000000000000000000000000001";
pub const FROM: &str = "+15005550006";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// Answers to give instead of the normal ones, first in first out.
    scripted: VecDeque<(u16, String)>,
    delay: Option<Duration>,
    /// Verify's codes by verification sid.
    codes: HashMap<String, String>,
    checks: HashMap<String, u32>,
}

#[derive(Clone)]
pub struct FakeTwilio {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeTwilio {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    /// The next answers, in order, replace the normal ones.
    pub fn script(&self, status: u16, body: &str) {
        self.inner
            .lock()
            .unwrap()
            .scripted
            .push_back((status, body.to_owned()));
    }

    pub fn delay(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = Some(delay);
    }

    /// The code Verify "sent" for a verification.
    pub fn code_of(&self, verification_sid: &str) -> Option<String> {
        self.inner
            .lock()
            .unwrap()
            .codes
            .get(verification_sid)
            .cloned()
    }

    pub fn error_body(code: u32, status: u16, message: &str) -> String {
        json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status}).to_string()
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (scripted, delay) = {
        let mut inner = inner.lock().unwrap();
        inner.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_owned(),
            authorization: authorization.clone(),
            form: form.clone(),
        });
        (inner.scripted.pop_front(), inner.delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if let Some((status, body)) = scripted {
        return (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/json")],
            body,
        )
            .into_response();
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    if authorization.as_deref() != Some(expected.as_str()) {
        return json_answer(401, FakeTwilio::error_body(20003, 401, "Authenticate"));
    }
    let param = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let path = uri.path();
    let sid = |prefix: &str| format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    if path == format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json") {
        return json_answer(
            201,
            json!({"sid": sid("SM"), "status": "queued", "to": param("To"), "body": param("Body")})
                .to_string(),
        );
    }
    if path == format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json") {
        return json_answer(
            201,
            json!({"sid": sid("CA"), "status": "queued", "to": param("To")}).to_string(),
        );
    }
    if path == format!("/v2/Services/{SERVICE_SID}/Verifications") {
        let Some(to) = param("To").filter(|to| to.starts_with('+')) else {
            return json_answer(
                400,
                FakeTwilio::error_body(60200, 400, "Invalid parameter: To"),
            );
        };
        let verification = sid("VE");
        let code = format!("{:06}", rand_code());
        inner
            .lock()
            .unwrap()
            .codes
            .insert(verification.clone(), code);
        return json_answer(
            201,
            json!({"sid": verification, "service_sid": SERVICE_SID, "account_sid": ACCOUNT_SID, "to": to,
                   "channel": param("Channel"), "status": "pending", "valid": false}).to_string(),
        );
    }
    if path == format!("/v2/Services/{SERVICE_SID}/VerificationCheck") {
        let verification = param("VerificationSid").unwrap_or_default();
        let code = param("Code").unwrap_or_default();
        let mut inner = inner.lock().unwrap();
        let Some(expected) = inner.codes.get(&verification).cloned() else {
            return json_answer(
                404,
                FakeTwilio::error_body(20404, 404, "The requested resource was not found"),
            );
        };
        let checks = inner.checks.entry(verification.clone()).or_default();
        *checks += 1;
        if *checks > 5 {
            return json_answer(
                429,
                FakeTwilio::error_body(60202, 429, "Max check attempts reached"),
            );
        }
        let approved = code == expected;
        if approved {
            inner.codes.remove(&verification);
        }
        return json_answer(
            200,
            json!({"sid": verification, "status": if approved { "approved" } else { "pending" }, "valid": approved}).to_string(),
        );
    }
    json_answer(
        404,
        FakeTwilio::error_body(20404, 404, "The requested resource was not found"),
    )
}

fn json_answer(status: u16, body: String) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

fn rand_code() -> u32 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as u32
}
