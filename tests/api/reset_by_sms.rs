//! A forgotten password by a code texted to the account's phone, where the two-factor settings
//! allow it (`passwordResetBySms`, off by default): `POST /api/user/forgot-password` with
//! `method: sms` texts a code, `POST /api/user/forgot-password/code` trades it for the same
//! one-time link an email carries; the pages offer "Text me a code instead".

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::web::{Browser, csrf_in, location};

const PHONE: &str = "+13035550142";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn ask_for_a_code(app: &TestApp, login_id: &str) -> (u16, Value) {
    let response = app
        .post_json(
            "/api/user/forgot-password",
            &json!({"loginId": login_id, "method": "sms"}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn trade(app: &TestApp, login_id: &str, code: &str) -> (u16, Value) {
    let response = app
        .post_json(
            "/api/user/forgot-password/code",
            &json!({"loginId": login_id, "code": code}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Texts to `to` in the outbox.
async fn texts_to(app: &TestApp, to: &str) -> usize {
    app.outbox().await.iter().filter(|m| m["to"] == to).count()
}

/// Waits for the `count`th text to `to` (codes are sent in the background).
async fn wait_for_texts(app: &TestApp, to: &str, count: usize) {
    for _ in 0..100 {
        if texts_to(app, to).await >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no text to {to}");
}

/// A user with a phone method, on a server that allows resets by text.
async fn app_with_phone_user(name: &str) -> TestApp {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"passwordResetBySms": true}))
        .await;
    let user = app.create_user(name, json!({})).await;
    app.enroll_sms(user["id"].as_str().unwrap(), PHONE).await;
    app
}

#[tokio::test]
async fn a_texted_code_makes_a_link_that_sets_the_password() {
    let app = app_with_phone_user("ann").await;
    let before = texts_to(&app, PHONE).await;
    assert_eq!(ask_for_a_code(&app, "ann").await, (200, json!({})));
    wait_for_texts(&app, PHONE, before + 1).await;
    let code = app.code_sent_to(PHONE).await;

    let (status, body) = trade(&app, "ann", &code).await;
    assert_eq!(status, 200, "{body}");
    let link = body["changePasswordId"].as_str().unwrap();
    let response = app
        .post_json(
            &format!("/api/user/change-password/{link}"),
            &json!({"password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.login("ann", PASSWORD).await.status(), 404);
    // The phone is also the second factor: the new password still leads to it.
    assert_eq!(app.login("ann", NEW_PASSWORD).await.status(), 242);
    // The code did its work once.
    assert_eq!(trade(&app, "ann", &code).await.0, 400);
}

#[tokio::test]
async fn texts_are_off_unless_the_administrator_allows_them() {
    let app = spawn_app().await;
    let user = app.create_user("ben", json!({})).await;
    app.enroll_sms(user["id"].as_str().unwrap(), PHONE).await;
    let before = texts_to(&app, PHONE).await;

    assert_eq!(ask_for_a_code(&app, "ben").await, (200, json!({})));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(texts_to(&app, PHONE).await, before, "no code was texted");
    let events = app.audit("event=user.password_reset_request").await;
    assert_eq!(events[0]["details"]["by"], "none");
    let page = Browser::new()
        .get(&app, "/forgot-password")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Text me a code instead"));
}

#[tokio::test]
async fn a_wrong_code_and_an_unknown_account_get_the_same_refusal() {
    let app = app_with_phone_user("cat").await;
    let before = texts_to(&app, PHONE).await;
    ask_for_a_code(&app, "cat").await;
    wait_for_texts(&app, PHONE, before + 1).await;
    let code = app.code_sent_to(PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let for_cat = trade(&app, "cat", wrong).await;
    let for_nobody = trade(&app, "nobody", &code).await;
    assert_eq!(for_cat.0, 400);
    assert_eq!(
        for_cat.1["fieldErrors"]["code"][0]["code"], "[invalid]code",
        "{}",
        for_cat.1
    );
    assert_eq!(for_nobody, for_cat);
    let (status, body) = trade(&app, "cat", "12ab").await;
    assert_eq!(status, 400);
    assert_eq!(body["fieldErrors"]["code"][0]["code"], "[invalid]code");
    // The right code still works after the wrong ones.
    assert_eq!(trade(&app, "cat", &code).await.0, 200);
}

#[tokio::test]
async fn the_pages_offer_a_text_and_take_its_code_to_the_new_password_form() {
    let app = app_with_phone_user("dan").await;
    let before = texts_to(&app, PHONE).await;
    let mut browser = Browser::new();
    let page = browser
        .get(&app, "/forgot-password")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Text me a code instead"), "{page}");
    let csrf = csrf_in(&page);
    let asked = browser
        .post(
            &app,
            "/forgot-password",
            &[("csrf", &csrf), ("login_id", "dan"), ("by", "sms")],
        )
        .await;
    assert_eq!(asked.status(), 200);
    let html = asked.text().await.unwrap();
    assert!(html.contains("we texted it a code"), "{html}");
    wait_for_texts(&app, PHONE, before + 1).await;
    let code = app.code_sent_to(PHONE).await;

    let wrong = browser
        .post(
            &app,
            "/forgot-password/code",
            &[("csrf", &csrf), ("login_id", "dan"), ("code", "99999999")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("This code is not right")
    );
    let right = browser
        .post(
            &app,
            "/forgot-password/code",
            &[("csrf", &csrf), ("login_id", "dan"), ("code", &code)],
        )
        .await;
    let form = location(&right);
    assert!(form.starts_with("/reset-password/"), "{form}");
    let page = browser.get(&app, &form).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("For the account <strong>dan</strong>")
    );
}
