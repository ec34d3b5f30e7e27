//! The Twilio providers against a loopback stand-in that speaks Twilio's wire format: the exact
//! requests Tessera sends, how it reads Twilio's errors, and what it does when Twilio fails.

use std::time::Duration;

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_twilio::{ACCOUNT_SID, AUTH_TOKEN, FROM, FakeTwilio, SERVICE_SID};
use crate::helpers::{PASSWORD, TestApp, spawn_app};

const PHONE: &str = "+13035551212";

fn basic_auth() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    )
}

async fn with_twilio(app: &TestApp, twilio: &FakeTwilio, provider: &str, sender: &str) {
    with_twilio_at(app, &twilio.url, provider, sender).await;
}

async fn with_twilio_at(app: &TestApp, url: &str, provider: &str, sender: &str) {
    let response = app
        .put_delivery_settings(json!({
            "provider": provider, "sender": sender, "timeoutSeconds": 1,
            "twilio": {"accountSid": ACCOUNT_SID, "authToken": AUTH_TOKEN, "verifyServiceSid": SERVICE_SID,
                       "fromNumber": FROM, "apiBaseUrl": url, "verifyBaseUrl": url}}))
        .await;
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn the_twilio_sender_posts_sms_to_messages_and_reads_voice_codes_through_calls() {
    let app = spawn_app().await;
    let twilio = FakeTwilio::start().await;
    with_twilio(&app, &twilio, "builtin", "twilio").await;
    let user = app.create_user("ann", json!({})).await;
    let id = user["id"].as_str().unwrap();

    assert_eq!(app.send_enrollment(id, "sms", PHONE).await.status(), 200);
    let requests = twilio.requests();
    assert_eq!(requests.len(), 1);
    let sms = &requests[0];
    assert_eq!(sms.method, "POST");
    assert_eq!(
        sms.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    );
    assert_eq!(sms.authorization.as_deref(), Some(basic_auth().as_str()));
    assert_eq!(sms.param("To"), Some(PHONE));
    assert_eq!(sms.param("From"), Some(FROM));
    let body = sms.param("Body").unwrap();
    assert!(
        body.starts_with("Your Tessera verification code is: "),
        "{body}"
    );
    let code: String = body.chars().filter(char::is_ascii_digit).collect();
    assert!(app.outbox().await.is_empty(), "nothing goes to the outbox");

    let enabled = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "sms", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);

    assert_eq!(app.send_enrollment(id, "voice", PHONE).await.status(), 200);
    let call = twilio.requests().pop().unwrap();
    assert_eq!(
        call.path,
        format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json")
    );
    let twiml = call.param("Twiml").unwrap();
    assert!(
        twiml.starts_with("<Response><Say>") && twiml.ends_with("</Say></Response>"),
        "{twiml}"
    );
    let digits: String = twiml.chars().filter(char::is_ascii_digit).collect();
    let spoken = digits[..6]
        .chars()
        .map(String::from)
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(twiml.matches(&spoken).count(), 2, "{twiml}");
}

