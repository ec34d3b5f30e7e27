//! WebAuthn ceremonies begun are bounded: each is a row kept five minutes, and the login page
//! begins one for any visitor. Without a session they are counted per client address, for a
//! user per user (`[webauthn] ceremonies_per_address`, `ceremonies_per_user`); past the limit
//! a start is a 429 with `Retry-After` and no row is written.

use reqwest::Method;
use serde_json::{Value, json};
use tessera::limits::Limit;

use crate::helpers::{TestApp, spawn_app_with};
use crate::soft_key::{SoftKey, register_through_api, user};
use crate::web::{Browser, csrf_in};

async fn ceremonies(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM webauthn_challenges")
        .fetch_one(app.core.store.pool())
        .await
        .unwrap()
}

/// `POST /api/webauthn/start` without a session or key: the status, `Retry-After` and body.
async fn start(app: &TestApp, body: Value) -> (u16, Option<String>, Value) {
    let response = app.post_json("/api/webauthn/start", &body).await;
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.json().await.unwrap_or(Value::Null))
}

async fn start_for(app: &TestApp, user_id: &str) -> u16 {
    app.with_key(Method::POST, "/api/webauthn/start")
        .json(&json!({"userId": user_id, "workflow": "reauthentication"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn ceremonies_past_a_limit_are_refused_with_429_and_keep_no_row() {
    let app = spawn_app_with(|config| {
        config.webauthn.ceremonies_per_address = Limit {
            max: 3,
            window_seconds: 300,
        };
        config.webauthn.ceremonies_per_user = Limit {
            max: 2,
            window_seconds: 300,
        };
    })
    .await;
    let ann = user(&app, "ann").await;
    register_through_api(&app, &ann, &SoftKey::new(), "general").await;
    // The registration was one of Ann's ceremonies.
    assert_eq!(ceremonies(&app).await, 1);

    // Passkey sign-ins begun by a visitor: three, then no more from this address.
    let passkey = json!({"workflow": "bootstrap"});
    for _ in 0..3 {
        let (status, _, body) = start(&app, passkey.clone()).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(ceremonies(&app).await, 4);
    let (status, retry, body) = start(&app, passkey.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        retry.is_some_and(|r| (1..=300).contains(&r.parse::<i64>().unwrap())),
        "Retry-After"
    );
    assert_eq!(
        body["generalErrors"][0]["code"], "[TooManyRequests]",
        "{body}"
    );
    assert!(
        body["generalErrors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("too many security-key requests from this address; try again in"),
        "{body}"
    );
    // A login's second factor begun without a session counts against the same address.
    let two_factor_id = app.start_two_factor("ann").await;
    let (status, _, _) = start(
        &app,
        json!({"twoFactorId": two_factor_id, "workflow": "general"}),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(ceremonies(&app).await, 4, "nothing kept past the limit");

    // So does the login page's own route, which says why in words.
    let mut browser = Browser::new();
    let login = browser.get(&app, "/login").await;
    let csrf = csrf_in(&login.text().await.unwrap());
    let refused = browser
        .post(&app, "/login/passkey/start", &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("retry-after").is_some());
    let said: Value = refused.json().await.unwrap();
    assert!(
        said["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many security key and passkey requests came from here lately."),
        "{said}"
    );
    assert_eq!(ceremonies(&app).await, 4);

    // A user's own ceremonies are counted per user, apart from the address: Ann's registration
    // and one more, then none.
    assert_eq!(start_for(&app, &ann).await, 200);
    assert_eq!(start_for(&app, &ann).await, 429);
    let registration = app
        .with_key(Method::POST, "/api/webauthn/register/start")
        .json(&json!({"userId": ann, "name": "Spare", "workflow": "general"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registration.status(), 429);
    assert_eq!(ceremonies(&app).await, 5);
    // Another user has a count of their own.
    let bob = user(&app, "bob").await;
    register_through_api(&app, &bob, &SoftKey::new(), "general").await;
    assert_eq!(start_for(&app, &bob).await, 200);
    assert_eq!(ceremonies(&app).await, 7);
}
