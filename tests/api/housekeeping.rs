//! Housekeeping forgets what has expired, and only that.

use reqwest::Method;
use serde_json::json;
use tessera::clock::Instant;

use crate::helpers::{oathtool, spawn_app};

#[tokio::test]
async fn a_sweep_keeps_live_logins_and_forgets_expired_ones() {
    let app = spawn_app().await;
    let user = app.create_user("hal", json!({})).await;
    let (secret, _) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;

    let live = app.start_two_factor("hal").await;
    let report = app.core.store.sweep_expired(Instant::now()).await.unwrap();
    assert_eq!(report.login_challenges, 0, "nothing has expired yet");
    assert_eq!(
        app.finish_two_factor(&live, &oathtool(&secret, 30), json!({}))
            .await
            .status(),
        200,
        "a live login survives the sweep"
    );

    let abandoned = app.start_two_factor("hal").await;
    let a_day_later = Instant::now().plus_seconds(86_400);
    let report = app.core.store.sweep_expired(a_day_later).await.unwrap();
    assert!(
        report.login_challenges >= 2,
        "both challenges are past their expiry a day later: {report:?}"
    );
    assert_eq!(
        app.finish_two_factor(&abandoned, &oathtool(&secret, 30), json!({}))
            .await
            .status(),
        404,
        "a swept login is gone"
    );

    let again = app.core.store.sweep_expired(a_day_later).await.unwrap();
    assert_eq!(again.total(), 0, "a second sweep finds nothing: {again:?}");
}

#[tokio::test]
async fn a_sweep_forgets_expired_verification_codes_and_their_sends() {
    let app = spawn_app().await;
    let user = app.create_user("ida", json!({})).await;
    let id = user["id"].as_str().unwrap();
    app.send_enrollment(id, "sms", "+14155550123").await;
    let code = app.code_sent_to("+14155550123").await;

    let report = app
        .core
        .store
        .sweep_expired(Instant::now().plus_seconds(86_400))
        .await
        .unwrap();
    assert!(report.verifications >= 1, "{report:?}");
    let enable = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "sms", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        enable.status(),
        421,
        "the code of a swept verification no longer enrolls the phone"
    );
}

/// A message that went out is kept while its retention lasts, then forgotten.
#[tokio::test]
async fn sent_messages_are_forgotten_once_their_retention_has_passed() {
    let app = spawn_app().await;
    let user = app.create_user("jo", json!({})).await;
    let id = user["id"].as_str().unwrap();
    app.send_enrollment(id, "sms", "+14155550124").await;
    app.code_sent_to("+14155550124").await;

    let store = &app.core.store;
    assert_eq!(
        store
            .forget_finished_messages(Instant::now().plus_seconds(-86_400))
            .await
            .unwrap(),
        0,
        "a message of today is kept"
    );
    let later = Instant::now().plus_seconds(31 * 86_400);
    assert_eq!(store.forget_finished_messages(later).await.unwrap(), 1);
    assert!(
        store
            .messages()
            .messages_of_sender("outbox", 10)
            .await
            .unwrap()
            .is_empty(),
        "the sent message is gone"
    );
}
