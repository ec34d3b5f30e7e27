//! Password guessing: an address gets a few wrong passwords per account and some over all
//! accounts, then waits (429 with `Retry-After`) without its passwords being compared; an
//! account many addresses guess at is asked for its second factor, never locked; administrators
//! need a second factor by default; common and breached passwords cannot be chosen.

use reqwest::Method;
use serde_json::{Value, json};
use tessera::limits::Limit;

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app, spawn_app_with};

const WRONG: &str = "not the password";

/// A login an application makes for its user at `ip` (an API key makes `ipAddress` count).
async fn login_from(app: &TestApp, ip: &str, body: Value) -> reqwest::Response {
    let mut body = body;
    body["ipAddress"] = json!(ip);
    app.with_key(Method::POST, "/api/login")
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_address_past_its_wrong_passwords_for_an_account_waits_and_the_owner_elsewhere_does_not()
{
    let app = spawn_app_with(|config| {
        config.password_guard.per_account_and_ip = Limit {
            max: 5,
            window_seconds: 900,
        };
    })
    .await;
    app.create_user("pat", json!({})).await;
    for _ in 0..5 {
        assert_eq!(app.login("pat", WRONG).await.status(), 404);
    }
    // Even the right password is not compared now.
    let refused = app.login("pat", PASSWORD).await;
    assert_eq!(refused.status(), 429);
    let retry_after: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // The owner, from another address, gets in.
    let owner = login_from(
        &app,
        "198.51.100.7",
        json!({"loginId": "pat", "password": PASSWORD}),
    )
    .await;
    assert_eq!(owner.status(), 200);
    let throttled = app.audit("event=login.failure&limit=100").await;
    assert!(
        throttled
            .iter()
            .any(|e| e["details"]["reason"] == "throttled"),
        "{throttled:?}"
    );
}

#[tokio::test]
async fn an_address_past_its_wrong_passwords_over_all_accounts_waits_too() {
    let app = spawn_app_with(|config| {
        config.password_guard.per_ip = Limit {
            max: 8,
            window_seconds: 900,
        };
    })
    .await;
    app.create_user("real", json!({})).await;
    // Names that exist and names that do not count alike.
    for n in 0..8 {
        let name = if n == 0 {
            "real".to_owned()
        } else {
            format!("nobody{n}")
        };
        assert_eq!(app.login(&name, WRONG).await.status(), 404);
    }
    assert_eq!(app.login("nobody99", WRONG).await.status(), 429);
    assert_eq!(app.login("real", PASSWORD).await.status(), 429);
    // Right passwords are given back: they never use up an address's budget.
    let office = "203.0.113.9";
    for _ in 0..20 {
        let ok = login_from(
            &app,
            office,
            json!({"loginId": "real", "password": PASSWORD}),
        )
        .await;
        assert_eq!(ok.status(), 200);
    }
}

#[tokio::test]
async fn an_account_guessed_at_from_many_addresses_is_asked_for_its_second_factor_not_locked() {
    let app = spawn_app_with(|config| {
        config.password_guard.per_account = Limit {
            max: 3,
            window_seconds: 3600,
        };
    })
    .await;
    let user = app.create_user("tia", json!({})).await;
    let (secret, _) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    let two_factor_id = app.start_two_factor("tia").await;
    let done: Value = app
        .finish_two_factor(
            &two_factor_id,
            &oathtool(&secret, 30),
            json!({"trustComputer": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let trust = done["twoFactorTrustId"].as_str().unwrap().to_owned();
    let trusted_login =
        || json!({"loginId": "tia", "password": PASSWORD, "twoFactorTrustId": trust});
    assert_eq!(
        login_from(&app, "192.0.2.1", trusted_login())
            .await
            .status(),
        200,
        "the trusted computer is spared the code"
    );

    for n in 1..=3 {
        let wrong = login_from(
            &app,
            &format!("198.51.100.{n}"),
            json!({"loginId": "tia", "password": WRONG}),
        )
        .await;
        assert_eq!(wrong.status(), 404);
    }
    // Not locked: the right password works from anywhere, but asks for the code.
    let asked = login_from(&app, "192.0.2.1", trusted_login()).await;
    assert_eq!(asked.status(), 242);
}

#[tokio::test]
async fn administrators_need_a_second_factor_by_default() {
    let app = spawn_app().await;
    app.create_user("root2", json!({"roles": ["admin"]})).await;
    app.create_user("plain", json!({})).await;
    let (status, body) = app
        .login_json(json!({"loginId": "root2", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "{body}");
    assert!(
        body["methods"].as_array().is_none_or(|m| m.is_empty()),
        "{body}"
    );
    let (status, _) = app
        .login_json(json!({"loginId": "plain", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn common_and_breached_passwords_are_refused_with_a_clear_message() {
    let app = spawn_app().await;
    for weak in [
        "password123",
        "Password1",
        "qwertyuiop",
        "iloveyou!",
        "12345678",
        "aaaaaaaaaa",
    ] {
        let response = app
            .with_key(Method::POST, "/api/user")
            .json(&json!({"user": {"username": "weak", "password": weak}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{weak}");
        let body: Value = response.json().await.unwrap();
        let error = &body["fieldErrors"]["user.password"][0];
        assert_eq!(error["code"], "[breached]user.password", "{weak}: {body}");
        assert!(
            error["message"].as_str().unwrap().contains("common"),
            "{weak}: {body}"
        );
    }
    app.create_user("strong", json!({})).await;
}
