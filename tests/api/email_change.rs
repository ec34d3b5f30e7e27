//! A person's own new address, which waits beside the one in force until its link is opened;
//! an address given at the welcome step; an invitation's link, which proves the address it went
//! to. The helpers are email_verification.rs's.

use reqwest::Method;
use serde_json::{Value, json};

use crate::email_verification::{
    address_of, change_on_the_page, general_code, link_sent_to, signed_in, user_json,
    verification_emails_to, verify,
};
use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::web::{Browser, csrf_in, location};

#[tokio::test]
async fn a_person_changes_their_address_and_the_old_one_stays_in_force_until_the_new_one_is_verified()
 {
    let app = spawn_app().await;
    let oli = app
        .create_user("oli", json!({"email": address_of("oli")}))
        .await;
    let mut browser = signed_in(&app, "oli").await;
    let response = change_on_the_page(&mut browser, &app, "oli.new@example.com").await;
    assert_eq!(location(&response), "/security?done=address");

    // The old address is still the login id and the reset destination; the new one is not.
    let user = user_json(&app, oli["id"].as_str().unwrap()).await;
    assert_eq!(
        (user["email"].as_str(), user["verified"].as_bool()),
        (Some("oli@example.com"), Some(true))
    );
    assert_eq!(app.login(&address_of("oli"), PASSWORD).await.status(), 200);
    assert_eq!(
        app.login("oli.new@example.com", PASSWORD).await.status(),
        404
    );
    let security = browser.get(&app, "/security").await.text().await.unwrap();
    assert!(
        security.contains("Waiting for verification: oli.new@example.com"),
        "{security}"
    );
    // The old address hears of the request.
    let notices: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["to"] == address_of("oli"))
        .collect();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0]["body"]
            .as_str()
            .unwrap()
            .contains("o•••@example.com")
    );

    let link = link_sent_to(&app, "oli.new@example.com", 1).await;
    assert_eq!(verify(&app, &link).await.0, 200);
    let user = user_json(&app, oli["id"].as_str().unwrap()).await;
    assert_eq!(
        (user["email"].as_str(), user["verified"].as_bool()),
        (Some("oli.new@example.com"), Some(true))
    );
    assert_eq!(
        app.login("oli.new@example.com", PASSWORD).await.status(),
        200
    );
    assert_eq!(app.login(&address_of("oli"), PASSWORD).await.status(), 404);
}

#[tokio::test]
async fn an_address_another_account_uses_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    app.create_user("pam", json!({"email": address_of("pam")}))
        .await;
    let quin = app
        .create_user("quin", json!({"email": address_of("quin")}))
        .await;
    let mut browser = signed_in(&app, "quin").await;
    for (typed, said) in [
        (
            "PAM@example.com",
            "Another account uses this email address.",
        ),
        ("not an address", "is not an email address"),
        (&format!("{}@example.com", "x".repeat(400)), "at most"),
        ("quin@example.com", "This is your email address already."),
    ] {
        let response = change_on_the_page(&mut browser, &app, typed).await;
        assert_eq!(response.status(), 422, "{typed}");
        let html = response.text().await.unwrap();
        assert!(html.contains(said), "{typed}: {html}");
    }
    let user = user_json(&app, quin["id"].as_str().unwrap()).await;
    assert_eq!(user["email"], "quin@example.com");
    let security = browser.get(&app, "/security").await.text().await.unwrap();
    assert!(!security.contains("Waiting for verification"));
    assert_eq!(app.outbox().await, Vec::<Value>::new(), "nothing was sent");
}

#[tokio::test]
async fn an_address_another_account_took_meanwhile_is_not_verified_and_nothing_changes() {
    let app = spawn_app().await;
    let rae = app
        .create_user("rae", json!({"email": address_of("rae")}))
        .await;
    let mut browser = signed_in(&app, "rae").await;
    change_on_the_page(&mut browser, &app, "shared@example.com").await;
    let link = link_sent_to(&app, "shared@example.com", 1).await;
    app.create_user("sol", json!({"email": "shared@example.com"}))
        .await;

    let (status, body) = verify(&app, &link).await;
    assert_eq!(status, 409);
    assert_eq!(general_code(&body), "[duplicate]email", "{body}");
    let user = user_json(&app, rae["id"].as_str().unwrap()).await;
    assert_eq!(
        (user["email"].as_str(), user["verified"].as_bool()),
        (Some("rae@example.com"), Some(true))
    );
}

