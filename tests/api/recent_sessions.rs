//! What a reverse proxy's every request is decided on: the session behind a browser's cookie as
//! the database said at most a second ago (`Sessions::recent_web_session`). A logout on this node
//! counts at once; a session ended any other way (another node, an administrator, a disabled
//! account) within a second.

use serde_json::json;
use tessera::clock::Instant;
use tessera::sessions::RECENT_WEB_SESSION;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::web::{Browser, location};

async fn signed_in(app: &TestApp, name: &str) -> (Browser, String, serde_json::Value) {
    let user = app.create_user(name, json!({})).await;
    let mut browser = Browser::new();
    let logged_in = browser.log_in(app, name, PASSWORD).await;
    assert_eq!(location(&logged_in), "/");
    let cookie = browser.cookie("tessera_session").unwrap().to_owned();
    (browser, cookie, user)
}

#[tokio::test]
async fn a_logout_on_this_node_counts_at_once() {
    let app = spawn_app().await;
    let (mut browser, cookie, user) = signed_in(&app, "ann").await;
    let sessions = &app.core.sessions;
    let (session, found) = sessions
        .recent_web_session(&cookie, Instant::now())
        .await
        .unwrap()
        .expect("the cookie's session");
    assert_eq!(found.id.to_string(), user["id"].as_str().unwrap());
    assert_eq!(session.user_id, found.id);

    let csrf = browser.csrf(&app).await;
    browser.post(&app, "/logout", &[("csrf", &csrf)]).await;
    assert!(
        sessions
            .recent_web_session(&cookie, Instant::now())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_session_ended_elsewhere_counts_within_a_second() {
    let app = spawn_app().await;
    let (_, cookie, user) = signed_in(&app, "bob").await;
    let sessions = &app.core.sessions;
    assert!(
        sessions
            .recent_web_session(&cookie, Instant::now())
            .await
            .unwrap()
            .is_some()
    );
    // Disabled by an administrator: this node's memory of the cookie is not told.
    let disabled = app
        .with_key(
            reqwest::Method::DELETE,
            &format!("/api/user/{}", user["id"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    // Polled (never timed): it must read as gone once a second has passed, with room to spare
    // for a slow machine.
    let mut gone = false;
    for _ in 0..50 {
        if sessions
            .recent_web_session(&cookie, Instant::now())
            .await
            .unwrap()
            .is_none()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(RECENT_WEB_SESSION / 10).await;
    }
    assert!(gone, "the disabled account's session is still taken");
}

#[tokio::test]
async fn a_cookie_that_names_no_session_is_no_one() {
    let app = spawn_app().await;
    let sessions = &app.core.sessions;
    for cookie in ["", "not-a-session", &"x".repeat(300)] {
        assert!(
            sessions
                .recent_web_session(cookie, Instant::now())
                .await
                .unwrap()
                .is_none()
        );
    }
}
