//! Invitations: an administrator makes an account without choosing its password
//! (`sendSetPasswordEmail` on `POST /api/user`, the console's "Send an invitation by email
//! instead") or invites accounts that never logged in (`POST /api/system/invitations`, the
//! console's button, `tessera user invite`); the person gets a link, valid once for 7 days, to
//! choose their own password.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::web::{Browser, csrf_in, location};

const CHOSEN: &str = "the passphrase I chose";

async fn create_invited(app: &TestApp, user: Value) -> (u16, Value) {
    let response = app
        .with_key(Method::POST, "/api/user")
        .json(&json!({"user": user, "sendSetPasswordEmail": true}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn invite(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .with_key(Method::POST, "/api/system/invitations")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const INVITATION_SUBJECT: &str = "Your Tessera account: choose a password";

/// The invitations in the outbox to `to`, newest first.
async fn invitations_to(app: &TestApp, to: &str) -> Vec<Value> {
    app.emails_to(to, INVITATION_SUBJECT).await
}

/// The secret of the link in the newest invitation to `to`.
async fn invitation_link(app: &TestApp, to: &str) -> String {
    app.link_emailed_to(to, INVITATION_SUBJECT, "/reset-password/", 1)
        .await
}

async fn choose(app: &TestApp, link: &str, password: &str) -> u16 {
    app.post_json(
        &format!("/api/user/change-password/{link}"),
        &json!({"password": password}),
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn an_invited_user_chooses_their_password_by_the_emailed_link() {
    let app = spawn_app().await;
    let (status, body) =
        create_invited(&app, json!({"username": "ann", "email": "ann@example.com"})).await;
    assert_eq!(status, 200, "{body}");
    // Sent as the answer comes: no background wait.
    let link = invitation_link(&app, "ann@example.com").await;
    let email = &invitations_to(&app, "ann@example.com").await[0];
    assert!(email["body"].as_str().unwrap().contains("within 7 days"));
    let lifetime: i64 = sqlx::query_scalar("SELECT expires_at - created_at FROM password_links")
        .fetch_one(app.core.store.pool())
        .await
        .unwrap();
    assert_eq!(lifetime, 7 * 24 * 3600 * 1000);

    let page = Browser::new()
        .get(&app, &format!("/reset-password/{link}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Choose your password"), "{page}");
    assert!(page.contains("an administrator made you an account"));

    assert_eq!(choose(&app, &link, CHOSEN).await, 200);
    assert_eq!(choose(&app, &link, "another passphrase").await, 404);
    assert_eq!(app.login("ann", CHOSEN).await.status(), 200);
}

#[tokio::test]
async fn an_invitation_needs_an_address_and_no_password() {
    let app = spawn_app().await;
    let (status, body) = create_invited(&app, json!({"username": "ben"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["user.email"][0]["code"], "[blank]user.email",
        "{body}"
    );
    let (status, body) = create_invited(
        &app,
        json!({"username": "ben", "email": "ben@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["user.password"][0]["code"], "[invited]user.password",
        "{body}"
    );
    let found = app
        .with_key(Method::GET, "/api/user?username=ben")
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 404, "nothing was created");
}

#[tokio::test]
async fn accounts_that_never_logged_in_are_invited_all_at_once() {
    let app = spawn_app().await;
    app.create_user("cat", json!({"email": "cat@example.com"}))
        .await;
    app.create_user("dan", json!({"email": "dan@example.com"}))
        .await;
    app.create_user("eve", json!({})).await;
    app.create_user("fay", json!({"email": "fay@example.com"}))
        .await;
    assert_eq!(app.login("fay", PASSWORD).await.status(), 200);

    let (status, body) = invite(&app, json!({"neverLoggedIn": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"sent": ["cat", "dan"], "skipped": []}));
    assert_eq!(invitations_to(&app, "fay@example.com").await.len(), 0);
    let link = invitation_link(&app, "dan@example.com").await;
    assert_eq!(choose(&app, &link, CHOSEN).await, 200);
    // The password an import or the console gave stops working once one is chosen.
    assert_eq!(app.login("dan", PASSWORD).await.status(), 404);
    assert_eq!(app.login("dan", CHOSEN).await.status(), 200);
}

#[tokio::test]
async fn users_named_are_invited_or_skipped_with_the_reason() {
    let app = spawn_app().await;
    let gus = app
        .create_user("gus", json!({"email": "gus@example.com"}))
        .await;
    let hal = app.create_user("hal", json!({})).await;
    let (status, body) = invite(&app, json!({"userIds": [gus["id"], hal["id"]]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"sent": ["gus"], "skipped": [{"username": "hal", "reason": "no email address"}]})
    );
    for refused in [
        json!({}),
        json!({"userIds": [gus["id"]], "neverLoggedIn": true}),
        json!({"userIds": []}),
        json!({"userIds": ["not-an-id"]}),
    ] {
        assert_eq!(invite(&app, refused.clone()).await.0, 400, "{refused}");
    }
    let events = app.audit("event=user.invite").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["to"], "g•••@example.com");
}

#[tokio::test]
async fn the_console_invites_a_new_user_and_everyone_who_never_logged_in() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled"}))
        .await;
    app.create_user("root", json!({"roles": ["admin"]})).await;
    app.create_user("ivy", json!({"email": "ivy@example.com"}))
        .await;
    let mut admin = Browser::new();
    assert_eq!(location(&admin.log_in(&app, "root", PASSWORD).await), "/");
    let page = admin.get(&app, "/admin/users").await.text().await.unwrap();
    let csrf = csrf_in(&page);

    let created = admin
        .post(
            &app,
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("username", "jon"),
                ("email", "jon@example.com"),
                ("password", ""),
                ("invite", "1"),
            ],
        )
        .await;
    let user_page = location(&created);
    assert!(user_page.ends_with("?notice=invited"), "{user_page}");
    invitation_link(&app, "jon@example.com").await;

    let bulk = admin
        .post(&app, "/admin/users/invitations", &[("csrf", &csrf)])
        .await;
    assert_eq!(bulk.status(), 200);
    let html = bulk.text().await.unwrap();
    // jon was invited already and has not logged in either: a second link goes.
    assert!(html.contains("Invitations were sent to 2 users."), "{html}");
    invitation_link(&app, "ivy@example.com").await;
    assert_eq!(invitations_to(&app, "jon@example.com").await.len(), 2);
}
