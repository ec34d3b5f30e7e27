//! The SMTP and webhook senders, set up and tried from the Code delivery page and the API: each
//! sender's settings saved on their own, its secret never shown back, invalid settings refused
//! whole, and a test message through the real sender to a loopback mail server or webhook, its
//! outcome (or the sender's own error) reported at once.

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tessera::verify::{DeliverySettings, SenderKind, SmtpTls};

use crate::fake_smtp::FakeSmtp;
use crate::fake_webhook::{FakeWebhook, closed_port};
use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::web::{Browser, location};

/// A server and its administrator, signed in on the pages (with the password alone, as a
/// server that chose so allows).
async fn admin_on_the_page() -> (TestApp, Browser) {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled"}))
        .await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    let mut admin = Browser::new();
    admin.log_in(&app, "boss", PASSWORD).await;
    (app, admin)
}

/// Submits a form of the Code delivery page: the status it answers, and the page shown after
/// it (the one a redirect leads to).
async fn submit(
    app: &TestApp,
    admin: &mut Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let csrf = admin.csrf(app).await;
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let answer = admin.post(app, path, &form).await;
    let status = answer.status().as_u16();
    if answer.status().is_redirection() {
        let page = admin.get(app, &location(&answer)).await;
        return (status, page.text().await.unwrap());
    }
    (status, answer.text().await.unwrap())
}

async fn save_smtp(
    app: &TestApp,
    admin: &mut Browser,
    (host, port, tls): (&str, &str, &str),
    (username, password): (&str, &str),
    from: &str,
) -> (u16, String) {
    let fields = [
        ("host", host),
        ("port", port),
        ("tls", tls),
        ("username", username),
        ("password", password),
        ("from", from),
    ];
    submit(app, admin, "/admin/delivery/smtp", &fields).await
}

async fn stored(app: &TestApp) -> DeliverySettings {
    app.core.delivery.delivery_settings().await.unwrap()
}