#[tokio::test]
async fn a_second_change_voids_the_link_of_the_first_and_the_link_can_be_sent_again() {
    let app = spawn_app().await;
    app.create_user("tom", json!({"email": address_of("tom")}))
        .await;
    let mut browser = signed_in(&app, "tom").await;
    change_on_the_page(&mut browser, &app, "tom.one@example.com").await;
    let first = link_sent_to(&app, "tom.one@example.com", 1).await;
    change_on_the_page(&mut browser, &app, "tom.two@example.com").await;

    let (status, body) = verify(&app, &first).await;
    assert_eq!(status, 404);
    assert_eq!(general_code(&body), "[voided]verificationId", "{body}");

    let security = browser.get(&app, "/security").await.text().await.unwrap();
    let csrf = csrf_in(&security);
    let response = browser
        .post(&app, "/security/address/resend", &[("csrf", &csrf)])
        .await;
    assert_eq!(location(&response), "/security?done=link");
    let second = link_sent_to(&app, "tom.two@example.com", 2).await;
    assert_eq!(verify(&app, &second).await.0, 200);
    assert_eq!(
        app.login("tom.two@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn an_address_given_at_the_welcome_step_awaits_its_link() {
    let app = spawn_app().await;
    let saved = app
        .with_key(Method::PUT, "/api/system/welcome")
        .json(&json!({"welcome": {"profileFields": ["email"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let zoe = app.create_user("zoe", json!({})).await;
    let mut browser = Browser::new();
    browser.log_in(&app, "zoe", PASSWORD).await;
    let csrf = browser.csrf(&app).await;
    let answered = browser
        .post(
            &app,
            "/welcome",
            &[
                ("csrf", &csrf),
                ("email", "zoe@example.com"),
                ("terms_version", "0"),
            ],
        )
        .await;
    assert_eq!(location(&answered), "/");

    let user = user_json(&app, zoe["id"].as_str().unwrap()).await;
    assert_eq!(
        (user["email"].as_str(), user["verified"].as_bool()),
        (Some("zoe@example.com"), Some(false))
    );
    let link = link_sent_to(&app, "zoe@example.com", 1).await;
    assert_eq!(app.login("zoe@example.com", PASSWORD).await.status(), 404);
    assert_eq!(verify(&app, &link).await.0, 200);
    assert_eq!(app.login("zoe@example.com", PASSWORD).await.status(), 200);
}

/// The secret of the link in the newest invitation to `to` (an account made without a
/// password, `sendSetPasswordEmail`).
async fn invitation_sent_to(app: &TestApp, to: &str) -> String {
    let emails: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| {
            m["to"] == to
                && m["subject"]
                    .as_str()
                    .is_some_and(|s| s.contains("choose a password"))
        })
        .collect();
    let body = emails
        .first()
        .unwrap_or_else(|| panic!("no invitation to {to}"))["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = body
        .lines()
        .find(|line| line.contains("/reset-password/"))
        .unwrap_or_else(|| panic!("no link in {body}"));
    link.trim().rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_invitation_used_verifies_the_address_it_went_to_and_no_other() {
    let app = spawn_app().await;
    let invite = |name: &'static str| {
        app.with_key(Method::POST, "/api/user")
            .json(
                &json!({"user": {"username": name, "email": address_of(name)},
                          "sendSetPasswordEmail": true}),
            )
            .send()
    };
    let choose = |id: String| {
        app.client
            .post(app.url(&format!("/api/user/change-password/{id}")))
            .json(&json!({"password": "the passphrase I chose"}))
            .send()
    };
    let ivo: Value = invite("ivo").await.unwrap().json().await.unwrap();
    assert_eq!(ivo["user"]["verified"], false);
    let link = invitation_sent_to(&app, &address_of("ivo")).await;
    assert_eq!(
        verification_emails_to(&app, &address_of("ivo")).await.len(),
        0,
        "the invitation is the one email"
    );
    assert_eq!(choose(link).await.unwrap().status(), 200);
    let id = ivo["user"]["id"].as_str().unwrap();
    assert_eq!(user_json(&app, id).await["verified"], true);
    let login = app
        .login_json(json!({"loginId": address_of("ivo"), "password": "the passphrase I chose"}))
        .await;
    assert_eq!(login.0, 200, "{}", login.1);
    let events = app.audit("event=user.email_verified").await;
    assert_eq!(events[0]["details"]["by"], "invitation");

    // An address set after the invitation went out is not the one it proves.
    let jax: Value = invite("jax").await.unwrap().json().await.unwrap();
    let id = jax["user"]["id"].as_str().unwrap();
    let link = invitation_sent_to(&app, &address_of("jax")).await;
    let response = app
        .with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"email": "jax.new@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(choose(link).await.unwrap().status(), 200);
    assert_eq!(user_json(&app, id).await["verified"], false);
}
