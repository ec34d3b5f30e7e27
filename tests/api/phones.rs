//! A phone is one method: its codes come by text, call or WhatsApp as the person chooses, each
//! where the administrator allows it; phone methods stored before were merged into one.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

const PHONE: &str = "+13035551212";

/// A user with a phone enrolled by text; the 242 of a fresh login.
async fn user_with_phone(app: &TestApp, name: &str) -> (String, String, Value) {
    let user = app.create_user(name, json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let method = app.enroll_sms(&id, PHONE).await;
    let (status, challenge) = app
        .login_json(json!({"loginId": name, "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    (id, method, challenge)
}

async fn send_for_login(app: &TestApp, challenge: &Value, body: Value) -> reqwest::Response {
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();
    app.post_json(&format!("/api/two-factor/send/{two_factor_id}"), &body)
        .await
}

#[tokio::test]
async fn a_phone_enrolled_for_calls_is_one_method_that_can_also_get_a_text() {
    let app = spawn_app().await;
    let user = app.create_user("cal", json!({})).await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(app.send_enrollment(id, "voice", PHONE).await.status(), 200);
    assert_eq!(app.outbox().await[0]["channel"], "call");
    let code = app.code_sent_to(PHONE).await;
    let enabled = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "voice", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    let methods = app.methods_of(id).await;
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0]["method"], "sms");
    assert_eq!(methods[0]["channel"], "call");

    let (_, challenge) = app
        .login_json(json!({"loginId": "cal", "password": PASSWORD}))
        .await;
    let phone = challenge["methods"][0]["id"].as_str().unwrap();
    let sent = send_for_login(
        &app,
        &challenge,
        json!({"methodId": phone, "channel": "sms"}),
    )
    .await;
    assert_eq!(sent.status(), 200);
    assert_eq!(app.outbox().await[0]["channel"], "sms");
    let code = app.code_sent_to(PHONE).await;
    let done = app
        .finish_two_factor(challenge["twoFactorId"].as_str().unwrap(), &code, json!({}))
        .await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn a_channel_the_administrator_switched_off_is_refused_and_the_phone_uses_another() {
    let app = spawn_app().await;
    let (_, phone, challenge) = user_with_phone(&app, "sid").await;
    app.put_two_factor_settings(json!({"methods": {"sms": false}}))
        .await;

    let refused = send_for_login(
        &app,
        &challenge,
        json!({"methodId": phone, "channel": "sms"}),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["fieldErrors"]["channel"][0]["message"],
        "codes by text message are switched off on this server"
    );
    assert_eq!(
        app.outbox().await.len(),
        1,
        "only the enrolment's code was sent"
    );

    // Asked without a channel, the phone enrolled for texts hears a call instead.
    let sent = send_for_login(&app, &challenge, json!({"methodId": phone})).await;
    assert_eq!(sent.status(), 200);
    assert_eq!(app.outbox().await[0]["channel"], "call");

    // With texts and calls off (and WhatsApp off, as by default), the phone is not offered.
    app.put_two_factor_settings(json!({"methods": {"sms": false, "voice": false}}))
        .await;
    let (status, _) = app
        .login_json(json!({"loginId": "sid", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "no usable method left: the login needs none");
}

#[tokio::test]
async fn whatsapp_is_offered_once_allowed_and_carried_by_the_delivery_settings() {
    let app = spawn_app().await;
    let (_, phone, challenge) = user_with_phone(&app, "wes").await;
    let refused = send_for_login(
        &app,
        &challenge,
        json!({"methodId": phone, "channel": "whatsapp"}),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["fieldErrors"]["channel"][0]["message"],
        "codes by WhatsApp are switched off on this server"
    );

    // The delivery settings carry it, but the two-factor settings do not allow it yet.
    let switched = app
        .put_delivery_settings(json!({"service": {"channels": {"whatsapp": true}}}))
        .await;
    assert_eq!(switched.status(), 200);
    let refused = send_for_login(
        &app,
        &challenge,
        json!({"methodId": phone, "channel": "whatsapp"}),
    )
    .await;
    assert_eq!(refused.status(), 400);
    app.put_two_factor_settings(json!({"methods": {"whatsapp": true}}))
        .await;
    let sent = send_for_login(
        &app,
        &challenge,
        json!({"methodId": phone, "channel": "whatsapp"}),
    )
    .await;
    assert_eq!(sent.status(), 200);
    let message = &app.outbox().await[0];
    assert_eq!(message["channel"], "whatsapp");
    let code = app.code_sent_to(PHONE).await;
    let done = app
        .finish_two_factor(challenge["twoFactorId"].as_str().unwrap(), &code, json!({}))
        .await;
    assert_eq!(done.status(), 200);
    // The phone now hears its codes by WhatsApp unless asked otherwise.
    let (_, next) = app
        .login_json(json!({"loginId": "wes", "password": PASSWORD}))
        .await;
    assert_eq!(next["methods"][0]["channel"], "whatsapp");
}

#[tokio::test]
async fn a_number_is_enrolled_once_per_user() {
    let app = spawn_app().await;
    let user = app.create_user("dee", json!({})).await;
    let id = user["id"].as_str().unwrap();
    app.enroll_sms(id, PHONE).await;
    assert_eq!(app.send_enrollment(id, "sms", PHONE).await.status(), 200);
    let code = app.code_sent_to(PHONE).await;
    let again = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "sms", "mobilePhone": PHONE, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert_eq!(app.methods_of(id).await.len(), 1);
}

/// Phone methods as they were stored before a phone was one method: one per way of hearing
/// the code.
async fn insert_old_phone_method(
    app: &TestApp,
    user: &str,
    kind: &str,
    phone: &str,
    created_at: i64,
    last_used_at: Option<i64>,
) -> String {
    let id = format!("OLD{}{created_at}", kind.to_uppercase());
    sqlx::query(
        "INSERT INTO two_factor_methods (id, user_id, kind, mobile_phone, created_at, \
           last_used_at, sends_code_on_login) VALUES ($1, $2, $3, $4, $5, $6, 0)",
    )
    .bind(&id)
    .bind(user)
    .bind(kind)
    .bind(phone)
    .bind(created_at)
    .bind(last_used_at)
    .execute(app.core.store.pool())
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn the_migration_merges_text_and_voice_methods_on_one_number() {
    let app = spawn_app().await;
    let both = app.create_user("both", json!({})).await;
    let both = both["id"].as_str().unwrap();
    let caller = app.create_user("caller", json!({})).await;
    let caller = caller["id"].as_str().unwrap();
    let twice = app.create_user("twice", json!({})).await;
    let twice = twice["id"].as_str().unwrap();
    // The table as it was before the migration one phone method.
    for statement in [
        "DROP INDEX two_factor_methods_one_per_phone",
        "ALTER TABLE two_factor_methods DROP COLUMN channel",
        "DELETE FROM _sqlx_migrations WHERE description = 'one phone method'",
    ] {
        sqlx::query(statement)
            .execute(app.core.store.pool())
            .await
            .unwrap();
    }
    let sms = insert_old_phone_method(&app, both, "sms", PHONE, 1, Some(10)).await;
    let voice = insert_old_phone_method(&app, both, "voice", PHONE, 2, Some(20)).await;
    let only_voice = insert_old_phone_method(&app, caller, "voice", "+13035550188", 3, None).await;
    let first = insert_old_phone_method(&app, twice, "sms", "+13035550199", 4, None).await;
    insert_old_phone_method(&app, twice, "sms", "+13035550199", 5, None).await;

    let restarted = app.another_node().await;

    // Text and voice on one number: one phone, heard by call, the way it was used last.
    let methods = restarted.methods_of(both).await;
    assert_eq!(methods.len(), 1, "{methods:?}");
    assert_eq!(methods[0]["id"], sms);
    assert_eq!(methods[0]["method"], "sms");
    assert_eq!(methods[0]["channel"], "call");
    assert_eq!(methods[0]["lastUsedInstant"], 20);
    assert_ne!(methods[0]["id"], voice.as_str());
    // A voice method alone: a phone heard by call.
    let methods = restarted.methods_of(caller).await;
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0]["id"], only_voice);
    assert_eq!(methods[0]["method"], "sms");
    assert_eq!(methods[0]["channel"], "call");
    // The same number twice: the first enrolled stays.
    let methods = restarted.methods_of(twice).await;
    assert_eq!(methods.len(), 1);
    assert_eq!(methods[0]["id"], first);
    assert_eq!(methods[0]["channel"], "sms");
}

#[tokio::test]
async fn the_verified_phone_fills_an_empty_profile_and_a_number_is_not_taken_twice_by_a_change() {
    let app = spawn_app().await;
    let user = app.create_user("gil", json!({})).await;
    let id = user["id"].as_str().unwrap();
    assert!(user.get("mobilePhone").is_none_or(Value::is_null));
    let first = app.enroll_sms(id, PHONE).await;
    let profile: Value = app
        .with_key(Method::GET, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile["user"]["mobilePhone"], PHONE);

    // A second phone, then the first moved onto the second's number: refused, nothing changed.
    let second_number = "+13035550142";
    app.enroll_sms(id, second_number).await;
    let sent = app
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"methodId": first, "mobilePhone": second_number, "userId": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let code = app.code_sent_to(second_number).await;
    let moved = app
        .with_key(Method::POST, &format!("/api/user/two-factor/phone/{id}"))
        .json(&json!({"methodId": first, "mobilePhone": second_number, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 400);
    let body: Value = moved.json().await.unwrap();
    assert_eq!(
        body["fieldErrors"]["mobilePhone"][0]["message"],
        "this phone number is already enrolled"
    );
    let numbers: Vec<Value> = app
        .methods_of(id)
        .await
        .iter()
        .map(|m| m["mobilePhone"].clone())
        .collect();
    assert_eq!(numbers, [json!(PHONE), json!(second_number)]);
}

#[tokio::test]
async fn the_242_lists_only_the_methods_allowed_now() {
    let app = spawn_app().await;
    let user = app.create_user("ned", json!({})).await;
    let id = user["id"].as_str().unwrap();
    app.enroll_authenticator(id).await;
    app.enroll_sms(id, PHONE).await;
    let kinds = |challenge: &Value| -> Vec<Value> {
        challenge["methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["method"].clone())
            .collect()
    };
    let (_, challenge) = app
        .login_json(json!({"loginId": "ned", "password": PASSWORD}))
        .await;
    assert_eq!(kinds(&challenge), [json!("authenticator"), json!("sms")]);

    app.put_two_factor_settings(json!({"methods": {"authenticator": false}}))
        .await;
    let (status, challenge) = app
        .login_json(json!({"loginId": "ned", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    assert_eq!(kinds(&challenge), [json!("sms")]);
}