#[tokio::test]
async fn with_twilio_verify_a_login_sends_and_checks_exactly_the_documented_requests() {
    let app = spawn_app().await;
    let twilio = FakeTwilio::start().await;
    with_twilio(&app, &twilio, "twilio_verify", "outbox").await;
    let user = app.create_user("bob", json!({})).await;
    let id = user["id"].as_str().unwrap();

    assert_eq!(app.send_enrollment(id, "sms", PHONE).await.status(), 200);
    let start = twilio.requests().pop().unwrap();
    assert_eq!(
        start.path,
        format!("/v2/Services/{SERVICE_SID}/Verifications")
    );
    assert_eq!(start.authorization.as_deref(), Some(basic_auth().as_str()));
    assert_eq!(start.param("To"), Some(PHONE));
    assert_eq!(start.param("Channel"), Some("sms"));
    let verification_sid = verification_sid_of(&app).await;
    let code = twilio.code_of(&verification_sid).unwrap();
    let enabled = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "sms", "mobilePhone": PHONE, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let check = twilio.requests().pop().unwrap();
    assert_eq!(
        check.path,
        format!("/v2/Services/{SERVICE_SID}/VerificationCheck")
    );
    assert_eq!(
        check.param("VerificationSid"),
        Some(verification_sid.as_str())
    );
    assert_eq!(check.param("Code"), Some(code.as_str()));

    // The login: 242, send through Verify, check through Verify.
    let (status, challenge) = app
        .login_json(json!({"loginId": "bob", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();
    let method = challenge["methods"][0]["id"].as_str().unwrap();
    let sent = app
        .post_json(
            &format!("/api/two-factor/send/{two_factor_id}"),
            &json!({"methodId": method}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    let login_sid = verification_sid_of(&app).await;
    assert_ne!(login_sid, verification_sid);
    let wrong = app
        .finish_two_factor(two_factor_id, "000000", json!({}))
        .await;
    assert_eq!(wrong.status(), 421);
    let done = app
        .finish_two_factor(
            two_factor_id,
            &twilio.code_of(&login_sid).unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(done.status(), 200);
    assert!(
        twilio
            .requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(basic_auth().as_str()))
    );
}

/// The provider's sid of the newest verification.
async fn verification_sid_of(app: &TestApp) -> String {
    sqlx::query_scalar(
        "SELECT provider_ref FROM verifications ORDER BY created_at DESC, id LIMIT 1",
    )
    .fetch_one(app.core.store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn twilio_errors_become_clear_refusals_for_the_user() {
    let app = spawn_app().await;
    let twilio = FakeTwilio::start().await;
    with_twilio(&app, &twilio, "twilio_verify", "outbox").await;
    let user = app.create_user("cy", json!({})).await;
    let id = user["id"].as_str().unwrap();
    for (code, status, expected_status, says) in [
        (60200, 400, 400, "not valid"),
        (60410, 403, 403, "fraud"),
        (60605, 403, 403, "country"),
        (60203, 429, 429, "too many"),
    ] {
        twilio.script(status, &FakeTwilio::error_body(code, status, "refused"));
        let response = app.send_enrollment(id, "sms", PHONE).await;
        assert_eq!(response.status(), expected_status, "{code}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["generalErrors"][0]["code"], code.to_string());
        assert!(
            body["generalErrors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(says),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_failing_provider_is_retried_with_backoff_then_the_message_is_marked_failed() {
    let app = spawn_app().await;
    let twilio = FakeTwilio::start().await;
    with_twilio(&app, &twilio, "builtin", "twilio").await;
    let user = app.create_user("dee", json!({})).await;
    let id = user["id"].as_str().unwrap();

    // A 500, then garbage: the request is accepted and the message waits in the queue.
    twilio.script(
        500,
        &FakeTwilio::error_body(20500, 500, "Internal Server Error"),
    );
    assert_eq!(app.send_enrollment(id, "sms", PHONE).await.status(), 200);
    let status = || async {
        sqlx::query_as::<_, (String, i64)>("SELECT status, attempts FROM messages")
            .fetch_one(app.core.store.pool())
            .await
            .unwrap()
    };
    assert_eq!(status().await, ("queued".to_owned(), 1));
    twilio.script(200, "this is not JSON");
    let later = tessera::clock::Instant::now().plus_seconds(6);
    assert_eq!(app.core.delivery.deliver_due(later).await.unwrap(), 1);
    assert_eq!(status().await, ("queued".to_owned(), 2));
    // Nothing is due before its backoff.
    assert_eq!(app.core.delivery.deliver_due(later).await.unwrap(), 0);
    // Then Twilio is back.
    app.core
        .delivery
        .deliver_due(later.plus_seconds(11))
        .await
        .unwrap();
    assert_eq!(status().await, ("sent".to_owned(), 3));
    assert_eq!(twilio.requests().len(), 3);

    // A provider that never answers in time: retried until the attempts run out.
    twilio.delay(Duration::from_millis(1500));
    assert_eq!(
        app.send_enrollment(id, "sms", "+1 303 555 0142")
            .await
            .status(),
        200
    );
    let mut now = tessera::clock::Instant::now();
    for _ in 0..tessera::delivery::MAX_ATTEMPTS {
        now = now.plus_seconds(601);
        app.core.delivery.deliver_due(now).await.unwrap();
    }
    let last: (String, Option<String>) = sqlx::query_as(
        "SELECT status, last_error FROM messages ORDER BY created_at DESC, id LIMIT 1",
    )
    .fetch_one(app.core.store.pool())
    .await
    .unwrap();
    assert_eq!(last.0, "failed");
    assert!(last.1.unwrap().contains("gave up after 6 attempts"));
}

#[tokio::test]
async fn an_answer_far_larger_than_twilios_is_refused_unread_and_the_message_waits_for_a_retry() {
    let app = spawn_app().await;
    let twilio = FakeTwilio::start().await;
    with_twilio(&app, &twilio, "builtin", "twilio").await;
    let user = app.create_user("eve", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let message = || async {
        sqlx::query_as::<_, (String, i64, Option<String>)>(
            "SELECT status, attempts, last_error FROM messages",
        )
        .fetch_one(app.core.store.pool())
        .await
        .unwrap()
    };
    let refused = "Twilio's answer was larger than 64 KiB";

    // A created message's answer, padded to 1 MiB: its sid is there, but Twilio never answers so.
    let padded = json!({"sid": "SM0123", "status": "queued", "pad": "x".repeat(1 << 20)});
    twilio.script(201, &padded.to_string());
    assert_eq!(app.send_enrollment(id, "sms", PHONE).await.status(), 200);
    let (status, attempts, error) = message().await;
    assert_eq!((status.as_str(), attempts), ("queued", 1));
    assert!(
        error.as_deref().unwrap_or_default().contains(refused),
        "{error:?}"
    );

    // The same without a length, in chunks that do not end: the reading stops at the cap.
    with_twilio_at(&app, &endless_chunked_answer().await, "builtin", "twilio").await;
    let later = tessera::clock::Instant::now().plus_seconds(6);
    assert_eq!(app.core.delivery.deliver_due(later).await.unwrap(), 1);
    let (status, attempts, error) = message().await;
    assert_eq!((status.as_str(), attempts), ("queued", 2));
    assert!(
        error.as_deref().unwrap_or_default().contains(refused),
        "{error:?}"
    );
}

/// A server on loopback that reads a request and answers 201 with a chunked body that never
/// ends (until the client goes away).
async fn endless_chunked_answer() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // The headers, then as many bytes as Content-Length says.
                loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|line| line.strip_prefix("content-length:"))
                            .and_then(|value| value.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let head = "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    url
}

#[tokio::test]
async fn queued_messages_survive_a_restart_of_the_server() {
    let twilio = FakeTwilio::start().await;
    let first = spawn_app().await;
    with_twilio(&first, &twilio, "builtin", "twilio").await;
    let user = first.create_user("eve", json!({})).await;
    twilio.script(
        503,
        &FakeTwilio::error_body(20503, 503, "Service Unavailable"),
    );
    assert_eq!(
        first
            .send_enrollment(user["id"].as_str().unwrap(), "sms", PHONE)
            .await
            .status(),
        200
    );

    // A second server on the same database and keys: the message is still there to deliver.
    let config = first.config.clone();
    let second = tessera::app::Application::build(&config).await.unwrap();
    let core = second.core().clone();
    let later = tessera::clock::Instant::now().plus_seconds(6);
    assert_eq!(core.delivery.deliver_due(later).await.unwrap(), 1);
    let sent = twilio.requests().pop().unwrap();
    assert_eq!(sent.param("To"), Some(PHONE));
    let status: String = sqlx::query_scalar("SELECT status FROM messages")
        .fetch_one(core.store.pool())
        .await
        .unwrap();
    assert_eq!(status, "sent");
}

#[tokio::test]
async fn twilio_verify_check_answers_map_to_the_engines_errors() {
    let app = spawn_app().await;
    let twilio = FakeTwilio::start().await;
    with_twilio(&app, &twilio, "twilio_verify", "outbox").await;
    let origin = tessera::audit::Origin::default();
    let now = tessera::clock::Instant::now();
    let destination = tessera::verify::Destination::parse(PHONE).unwrap();
    let start = |service: &'static str| {
        let (core, destination, origin) = (app.core.clone(), destination.clone(), origin.clone());
        async move {
            core.verify
                .start_verification(
                    &tessera::verify::StartRequest {
                        own_method: false,
                        service_id: service,
                        destination,
                        channel: tessera::verify::Channel::Sms,
                        locale: None,
                        context: None,
                        user: None,
                        origin: &origin,
                        service: None,
                    },
                    now,
                )
                .await
                .unwrap()
        }
    };
    let target = tessera::verify::VerificationTarget::To(destination.clone());

    start("a").await;
    twilio.script(
        429,
        &FakeTwilio::error_body(60202, 429, "Max check attempts reached"),
    );
    let error = app
        .core
        .verify
        .check_verification("a", &target, "123456", now)
        .await
        .unwrap_err();
    assert_eq!(error.twilio_code(), 60202);

    start("b").await;
    twilio.script(404, &FakeTwilio::error_body(20404, 404, "not found"));
    let error = app
        .core
        .verify
        .check_verification("b", &target, "123456", now)
        .await
        .unwrap_err();
    assert_eq!(error.twilio_code(), 20404);

    let sent = start("c").await;
    let remote: String = sqlx::query_scalar("SELECT provider_ref FROM verifications WHERE id = $1")
        .bind(sent.sid.clone())
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    let code = twilio.code_of(&remote).unwrap();
    let outcome = app
        .core
        .verify
        .check_verification("c", &target, &code, now)
        .await
        .unwrap();
    assert!(outcome.approved);
    assert_eq!(
        outcome.verification.status,
        tessera::verify::Status::Approved
    );
}
