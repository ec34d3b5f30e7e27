//! The delivery settings and their senders: the settings checked and the auth token
//! write-only; the development outbox (nothing in plaintext at rest; administrators only,
//! unless made public); email codes through SMTP (a slow server given up on); the signed
//! webhook. `PHONE` is verify.rs's.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app, spawn_app_with};
use crate::verify::PHONE;

#[tokio::test]
async fn delivery_settings_are_checked_and_the_auth_token_is_write_only() {
    let app = spawn_app().await;
    let bad = app
        .put_delivery_settings(
            json!({"provider": "twilio_verify", "twilio": {"accountSid": "AC1"}}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let errors: Value = bad.json().await.unwrap();
    for field in [
        "twilio.accountSid",
        "twilio.authToken",
        "twilio.verifyServiceSid",
    ] {
        assert!(errors["fieldErrors"][field].is_array(), "{field}: {errors}");
    }
    let token = "99998888777766665555444433332222";
    let good = app
        .put_delivery_settings(json!({"sender": "twilio", "twilio": {
            "accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": token, "fromNumber": "+15005550006"}}))
        .await;
    assert_eq!(good.status(), 200);
    let shown: Value = app
        .with_key(Method::GET, "/api/system/delivery")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["delivery"]["twilio"]["authToken"], "set");
    assert!(!shown.to_string().contains(token));
    // Saving again without the token keeps it.
    let again = app
        .put_delivery_settings(json!({"sender": "twilio", "twilio": {
            "accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": "set", "fromNumber": "+15005550006"}}))
        .await;
    assert_eq!(again.status(), 200);
    let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'delivery'")
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    assert!(!stored.contains(token), "the stored settings are sealed");
    assert_eq!(
        app.core
            .delivery
            .delivery_settings()
            .await
            .unwrap()
            .twilio
            .auth_token
            .expose(),
        Some(token)
    );
}

#[tokio::test]
async fn the_outbox_holds_no_plaintext_at_rest() {
    let app = spawn_app().await;
    let user = app.create_user("ida", json!({})).await;
    app.send_enrollment(user["id"].as_str().unwrap(), "sms", PHONE)
        .await;
    let code = app.code_sent_to(PHONE).await;
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body_ciphertext FROM messages")
        .fetch_all(app.core.store.pool())
        .await
        .unwrap();
    assert!(bodies.iter().all(|b| !b.contains(&code)));
    let hashes: Vec<Option<String>> = sqlx::query_scalar("SELECT code_hash FROM verifications")
        .fetch_all(app.core.store.pool())
        .await
        .unwrap();
    assert!(hashes.iter().flatten().all(|h| h != &code));
}

/// The outbox's messages hold live codes: its JSON is for an API key or an administrator's
/// access token, whoever the peer is (a proxy on this machine makes every peer loopback),
/// unless `delivery.outbox_public` opens it, for a machine nobody else reaches.
#[tokio::test]
async fn the_outbox_is_for_administrators_unless_made_public() {
    let app = spawn_app().await;
    // An administrator with the password alone, as a server that chose so allows.
    app.put_two_factor_settings(json!({"apiLoginPolicy": "enabled"}))
        .await;
    let user = app.create_user("ida", json!({})).await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    app.send_enrollment(user["id"].as_str().unwrap(), "sms", PHONE)
        .await;
    let read = |token: Option<String>| {
        let mut request = app.client.get(app.url("/dev/outbox.json"));
        if let Some(token) = token {
            request = request.header("Authorization", token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let app = &app;
    let token = |username: &'static str| async move {
        let (status, body) = app
            .login_json(json!({"loginId": username, "password": PASSWORD}))
            .await;
        assert_eq!(status, 200, "{body}");
        format!("Bearer {}", body["token"].as_str().unwrap())
    };
    assert_eq!(read(None).await, 401, "no credential, from loopback");
    assert_eq!(read(Some(token("ida").await)).await, 403, "a user's token");
    assert_eq!(
        read(Some(token("boss").await)).await,
        200,
        "an administrator's"
    );
    assert_eq!(read(Some(app.api_key.clone())).await, 200, "an API key");
    assert_eq!(app.outbox().await.len(), 1);

    let public = spawn_app_with(|config| config.delivery.outbox_public = true).await;
    let answer = public
        .client
        .get(public.url("/dev/outbox.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let page = public
        .client
        .get(public.url("/dev/outbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Development outbox"));
}

#[tokio::test]
async fn email_codes_go_through_smtp() {
    let app = spawn_app().await;
    let smtp = crate::fake_smtp::FakeSmtp::start().await;
    let saved = app
        .put_delivery_settings(
            json!({"sender": "smtp", "service": {"friendlyName": "Acme"},
                                      "smtp": {"url": smtp.url, "from": "login@acme.test"}}),
        )
        .await;
    assert_eq!(
        saved.status(),
        200,
        "{}",
        saved.text().await.unwrap_or_default()
    );
    let user = app
        .create_user("jan", json!({"email": "jan@example.com"}))
        .await;
    let id = user["id"].as_str().unwrap();
    let sent = app
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"method": "email", "userId": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let mail = smtp.received();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].from, "<login@acme.test>");
    assert_eq!(mail[0].to, ["<jan@example.com>"]);
    assert!(
        mail[0]
            .data
            .contains("Subject: Your Acme verification code"),
        "{}",
        mail[0].data
    );
    let body = mail[0].data.split("\n\n").nth(1).unwrap_or_default();
    let code: String = body.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{body}");
    let enabled = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "email", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    // SMTP carries no text messages.
    let refused = app.send_enrollment(id, "sms", PHONE).await;
    assert_eq!(refused.status(), 400);
}

/// The delivery time-out bounds a whole attempt, not each SMTP command: a mail server that
/// answers every command just inside the time-out is given up on (for now) once it has passed,
/// well inside the claim's lease (time-out + 5 s), so no other node claims the message and sends
/// it a second time while the first attempt still runs.
#[tokio::test]
async fn a_mail_server_slow_at_every_command_is_given_up_on_after_one_time_out() {
    let app = spawn_app().await;
    let smtp = crate::fake_smtp::FakeSmtp::start_slow(std::time::Duration::from_millis(1900)).await;
    let saved = app
        .put_delivery_settings(json!({"sender": "smtp", "timeoutSeconds": 2,
                                      "smtp": {"url": smtp.url, "from": "login@acme.test"}}))
        .await;
    assert_eq!(saved.status(), 200);
    let user = app
        .create_user("ivo", json!({"email": "ivo@example.com"}))
        .await;
    let started = std::time::Instant::now();
    let sent = app
        .send_enrollment(user["id"].as_str().unwrap(), "email", "ivo@example.com")
        .await;
    // Seven replies at 1.9 s each would take 13 s, past the 7 s lease.
    let took = started.elapsed();
    assert_eq!(sent.status(), 200, "the message waits in the queue");
    assert!(took < std::time::Duration::from_secs(4), "{took:?}");
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, last_error FROM messages")
            .fetch_one(app.core.store.pool())
            .await
            .unwrap();
    assert_eq!(status, "queued");
    assert!(error.unwrap_or_default().contains("did not answer in 2 s"));
    assert!(smtp.received().is_empty());
}

#[tokio::test]
async fn the_webhook_sender_posts_signed_json() {
    use std::sync::{Arc, Mutex};
    let app = spawn_app().await;
    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let store = received.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let store = store.clone();
            async move {
                let signature = headers
                    .get("x-tessera-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                store.lock().unwrap().push((signature, body));
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });
    let saved = app
        .put_delivery_settings(
            json!({"sender": "webhook", "webhook": {"url": url, "secret": "hook-secret"}}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let user = app.create_user("kai", json!({})).await;
    assert_eq!(
        app.send_enrollment(user["id"].as_str().unwrap(), "sms", PHONE)
            .await
            .status(),
        200
    );
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (signature, body) = &received[0];
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["channel"], "sms");
    assert_eq!(payload["to"], PHONE);
    assert!(
        payload["body"]
            .as_str()
            .unwrap()
            .contains("verification code")
    );
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(b"hook-secret").unwrap();
    mac.update(body.as_bytes());
    assert_eq!(
        signature,
        &format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
}
