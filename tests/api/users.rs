use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn the_user_api_needs_a_valid_api_key() {
    let app = spawn_app().await;
    let body = json!({"user": {"username": "ann", "password": PASSWORD}});
    let none = app.post_json("/api/user", &body).await;
    assert_eq!(none.status(), 401);
    assert_eq!(none.text().await.unwrap(), "");
    let wrong = app
        .client
        .post(app.url("/api/user"))
        .header("Authorization", "not-a-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn a_revoked_api_key_stops_working() {
    let app = spawn_app().await;
    let issued = app
        .core
        .accounts
        .create_api_key(
            "temporary",
            tessera::audit::Actor::Cli,
            tessera::clock::Instant::now(),
        )
        .await
        .unwrap();
    let get = |key: String| {
        let request = app
            .client
            .get(app.url("/api/user?username=nobody"))
            .header("Authorization", key);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(get(issued.key.clone()).await, 404);
    app.core
        .accounts
        .revoke_api_key(
            &issued.id,
            tessera::audit::Actor::Cli,
            tessera::clock::Instant::now(),
        )
        .await
        .unwrap();
    assert_eq!(get(issued.key).await, 401);
    assert_eq!(app.audit("event=api_key.revoke").await.len(), 1);
}

#[tokio::test]
async fn a_user_is_created_read_looked_up_updated_and_deleted() {
    let app = spawn_app().await;
    // An administrator who stays, so that the one made below may go.
    app.create_user("keeper", json!({"roles": ["admin"]})).await;
    let created = app
        .create_user(
            "bob",
            json!({"email": "bob@example.com", "mobilePhone": "+1 (303) 555-1212",
                   "fullName": "Bob Stone", "twoFactorRequired": true}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["mobilePhone"], "+13035551212");
    assert_eq!(created["roles"], json!(["user"]));
    assert_eq!(created["active"], true);
    assert_eq!(created["twoFactorRequired"], true);

    let read: Value = app
        .with_key(Method::GET, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["user"], created);

    for query in [
        "loginId=BOB",
        "loginId=bob@example.com",
        "email=BOB@example.com",
        "username=bob",
    ] {
        let found = app
            .with_key(Method::GET, &format!("/api/user?{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(found.status(), 200, "{query}");
        assert_eq!(found.json::<Value>().await.unwrap()["user"]["id"], id);
    }

    let patched: Value = app
        .with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"fullName": "Robert Stone", "mobilePhone": null}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["user"]["fullName"], "Robert Stone");
    assert!(patched["user"].get("mobilePhone").is_none());
    assert_eq!(patched["user"]["email"], "bob@example.com");

    let replaced: Value = app
        .with_key(Method::PUT, &format!("/api/user/{id}"))
        .json(&json!({"user": {"username": "robert", "roles": ["admin"]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["user"]["username"], "robert");
    assert!(
        replaced["user"].get("email").is_none(),
        "PUT clears what it leaves out"
    );
    assert_eq!(replaced["user"]["roles"], json!(["admin", "user"]));
    assert_eq!(replaced["user"]["twoFactorRequired"], false);

    let deleted = app
        .with_key(Method::DELETE, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let gone = app
        .with_key(Method::GET, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let again = app
        .with_key(Method::DELETE, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);

    let kinds: Vec<String> = app
        .audit(&format!("userId={id}"))
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "user.delete",
            "user.update",
            "user.phone_change",
            "user.create"
        ]
    );
}

#[tokio::test]
async fn a_user_can_be_created_with_a_chosen_id() {
    let app = spawn_app().await;
    let id = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
    let body = json!({"user": {"username": "carol", "password": PASSWORD}});
    let response = app
        .with_key(Method::POST, &format!("/api/user/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["user"]["id"], id);
    let again = app
        .with_key(Method::POST, &format!("/api/user/{id}"))
        .json(&json!({"user": {"username": "carol2", "password": PASSWORD}}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(
        body["fieldErrors"]["userId"][0]["code"],
        "[duplicate]userId"
    );
}

#[tokio::test]
async fn usernames_and_emails_are_unique_whatever_their_case() {
    let app = spawn_app().await;
    app.create_user("dave", json!({"email": "dave@example.com"}))
        .await;
    for (user, field) in [
        (
            json!({"username": "DAVE", "password": PASSWORD}),
            "user.username",
        ),
        (
            json!({"username": "dave2", "email": "DAVE@example.com", "password": PASSWORD}),
            "user.email",
        ),
    ] {
        let response = app
            .with_key(Method::POST, "/api/user")
            .json(&json!({ "user": user }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["fieldErrors"][field][0]["code"],
            format!("[duplicate]{field}")
        );
    }
}

#[tokio::test]
async fn a_password_change_through_the_api_ends_the_users_sessions() {
    let app = spawn_app().await;
    let user = app.create_user("erin", json!({})).await;
    let login: Value = app.login("erin", PASSWORD).await.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    let response = app
        .with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"password": "a brand new password"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let validate = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(validate.status(), 401);
    assert_eq!(app.login("erin", PASSWORD).await.status(), 404);
    assert_eq!(
        app.login("erin", "a brand new password").await.status(),
        200
    );
    assert_eq!(app.audit("event=user.password_change").await.len(), 1);
}
