use serde_json::{Value, json};
use tessera::app::Application;
use tessera::config::AccessTokenAlgorithm;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::oidc_keys::{jwks, verified_by};

async fn logged_in(app: &TestApp) -> Value {
    // An administrator with the password alone, as a server that chose so allows.
    app.put_two_factor_settings(json!({"apiLoginPolicy": "enabled"}))
        .await;
    app.create_user("ann", json!({"roles": ["admin"]})).await;
    let response = app.login("ann", PASSWORD).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn validate(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_fresh_token_validates_with_its_claims() {
    let app = spawn_app().await;
    let login = logged_in(&app).await;
    let response = validate(&app, login["token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let jwt = &body["jwt"];
    assert_eq!(jwt["sub"], login["user"]["id"]);
    assert_eq!(jwt["roles"], json!(["admin", "user"]));
    assert_eq!(jwt["amr"], json!(["pwd"]));
    assert_eq!(jwt["iss"], "http://tessera.test");
    assert_eq!(jwt["sid"], login["refreshTokenId"]);
    assert!(jwt["exp"].as_i64().unwrap() > jwt["iat"].as_i64().unwrap());
    assert!(jwt["jti"].as_str().is_some());
}

#[tokio::test]
async fn a_forged_or_missing_token_is_refused() {
    let app = spawn_app().await;
    let login = logged_in(&app).await;
    let token = login["token"].as_str().unwrap();
    let mut forged = token.to_owned();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(validate(&app, &forged).await.status(), 401);
    assert_eq!(validate(&app, "garbage").await.status(), 401);
    let none = app
        .client
        .get(app.url("/api/jwt/validate"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
}

#[tokio::test]
async fn logout_revokes_the_token_and_the_refresh_token() {
    let app = spawn_app().await;
    let login = logged_in(&app).await;
    let token = login["token"].as_str().unwrap();
    let response = app
        .client
        .post(app.url("/api/logout"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(validate(&app, token).await.status(), 401);
    let refresh = app
        .post_json(
            "/api/jwt/refresh",
            &json!({"refreshToken": login["refreshToken"]}),
        )
        .await;
    assert_eq!(refresh.status(), 404);
    assert_eq!(app.audit("event=logout").await.len(), 1);
}

#[tokio::test]
async fn logout_by_refresh_token_and_global_logout_end_every_session() {
    let app = spawn_app().await;
    let first = logged_in(&app).await;
    let second: Value = app.login("ann", PASSWORD).await.json().await.unwrap();

    let response = app
        .post_json(
            "/api/logout",
            &json!({"refreshToken": first["refreshToken"], "global": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    for login in [&first, &second] {
        assert_eq!(
            validate(&app, login["token"].as_str().unwrap())
                .await
                .status(),
            401
        );
    }
}

#[tokio::test]
async fn a_refresh_token_is_spent_when_it_is_used() {
    let app = spawn_app().await;
    let login = logged_in(&app).await;
    let old_refresh = login["refreshToken"].clone();

    let response = app
        .post_json("/api/jwt/refresh", &json!({"refreshToken": old_refresh}))
        .await;
    assert_eq!(response.status(), 200);
    let refreshed: Value = response.json().await.unwrap();
    assert_ne!(refreshed["refreshToken"], old_refresh);
    assert_eq!(refreshed["refreshTokenId"], login["refreshTokenId"]);
    assert_eq!(
        validate(&app, refreshed["token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    let again = app
        .post_json("/api/jwt/refresh", &json!({"refreshToken": old_refresh}))
        .await;
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn a_spent_refresh_token_that_comes_back_ends_its_session_and_every_token_of_it() {
    let app = spawn_app().await;
    let login = logged_in(&app).await;
    let stolen = login["refreshToken"].clone();

    // The thief trades the copied token in first...
    let response = app
        .post_json("/api/jwt/refresh", &json!({"refreshToken": stolen}))
        .await;
    assert_eq!(response.status(), 200);
    let thief: Value = response.json().await.unwrap();

    // ...then the owner sends the same token: it is refused, and the session ends.
    let owner = app
        .post_json("/api/jwt/refresh", &json!({"refreshToken": stolen}))
        .await;
    assert_eq!(owner.status(), 404);
    assert_eq!(owner.content_length(), Some(0));
    let again = app
        .post_json(
            "/api/jwt/refresh",
            &json!({"refreshToken": thief["refreshToken"]}),
        )
        .await;
    assert_eq!(again.status(), 404, "the thief's newer token died too");
    for token in [&thief["token"], &login["token"]] {
        assert_eq!(validate(&app, token.as_str().unwrap()).await.status(), 401);
    }
    let events = app.audit("event=token.refresh_reuse").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["target"], login["user"]["id"]);
    assert_eq!(events[0]["details"]["sessionId"], login["refreshTokenId"]);

    // The user's other sessions go on.
    let other: Value = app.login("ann", PASSWORD).await.json().await.unwrap();
    let response = app
        .post_json(
            "/api/jwt/refresh",
            &json!({"refreshToken": other["refreshToken"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_refresh_token_sent_twice_at_once_ends_its_session() {
    // A client's retry looks like a thief's copy: of 20 simultaneous refreshes with one token,
    // one wins, the others find it spent, and the session ends with the winner's new token.
    let app = spawn_app().await;
    let login = logged_in(&app).await;
    let body = json!({"refreshToken": login["refreshToken"]});
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (client, url, body) = (
            app.client.clone(),
            app.url("/api/jwt/refresh"),
            body.clone(),
        );
        requests.spawn(async move {
            let response = client.post(url).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            let body: Option<Value> = response.json().await.ok();
            (status, body)
        });
    }
    let answers = requests.join_all().await;
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 404),
        "{statuses:?}"
    );
    let (_, winner) = answers.iter().find(|(status, _)| *status == 200).unwrap();
    let winner = winner.as_ref().unwrap();
    let response = app
        .post_json(
            "/api/jwt/refresh",
            &json!({"refreshToken": winner["refreshToken"]}),
        )
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        validate(&app, winner["token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    assert_eq!(app.audit("event=token.refresh_reuse").await.len(), 1);
}

#[tokio::test]
async fn a_disabled_user_loses_every_session() {
    let app = spawn_app().await;
    let login = logged_in(&app).await;
    // Another administrator, so that this one may be disabled.
    app.create_user("deputy", json!({"roles": ["admin"]})).await;
    let id = login["user"]["id"].as_str().unwrap();
    let response = app
        .with_key(reqwest::Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"active": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        validate(&app, login["token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}

/// A request of the token's own user: the computers they trust.
async fn current_user(app: &TestApp, token: &str) -> reqwest::StatusCode {
    app.client
        .get(app.url("/api/user/two-factor/trust"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn signed_by_the_published_keys_an_access_token_verifies_offline_against_the_jwks() {
    let app = spawn_app_with(|config| {
        config.tokens.access_token_algorithm = AccessTokenAlgorithm::Rs256;
    })
    .await;
    let login = logged_in(&app).await;
    let token = login["token"].as_str().unwrap();
    let (header, claims) =
        verified_by(&jwks(&app).await, token).expect("the token verifies with the JWKS");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["sub"], login["user"]["id"]);
    assert_eq!(claims["sid"], login["refreshTokenId"]);
    assert_eq!(validate(&app, token).await.status(), 200);
    assert_eq!(current_user(&app, token).await, 200);

    let parts: Vec<&str> = token.split('.').collect();
    let mut forged_claims = claims.clone();
    forged_claims["roles"] = json!(["admin", "user", "superuser"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            forged_claims.to_string()
        ),
        parts[2]
    );
    assert_eq!(validate(&app, &forged).await.status(), 401);
    assert_eq!(current_user(&app, &forged).await, 401);

    let refreshed: Value = app
        .post_json(
            "/api/jwt/refresh",
            &json!({"refreshToken": login["refreshToken"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let renewed = refreshed["token"].as_str().unwrap();
    let (header, _) = verified_by(&jwks(&app).await, renewed).expect("a refresh's token too");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(current_user(&app, renewed).await, 200);
}

#[tokio::test]
async fn tokens_issued_before_a_switch_to_the_published_keys_live_out_their_time() {
    let app = spawn_app().await;
    let login = logged_in(&app).await;
    let before = login["token"].as_str().unwrap();
    assert!(verified_by(&jwks(&app).await, before).is_none(), "HS256");

    // The same data directory and database, restarted with ES256 access tokens.
    let mut config = app.config.clone();
    config.tokens.access_token_algorithm = AccessTokenAlgorithm::Es256;
    let switched = Application::build(&config).await.unwrap();
    let address = format!("http://{}", switched.local_addr());
    tokio::spawn(switched.run_until(std::future::pending()));
    let status = app
        .client
        .get(format!("{address}/api/jwt/validate"))
        .bearer_auth(before)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let renewed: Value = app
        .client
        .post(format!("{address}/api/jwt/refresh"))
        .json(&json!({"refreshToken": login["refreshToken"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (header, _) = verified_by(&jwks(&app).await, renewed["token"].as_str().unwrap())
        .expect("the new token is signed by a published key");
    assert_eq!(header["alg"], "ES256");
}
