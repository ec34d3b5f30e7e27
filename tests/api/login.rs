use serde_json::{Value, json};

use crate::helpers::{PASSWORD, oathtool, spawn_app};

#[tokio::test]
async fn a_user_logs_in_with_username_or_email_and_gets_a_jwt_and_a_refresh_token() {
    let app = spawn_app().await;
    let user = app
        .create_user(
            "ann",
            json!({"email": "Ann@Example.com", "fullName": "Ann Lee"}),
        )
        .await;

    for login_id in ["ann", "ANN", "ann@example.com"] {
        let response = app.login(login_id, PASSWORD).await;
        assert_eq!(response.status(), 200, "{login_id}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["user"]["id"], user["id"]);
        assert_eq!(body["token"].as_str().unwrap().split('.').count(), 3);
        assert!(body["refreshToken"].as_str().unwrap().len() >= 40);
        assert!(body["tokenExpirationInstant"].as_i64().unwrap() > 0);
        assert!(body["user"].get("password").is_none());
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_empty_404() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;

    let wrong = app.login("ann", "not the password").await;
    let unknown = app.login("nobody", PASSWORD).await;
    for response in [wrong, unknown] {
        assert_eq!(response.status(), 404);
        assert_eq!(response.text().await.unwrap(), "");
    }
}

/// A login for nobody compares the password with a dummy hash, so that it takes as long as a
/// wrong password and its time does not tell which accounts exist.
#[tokio::test]
async fn a_login_for_an_unknown_user_costs_one_password_hash_as_a_wrong_password_does() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let hashes = || app.core.logins.password_verifications();

    let before = hashes();
    assert_eq!(app.login("ann", "not the password").await.status(), 404);
    let wrong_password = hashes() - before;

    let before = hashes();
    assert_eq!(app.login("nobody", PASSWORD).await.status(), 404);
    let unknown_user = hashes() - before;

    assert_eq!(wrong_password, 1);
    assert_eq!(unknown_user, wrong_password);
}

#[tokio::test]
async fn a_disabled_user_with_the_right_password_gets_423() {
    let app = spawn_app().await;
    app.create_user("ann", json!({"active": false})).await;

    assert_eq!(app.login("ann", PASSWORD).await.status(), 423);
    // The wrong password still answers 404: being disabled is only told to the account holder.
    assert_eq!(app.login("ann", "wrong password").await.status(), 404);
}

#[tokio::test]
async fn every_login_success_and_failure_is_audited_with_ip_and_user_agent() {
    let app = spawn_app().await;
    let user = app.create_user("ann", json!({})).await;
    let id = user["id"].as_str().unwrap();

    app.client
        .post(app.url("/api/login"))
        .header("User-Agent", "audit-test/1.0")
        .json(&json!({"loginId": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    app.login("ann", "wrong password").await;
    app.login("ghost", "whatever password").await;

    let success = app.audit(&format!("userId={id}&event=login.success")).await;
    assert_eq!(success.len(), 1);
    assert_eq!(success[0]["ipAddress"], "127.0.0.1");
    assert_eq!(success[0]["userAgent"], "audit-test/1.0");

    let failures = app.audit("event=login.failure").await;
    let reasons: Vec<&str> = failures
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["unknown_user", "wrong_password"]);
    for event in &failures {
        assert!(!event.to_string().contains(PASSWORD));
        assert!(!event.to_string().contains("wrong password"));
    }
}

#[tokio::test]
async fn an_application_may_pass_the_end_users_ip_address() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let response = app
        .with_key(reqwest::Method::POST, "/api/login")
        .json(
            &json!({"loginId": "ann", "password": PASSWORD, "ipAddress": "203.0.113.9",
                    "applicationId": "10000000-0000-0002-0000-000000000001"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = app.audit("event=login.success").await;
    assert_eq!(events[0]["ipAddress"], "203.0.113.9");
}

#[tokio::test]
async fn an_ip_address_in_the_body_counts_only_from_an_application_with_an_api_key() {
    let app = spawn_app().await;
    let user = app.create_user("ann", json!({})).await;
    // Anyone may claim an address; without an API key it is checked, then ignored...
    let claimed = json!({"loginId": "ann", "password": PASSWORD, "ipAddress": "203.0.113.9"});
    assert_eq!(app.post_json("/api/login", &claimed).await.status(), 200);
    // ...and an empty one is no address at all, not a mistake.
    let empty = json!({"loginId": "ann", "password": PASSWORD, "ipAddress": ""});
    assert_eq!(app.post_json("/api/login", &empty).await.status(), 200);
    // The second step of a login believes no more.
    let (secret, _) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    let two_factor_id = app.start_two_factor("ann").await;
    // The next time step: enrolment spent this one.
    let second = json!({"twoFactorId": two_factor_id, "code": oathtool(&secret, 30),
                        "ipAddress": "203.0.113.9"});
    assert_eq!(
        app.post_json("/api/two-factor/login", &second)
            .await
            .status(),
        200
    );

    let events = app.audit("event=login.success").await;
    assert_eq!(events.len(), 3);
    for event in &events {
        assert_eq!(event["ipAddress"], "127.0.0.1", "{events:?}");
    }
}

#[tokio::test]
async fn a_hash_made_with_old_parameters_is_upgraded_at_login() {
    let app = spawn_app().await;
    let user = app.create_user("ann", json!({})).await;
    let id = tessera::domain::UserId::parse(user["id"].as_str().unwrap()).unwrap();

    // Store a hash made with other (older) parameters, as after a configuration change.
    let old = tessera::crypto::PasswordHasher::new(
        &tessera::config::Argon2Config {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 1,
        },
        1,
    )
    .unwrap()
    .hash_blocking(PASSWORD)
    .unwrap();
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(old.as_str().to_owned())
        .bind(id.to_string())
        .execute(app.core.store.pool())
        .await
        .unwrap();

    assert_eq!(app.login("ann", PASSWORD).await.status(), 200);
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    assert!(stored.contains("m=256,t=1,p=1"), "{stored}");
    assert_eq!(app.login("ann", PASSWORD).await.status(), 200);
}
