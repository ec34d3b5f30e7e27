//! Secrets at rest: after enrolments, logins, trusted computers, API keys, provider tokens and
//! Verify accounts, a dump of the whole database holds none of those secrets in plaintext.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app};

/// Every byte the database keeps: the SQLite file and its WAL, or a `pg_dump` of the test schema.
async fn dump(app: &TestApp) -> Vec<u8> {
    let url = app.config.database_url().expose().to_owned();
    if url.starts_with("sqlite:") {
        let path = app.data_dir.path().join("tessera.db");
        let mut bytes = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
            bytes.extend(wal);
        }
        return bytes;
    }
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    let base = url.split('?').next().unwrap();
    let output = std::process::Command::new("pg_dump")
        .args(["--data-only", "--schema", &schema, base])
        .output()
        .expect("pg_dump is installed with PostgreSQL");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_dump_of_the_database_holds_no_secret_in_plaintext() {
    let app = spawn_app().await;
    let user = app
        .create_user("ann", json!({"mobilePhone": "+1 303 555 1212"}))
        .await;
    let id = user["id"].as_str().unwrap();
    // Each step below must have happened for its secret to be looked for in the dump.
    let (secret, recovery) = app.enroll_authenticator(id).await;
    assert_eq!(recovery.len(), 10, "the recovery codes were issued");
    let challenge = app.start_two_factor("ann").await;
    let done = app
        .finish_two_factor(
            &challenge,
            &oathtool(&secret, 30),
            json!({"trustComputer": true}),
        )
        .await;
    assert_eq!(done.status(), 200, "the login with a code succeeded");
    let done: Value = done.json().await.unwrap();
    let twilio_token = "abcdef0123456789abcdef0123456789";
    let saved = app
        .put_delivery_settings(json!({"twilio": {"accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": twilio_token}}))
        .await;
    assert_eq!(saved.status(), 200, "the Twilio settings were saved");
    let (_, verify_token) = app
        .core
        .verify
        .create_verify_account(
            "dump",
            tessera::audit::Actor::System,
            tessera::clock::Instant::now(),
        )
        .await
        .unwrap();
    let sent = app.send_enrollment(id, "sms", "+13035551212").await;
    assert_eq!(sent.status(), 200, "the SMS code was sent");
    let sms_message = app
        .outbox()
        .await
        .into_iter()
        .find(|m| m["to"] == "+13035551212")
        .and_then(|m| m["body"].as_str().map(str::to_owned))
        .expect("the SMS message is in the outbox");
    let sms_code = app.code_sent_to("+13035551212").await;
    assert_eq!(
        sms_code.len(),
        6,
        "the SMS message carries a code: {sms_message}"
    );
    let other = app.create_user("bo", json!({})).await;
    let changed = app
        .with_key(
            Method::PATCH,
            &format!("/api/user/{}", other["id"].as_str().unwrap()),
        )
        .json(&json!({"user": {"password": "another secret password"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "the password change was accepted");
    assert_eq!(
        app.login("bo", "another secret password").await.status(),
        200,
        "the new password is the one in force"
    );

    let bytes = dump(&app).await;
    let raw_secret = tessera::otp::TotpSecret::from_base32(&secret).unwrap();
    let mut secrets: Vec<(&str, Vec<u8>)> = vec![
        ("TOTP secret (base32)", secret.as_bytes().to_vec()),
        ("TOTP secret (bytes)", raw_secret.bytes().to_vec()),
        ("TOTP secret (base64)", raw_secret.to_base64().into_bytes()),
        ("password", PASSWORD.as_bytes().to_vec()),
        ("other password", b"another secret password".to_vec()),
        (
            "access token",
            done["token"]
                .as_str()
                .expect("an access token")
                .as_bytes()
                .to_vec(),
        ),
        (
            "refresh token",
            done["refreshToken"]
                .as_str()
                .expect("a refresh token")
                .as_bytes()
                .to_vec(),
        ),
        (
            "trust token",
            done["twoFactorTrustId"]
                .as_str()
                .expect("a trust token")
                .as_bytes()
                .to_vec(),
        ),
        ("API key", app.api_key.as_bytes().to_vec()),
        ("Twilio auth token", twilio_token.as_bytes().to_vec()),
        ("Verify API auth token", verify_token.as_bytes().to_vec()),
        ("SMS message", sms_message.clone().into_bytes()),
        (
            "SMS code message",
            format!("verification code is: {sms_code}").into_bytes(),
        ),
    ];
    for code in &recovery {
        secrets.push(("recovery code", code.as_bytes().to_vec()));
        secrets.push((
            "recovery code (normalised)",
            code.replace('-', "").into_bytes(),
        ));
    }
    assert!(
        contains(&bytes, b"ann"),
        "the dump is readable: it holds the username"
    );
    for (what, secret) in secrets {
        assert!(!secret.is_empty(), "the {what} was captured");
        assert!(
            !contains(&bytes, &secret),
            "the {what} is in the database in plaintext"
        );
    }
}