/// The code in a message text ("Your Tessera verification code is: 123456").
fn code_in(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[tokio::test]
async fn an_administrator_sets_up_smtp_on_the_page_and_the_test_email_arrives_through_it() {
    let (app, mut admin) = admin_on_the_page().await;
    let smtp = FakeSmtp::start().await;
    let port = smtp.port().to_string();
    let (status, page) = save_smtp(
        &app,
        &mut admin,
        ("127.0.0.1", &port, "none"),
        ("tessera", "mail password 1"),
        "Acme Login <login@acme.test>",
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert!(page.contains("Saved; it applies to the next code sent"));
    assert!(page.contains(r#"id="smtp_host" name="host" type="text" value="127.0.0.1""#));
    assert!(page.contains("Password (set; leave empty to keep it)"));

    let (status, page) = submit(
        &app,
        &mut admin,
        "/admin/delivery/smtp/test",
        &[("to", "jan@example.com")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Delivered: the mail server took the test message for jan@example.com")
            && page.contains("queued as FAKE1"),
        "{page}"
    );
    let mail = smtp.received();
    assert_eq!(mail.len(), 1);
    assert_eq!(
        mail[0].login,
        Some(("tessera".to_owned(), "mail password 1".to_owned())),
        "the stored password logs in"
    );
    assert_eq!(mail[0].from, "<login@acme.test>");
    assert_eq!(mail[0].to, ["<jan@example.com>"]);
    assert!(
        mail[0]
            .data
            .contains("Subject: Your Tessera verification code"),
        "{}",
        mail[0].data
    );
    let body = mail[0].data.split("\n\n").nth(1).unwrap_or_default();
    assert!(
        body.starts_with("Your Tessera verification code is: "),
        "{body}"
    );
    assert_eq!(code_in(body).len(), 6, "{body}");

    assert_eq!(
        stored(&app).await.sender,
        SenderKind::Outbox,
        "a test goes through the sender it names; the one in force is unchanged"
    );
    let events = app.audit("event=delivery.test").await;
    assert_eq!(events.len(), 1);
    let details = &events[0]["details"];
    assert_eq!(details["sender"], "smtp");
    assert_eq!(details["outcome"], "delivered");
    assert_eq!(details["to"], "j•••@example.com");
    assert!(events[0]["actor"].as_str().unwrap().starts_with("user:"));
}

#[tokio::test]
async fn the_smtp_password_and_the_webhook_secret_are_kept_and_never_shown_back() {
    let (app, mut admin) = admin_on_the_page().await;
    const MAIL_PASSWORD: &str = "smtp-Pa55word-xyz";
    const HOOK_SECRET: &str = "hook-Secret-xyz";
    let (status, _) = save_smtp(
        &app,
        &mut admin,
        ("smtp.example.com", "587", "starttls"),
        ("login@example.com", MAIL_PASSWORD),
        "login@example.com",
    )
    .await;
    assert_eq!(status, 303);
    let (status, page) = submit(
        &app,
        &mut admin,
        "/admin/delivery/webhook",
        &[("url", "https://sms.example/send"), ("secret", HOOK_SECRET)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(page.contains("Password (set; leave empty to keep it)"));
    assert!(page.contains("Signing secret (set; leave empty to keep it)"));
    assert!(!page.contains(MAIL_PASSWORD) && !page.contains(HOOK_SECRET));

    let answer = app
        .with_key(Method::GET, "/api/system/delivery")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!answer.contains(MAIL_PASSWORD) && !answer.contains(HOOK_SECRET));
    let shown: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(shown["delivery"]["smtp"]["password"], "set");
    assert_eq!(shown["delivery"]["smtp"]["host"], "smtp.example.com");
    assert_eq!(shown["delivery"]["smtp"]["tls"], "starttls");
    assert_eq!(shown["delivery"]["webhook"]["secret"], "set");

    // Saved again with the secret fields left empty, or given back as "set": each is kept.
    let (status, _) = save_smtp(
        &app,
        &mut admin,
        ("smtp2.example.com", "465", "tls"),
        ("login@example.com", ""),
        "login@example.com",
    )
    .await;
    assert_eq!(status, 303);
    let put_back = app.put_delivery_settings(shown["delivery"].clone()).await;
    assert_eq!(put_back.status(), 200);
    assert!(!put_back.text().await.unwrap().contains(MAIL_PASSWORD));
    let settings = stored(&app).await;
    assert_eq!(
        settings.smtp.host, "smtp.example.com",
        "the API put it back"
    );
    assert_eq!(settings.smtp.password.expose(), Some(MAIL_PASSWORD));
    assert_eq!(settings.webhook.secret.expose(), Some(HOOK_SECRET));

    let (sealed,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE key = 'delivery'")
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    assert!(!sealed.contains(MAIL_PASSWORD) && !sealed.contains(HOOK_SECRET));
    assert!(
        !sealed.contains("smtp.example.com"),
        "the settings are sealed whole"
    );

    // Without its username the password has no use, and goes.
    let (status, _) = save_smtp(
        &app,
        &mut admin,
        ("smtp.example.com", "587", "starttls"),
        ("", ""),
        "login@example.com",
    )
    .await;
    assert_eq!(status, 303);
    assert!(!stored(&app).await.smtp.password.is_set());
}

#[tokio::test]
async fn a_mail_server_that_cannot_be_reached_is_reported_on_the_page_in_the_senders_words() {
    let (app, mut admin) = admin_on_the_page().await;
    let port = closed_port().await.to_string();
    let (status, _) = save_smtp(
        &app,
        &mut admin,
        ("127.0.0.1", &port, "none"),
        ("", ""),
        "login@acme.test",
    )
    .await;
    assert_eq!(status, 303);
    let test = [("to", "jan@example.com")];
    let (status, page) = submit(&app, &mut admin, "/admin/delivery/smtp/test", &test).await;
    assert_eq!(status, 422);
    assert!(
        page.contains(&format!(
            "Not delivered: the mail server 127.0.0.1:{port} failed: Connection error: Connection refused"
        )),
        "{page}"
    );
    assert!(
        page.contains(r#"value="jan@example.com""#),
        "the address stays"
    );
    let (status, error): (String, Option<String>) =
        sqlx::query_as("SELECT status, last_error FROM messages")
            .fetch_one(app.core.store.pool())
            .await
            .unwrap();
    assert_eq!(status, "failed", "a test message is not left for a retry");
    assert!(error.unwrap_or_default().contains("Connection refused"));

    let (status, _) = save_smtp(
        &app,
        &mut admin,
        ("mail.tessera-test.invalid", "25", "none"),
        ("", ""),
        "login@acme.test",
    )
    .await;
    assert_eq!(status, 303);
    let (status, page) = submit(&app, &mut admin, "/admin/delivery/smtp/test", &test).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Not delivered: the mail server mail.tessera-test.invalid:25 failed: "),
        "{page}"
    );
    let failed = app.audit("event=delivery.test").await;
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|e| e["details"]["outcome"] == "failed"));
}

#[tokio::test]
async fn invalid_sender_settings_are_refused_with_every_reason_and_nothing_is_saved() {
    let (app, mut admin) = admin_on_the_page().await;
    let before = stored(&app).await;
    let changes_before = app.audit("event=settings.change").await.len();

    let (status, page) = save_smtp(
        &app,
        &mut admin,
        ("mail example.com", "70000", "starttls"),
        ("", ""),
        "nobody",
    )
    .await;
    assert_eq!(status, 422);
    for reason in [
        "Host: ",
        "is not a host name or IP address (like smtp.example.com).",
        "Port: the port 70000 is out of range: a port is 1 to 65535 (usually 587).",
        "From address: ",
        "is not an email address",
    ] {
        assert!(page.contains(reason), "{reason}: {page}");
    }
    assert!(
        page.contains(r#"value="mail example.com""#),
        "what was typed stays in the form"
    );
    let (status, page) = save_smtp(
        &app,
        &mut admin,
        ("smtp.example.com", "abc", "starttls"),
        ("", ""),
        "login@example.com",
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("is not a number; a port is 1 to 65535."),
        "{page}"
    );
    let (status, page) = save_smtp(
        &app,
        &mut admin,
        ("smtp.example.com", "587", "starttls"),
        ("", ""),
        "",
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("From address: the from address is required (like login@example.com)."),
        "{page}"
    );
    let (status, page) = submit(
        &app,
        &mut admin,
        "/admin/delivery/webhook",
        &[("url", "ftp://sms.example/send"), ("secret", "s")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("Webhook URL: a webhook URL starts with https:// (or http://), not ftp:."),
        "{page}"
    );

    // The API: the same rules, a 400 that names each field.
    let refused = app
        .put_delivery_settings(json!({"sender": "smtp", "smtp": {
            "host": "smtp://mail.example.com", "port": 0, "from": "login@example.com"}}))
        .await;
    assert_eq!(refused.status(), 400);
    let errors: Value = refused.json().await.unwrap();
    assert!(
        errors["fieldErrors"]["smtp.host"][0]["message"]
            .as_str()
            .unwrap()
            .contains("without smtp://"),
        "{errors}"
    );
    assert!(errors["fieldErrors"]["smtp.port"].is_array(), "{errors}");
    let refused = app
        .put_delivery_settings(
            json!({"sender": "webhook", "webhook": {"url": "mailto:sms@example.com"}}),
        )
        .await;
    assert_eq!(refused.status(), 400);
    let errors: Value = refused.json().await.unwrap();
    assert!(errors["fieldErrors"]["webhook.url"].is_array(), "{errors}");

    assert_eq!(stored(&app).await, before, "nothing was saved");
    assert_eq!(
        app.audit("event=settings.change").await.len(),
        changes_before
    );
}

#[tokio::test]
async fn an_administrator_sets_up_the_webhook_on_the_page_and_the_signed_test_post_arrives() {
    let (app, mut admin) = admin_on_the_page().await;
    let hook = FakeWebhook::start().await;
    const SECRET: &str = "gateway secret 7";
    let (status, page) = submit(
        &app,
        &mut admin,
        "/admin/delivery/webhook",
        &[("url", &hook.url), ("secret", SECRET)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(page.contains(&format!(r#"value="{}""#, hook.url)));
    assert!(page.contains("Signing secret (set; leave empty to keep it)"));

    let (status, page) = submit(
        &app,
        &mut admin,
        "/admin/delivery/webhook/test",
        &[("to", "+1 415 555 0123"), ("channel", "")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Delivered: the webhook took the test message for +14155550123."),
        "{page}"
    );
    let posts = hook.received();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    let payload: Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(payload["channel"], "sms");
    assert_eq!(payload["to"], "+14155550123");
    let text = payload["body"].as_str().unwrap();
    assert!(
        text.starts_with("Your Tessera verification code is: "),
        "{text}"
    );
    assert_eq!(code_in(text).len(), 6);
    assert_eq!(
        post.header("idempotency-key"),
        payload["id"].as_str().unwrap()
    );
    let signature = post.header("x-tessera-signature");
    let signature = hex::decode(signature.strip_prefix("sha256=").unwrap()).unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(post.body.as_bytes());
    mac.verify_slice(&signature)
        .expect("the signature is the HMAC-SHA256 of the body under the secret");

    let (status, page) = submit(
        &app,
        &mut admin,
        "/admin/delivery/webhook/test",
        &[("to", "ida@example.com"), ("channel", "call")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("The test message was refused: the call channel cannot reach"),
        "{page}"
    );
    assert_eq!(hook.received().len(), 1);
}

#[tokio::test]
async fn a_webhook_that_cannot_be_reached_is_reported_on_the_page_in_the_senders_words() {
    let (app, mut admin) = admin_on_the_page().await;
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/hook?token=not-for-the-log");
    let (status, _) = submit(
        &app,
        &mut admin,
        "/admin/delivery/webhook",
        &[("url", &url), ("secret", "")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, page) = submit(
        &app,
        &mut admin,
        "/admin/delivery/webhook/test",
        &[("to", "+14155550123"), ("channel", "")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains(&format!(
            "Not delivered: the webhook at 127.0.0.1:{port} is unreachable: "
        )) && page.contains("Connection refused"),
        "{page}"
    );
    let (error,): (Option<String>,) = sqlx::query_as("SELECT last_error FROM messages")
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    assert!(
        !error.unwrap_or_default().contains("not-for-the-log"),
        "an error names the server, not the query of its URL"
    );
}

#[tokio::test]
async fn the_api_saves_a_sender_and_tests_it_under_the_rules_of_the_page() {
    let app = spawn_app().await;
    let smtp = FakeSmtp::start().await;
    let saved = app
        .put_delivery_settings(json!({"smtp": {
            "host": "127.0.0.1", "port": smtp.port(), "tls": "none",
            "username": "tessera", "password": "api mail password", "from": "login@acme.test"}}))
        .await;
    assert_eq!(saved.status(), 200);
    let saved = saved.text().await.unwrap();
    assert!(!saved.contains("api mail password"), "{saved}");
    let saved: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["delivery"]["smtp"]["password"], "set");
    assert_eq!(stored(&app).await.smtp.tls, SmtpTls::None);

    let test = |body: Value| {
        app.with_key(Method::POST, "/api/system/delivery/test")
            .json(&body)
            .send()
    };
    let answer = test(json!({"sender": "smtp", "to": "ida@example.com"}))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"delivered": true, "reference": "queued as FAKE1"})
    );
    let mail = smtp.received();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["<ida@example.com>"]);
    assert_eq!(
        mail[0].login,
        Some(("tessera".to_owned(), "api mail password".to_owned()))
    );

    // SMTP carries email alone: the sender says so.
    let answer: Value = test(json!({"sender": "smtp", "to": "+14155550123"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["delivered"], false);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("the SMTP sender only sends email"),
        "{answer}"
    );
    let refused = test(json!({"sender": "smtp", "to": "ida@example.com", "channel": "sms"}))
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let errors: Value = refused.json().await.unwrap();
    assert!(errors["fieldErrors"]["channel"].is_array(), "{errors}");

    let port = closed_port().await;
    let moved = app
        .put_delivery_settings(json!({"smtp": {
            "host": "127.0.0.1", "port": port, "tls": "none", "username": "tessera",
            "from": "login@acme.test"}}))
        .await;
    assert_eq!(moved.status(), 200, "the password is kept");
    let answer: Value = test(json!({"sender": "smtp", "to": "ida@example.com"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["delivered"], false);
    assert!(
        answer["error"].as_str().unwrap().contains(&format!(
            "127.0.0.1:{port} failed: Connection error: Connection refused"
        )),
        "{answer}"
    );
    let events = app.audit("event=delivery.test").await;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e["actor"].as_str().unwrap().starts_with("api-key:"))
    );
    assert_eq!(smtp.received().len(), 1);
}
