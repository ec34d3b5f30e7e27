//! Codes by text, call and email through the verify engine, on the embedded default: the
//! built-in engine and the development outbox.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

pub(crate) const PHONE: &str = "+13035551212";

/// Creates a user and enrols an sms method on PHONE through the API key.
async fn user_with_sms(app: &TestApp, name: &str) -> String {
    let user = app.create_user(name, json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.send_enrollment(&id, "sms", "+1 303 555 1212")
            .await
            .status(),
        200
    );
    let code = app.code_sent_to(PHONE).await;
    let enabled = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "sms", "mobilePhone": PHONE, "code": code, "name": "Mobile"}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    id
}

#[tokio::test]
async fn a_user_enrols_a_phone_logs_in_with_a_text_and_next_time_hears_the_code_by_a_call() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let (_, login) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    let token = login["token"].as_str().unwrap().to_owned();

    // Enrol the phone as the user: the code goes to the outbox, the number is stored only after.
    let sent = app
        .client
        .post(app.url("/api/two-factor/send"))
        .bearer_auth(&token)
        .json(&json!({"method": "sms", "mobilePhone": "+1 (303) 555-1212"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    assert!(
        app.core
            .two_factor
            .user_methods(
                tessera::domain::UserId::parse(login["user"]["id"].as_str().unwrap()).unwrap()
            )
            .await
            .unwrap()
            .is_empty()
    );
    let outbox = app.outbox().await;
    assert_eq!(outbox[0]["channel"], "sms");
    assert!(
        outbox[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Your Tessera verification code is: ")
    );
    let code = app.code_sent_to(PHONE).await;
    assert_eq!(code.len(), 6);
    let enabled = app
        .client
        .post(app.url("/api/user/two-factor"))
        .bearer_auth(&token)
        .json(&json!({"method": "sms", "mobilePhone": PHONE, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    assert_eq!(
        enabled.json::<Value>().await.unwrap()["recoveryCodes"]
            .as_array()
            .unwrap()
            .len(),
        10
    );

    // The phone is one method: enrolling it again "for calls" is refused, the code spent.
    let id = login["user"]["id"].as_str().unwrap();
    assert_eq!(app.send_enrollment(id, "voice", PHONE).await.status(), 200);
    assert_eq!(app.outbox().await[0]["channel"], "call");
    let voice_code = app.code_sent_to(PHONE).await;
    let again = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "voice", "code": voice_code}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        again["fieldErrors"]["mobilePhone"][0]["message"],
        "this phone number is already enrolled"
    );

    // Login: 242 lists the one phone, masked, heard by text as it was enrolled.
    let (status, challenge) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    let methods = challenge["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 1, "{methods:?}");
    assert_eq!(methods[0]["method"], "sms");
    assert_eq!(methods[0]["mobilePhone"], "+1 •••• 1212");
    assert_eq!(methods[0]["channel"], "sms");
    assert!(methods[0].get("lastUsedInstant").is_none());
    let phone = methods[0]["id"].as_str().unwrap().to_owned();
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();

    let sent = app
        .post_json(
            &format!("/api/two-factor/send/{two_factor_id}"),
            &json!({"methodId": phone}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    assert_eq!(app.outbox().await[0]["channel"], "sms");
    let code = app.code_sent_to(PHONE).await;
    let done = app.finish_two_factor(two_factor_id, &code, json!({})).await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(amr_of(&app, &done).await, json!(["pwd", "sms", "mfa"]));

    // The next login: the text does not come, so the person asks for a call to the same phone,
    // which reads the code out twice.
    let (_, challenge) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert!(
        challenge["methods"][0]["lastUsedInstant"].is_i64(),
        "the phone's last use moved: {challenge}"
    );
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();
    let sent = app
        .post_json(
            &format!("/api/two-factor/send/{two_factor_id}"),
            &json!({"methodId": phone, "channel": "call"}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    let call = &app.outbox().await[0];
    assert_eq!(call["channel"], "call");
    let code = app.code_sent_to(PHONE).await;
    assert_eq!(
        call["body"]
            .as_str()
            .unwrap()
            .matches(
                &code
                    .chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .count(),
        2
    );
    let done = app.finish_two_factor(two_factor_id, &code, json!({})).await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(amr_of(&app, &done).await, json!(["pwd", "tel", "mfa"]));

    // The phone now hears its codes by call unless asked otherwise: `{}` sends a call.
    let (_, challenge) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(challenge["methods"][0]["channel"], "call");
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();
    let sent = app
        .post_json(&format!("/api/two-factor/send/{two_factor_id}"), &json!({}))
        .await;
    assert_eq!(sent.status(), 200);
    assert_eq!(app.outbox().await[0]["channel"], "call");

    let sent_events = app.audit("event=verify.send").await;
    assert!(
        sent_events
            .iter()
            .all(|e| !e.to_string().contains("5551212")),
        "numbers are masked in the audit log"
    );
}

/// The `amr` claim of a login's access token.
async fn amr_of(app: &TestApp, done: &Value) -> Value {
    let claims: Value = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(done["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    claims["jwt"]["amr"].clone()
}

#[tokio::test]
async fn a_resend_in_the_window_sends_the_same_code_and_the_sixth_send_is_refused() {
    let app = spawn_app().await;
    let user = app.create_user("bo", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let mut codes = Vec::new();
    for _ in 0..5 {
        assert_eq!(app.send_enrollment(id, "sms", PHONE).await.status(), 200);
        codes.push(app.code_sent_to(PHONE).await);
    }
    assert!(codes.windows(2).all(|w| w[0] == w[1]), "{codes:?}");
    let sixth = app.send_enrollment(id, "sms", PHONE).await;
    assert_eq!(sixth.status(), 429);
    let body: Value = sixth.json().await.unwrap();
    assert_eq!(body["generalErrors"][0]["code"], "60203");
    assert_eq!(app.outbox().await.len(), 5, "the refused send sent nothing");
    assert!(!app.audit("event=verify.refused").await.is_empty());
}

#[tokio::test]
async fn the_sixth_check_of_a_verification_is_refused_like_twilio_and_then_it_is_gone() {
    let app = spawn_app().await;
    let origin = tessera::audit::Origin::default();
    let now = tessera::clock::Instant::now();
    let destination = tessera::verify::Destination::parse(PHONE).unwrap();
    let started = app
        .core
        .verify
        .start_verification(
            &tessera::verify::StartRequest {
                own_method: false,
                service_id: "test",
                destination: destination.clone(),
                channel: tessera::verify::Channel::Sms,
                locale: None,
                context: None,
                user: None,
                origin: &origin,
                service: None,
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(started.status, tessera::verify::Status::Pending);
    let right = app.code_sent_to(PHONE).await;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let target = tessera::verify::VerificationTarget::To(destination.clone());
    for _ in 0..5 {
        let outcome = app
            .core
            .verify
            .check_verification("test", &target, wrong, now)
            .await
            .unwrap();
        assert!(!outcome.approved);
        assert_eq!(
            outcome.verification.status,
            tessera::verify::Status::Pending
        );
    }
    let sixth = app
        .core
        .verify
        .check_verification("test", &target, &right, now)
        .await
        .unwrap_err();
    assert_eq!(sixth.twilio_code(), 60202);
    let seventh = app
        .core
        .verify
        .check_verification("test", &target, &right, now)
        .await
        .unwrap_err();
    assert_eq!(seventh.twilio_code(), 20404);
    let view = app
        .core
        .verify
        .verification_view(&started.sid)
        .await
        .unwrap();
    assert_eq!(view.status, tessera::verify::Status::MaxAttemptsReached);
}

#[tokio::test]
async fn an_approval_is_final_even_when_two_checks_race() {
    let app = spawn_app().await;
    let origin = tessera::audit::Origin::default();
    let now = tessera::clock::Instant::now();
    let destination = tessera::verify::Destination::parse("ann@example.com").unwrap();
    app.core
        .verify
        .start_verification(
            &tessera::verify::StartRequest {
                own_method: false,
                service_id: "race",
                destination: destination.clone(),
                channel: tessera::verify::Channel::Email,
                locale: Some("fr".into()),
                context: None,
                user: None,
                origin: &origin,
                service: None,
            },
            now,
        )
        .await
        .unwrap();
    let code = app.code_sent_to("ann@example.com").await;
    assert!(
        app.outbox().await[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Votre code")
    );
    let mut checks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (core, code, target) = (
            app.core.clone(),
            code.clone(),
            tessera::verify::VerificationTarget::To(destination.clone()),
        );
        checks.spawn(async move {
            core.verify
                .check_verification("race", &target, &code, now)
                .await
        });
    }
    let results = checks.join_all().await;
    let approved = results
        .iter()
        .filter(|r| matches!(r, Ok(o) if o.approved))
        .count();
    assert_eq!(approved, 1, "{results:?}");
}

#[tokio::test]
async fn the_fraud_guard_refuses_blocked_prefixes_countries_and_landlines_and_sends_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("cy", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let settings = app
        .put_delivery_settings(
            json!({"fraudGuard": {"blockedPrefixes": ["+1900"], "allowedCountries": ["US", "GB"]}}),
        )
        .await;
    assert_eq!(settings.status(), 200);

    for (phone, method, code) in [
        ("+1 900 555 0100", "sms", "60410"),
        ("+33 6 12 34 56 78", "sms", "60605"),
        ("+44 20 7946 0958", "sms", "60205"),
    ] {
        let response = app.send_enrollment(id, method, phone).await;
        assert_eq!(response.status(), 403, "{phone}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["generalErrors"][0]["code"], code, "{phone}: {body}");
    }
    // The landline can take a call instead.
    assert_eq!(
        app.send_enrollment(id, "voice", "+44 20 7946 0958")
            .await
            .status(),
        200
    );
    assert_eq!(app.outbox().await.len(), 1);
    assert_eq!(app.audit("event=verify.refused").await.len(), 3);

    for (body, field) in [
        (
            json!({"method": "sms", "mobilePhone": "12345", "userId": id}),
            "mobilePhone",
        ),
        (
            json!({"method": "fax", "mobilePhone": PHONE, "userId": id}),
            "method",
        ),
        (json!({"method": "sms", "mobilePhone": PHONE}), "userId"),
    ] {
        let response = app
            .with_key(Method::POST, "/api/two-factor/send")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let errors: Value = response.json().await.unwrap();
        assert!(errors["fieldErrors"][field].is_array(), "{body}: {errors}");
    }
}

#[tokio::test]
async fn send_limits_per_user_are_shared_and_enforced_on_the_server() {
    let app = spawn_app().await;
    app.put_delivery_settings(
        json!({"fraudGuard": {"perUser": {"max": 2, "windowSeconds": 3600}}}),
    )
    .await;
    let user = app.create_user("dee", json!({})).await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        app.send_enrollment(id, "sms", "+1 303 555 0101")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.send_enrollment(id, "sms", "+1 303 555 0102")
            .await
            .status(),
        200
    );
    let third = app.send_enrollment(id, "sms", "+1 303 555 0103").await;
    assert_eq!(third.status(), 429);
}

#[tokio::test]
async fn a_code_sent_for_another_destination_or_a_wrong_code_enables_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("eli", json!({})).await;
    let id = user["id"].as_str().unwrap();
    app.send_enrollment(id, "sms", PHONE).await;
    let code = app.code_sent_to(PHONE).await;
    let enable = |body: Value| {
        app.with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
            .json(&body)
            .send()
    };
    let other = enable(json!({"method": "sms", "mobilePhone": "+1 303 555 0199", "code": code}))
        .await
        .unwrap();
    assert_eq!(other.status(), 400);
    let wrong = if code == "999999" { "888888" } else { "999999" };
    assert_eq!(
        enable(json!({"method": "sms", "mobilePhone": PHONE, "code": wrong}))
            .await
            .unwrap()
            .status(),
        421
    );
    assert!(
        app.core
            .two_factor
            .user_methods(tessera::domain::UserId::parse(id).unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        enable(json!({"method": "sms", "code": code}))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn an_sms_method_is_removed_with_a_code_sent_to_it() {
    let app = spawn_app().await;
    let id = user_with_sms(&app, "fay").await;
    let methods = app
        .core
        .two_factor
        .user_methods(tessera::domain::UserId::parse(&id).unwrap())
        .await
        .unwrap();
    let method = methods[0].id.to_string();
    let sent = app
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"methodId": method, "userId": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let code = app.code_sent_to(PHONE).await;
    let removed = app
        .with_key(
            Method::DELETE,
            &format!("/api/user/two-factor/{id}?methodId={method}&code={code}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
}

#[tokio::test]
async fn the_legacy_send_and_enable_of_seed_004_work() {
    let app = spawn_app().await;
    let user = app.create_user("gil", json!({"mobilePhone": PHONE})).await;
    let id = user["id"].as_str().unwrap();
    let secret: Value = app
        .with_key(Method::GET, "/api/two-factor/secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = app
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"mobilePhone": "+1 303 555 1212", "secret": secret["secret"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let code = app.code_sent_to(PHONE).await;
    let enabled = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"code": code, "secret": secret["secret"], "delivery": "TextMessage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    // {userId}: a code to the user's phone method.
    let sent = app
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"userId": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
}

#[tokio::test]
async fn sending_for_an_unknown_login_or_an_authenticator_is_refused() {
    let app = spawn_app().await;
    user_with_sms(&app, "hal").await;
    let unknown = app
        .post_json("/api/two-factor/send/nope", &json!({"methodId": "ABCD"}))
        .await;
    assert_eq!(unknown.status(), 404);
    let (_, challenge) = app
        .login_json(json!({"loginId": "hal", "password": PASSWORD}))
        .await;
    let bad = app
        .post_json(
            &format!(
                "/api/two-factor/send/{}",
                challenge["twoFactorId"].as_str().unwrap()
            ),
            &json!({"methodId": "ZZZZ"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_new_phone_number_replaces_the_old_one_only_once_confirmed() {
    let app = spawn_app().await;
    let id = user_with_sms(&app, "lou").await;
    let method = app
        .core
        .two_factor
        .user_methods(tessera::domain::UserId::parse(&id).unwrap())
        .await
        .unwrap()[0]
        .id
        .to_string();
    const NEW: &str = "+13035550177";
    let sent = app
        .with_key(Method::POST, "/api/two-factor/send")
        .json(&json!({"methodId": method, "mobilePhone": "+1 303 555 0177", "userId": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let code = app.code_sent_to(NEW).await;

    // Until the new number is confirmed, codes still go to the old one.
    let (_, challenge) = app
        .login_json(json!({"loginId": "lou", "password": PASSWORD}))
        .await;
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();
    app.post_json(
        &format!("/api/two-factor/send/{two_factor_id}"),
        &json!({"methodId": method}),
    )
    .await;
    assert_eq!(app.outbox().await[0]["to"], PHONE);
    let login_code = app.code_sent_to(PHONE).await;
    assert_eq!(
        app.finish_two_factor(two_factor_id, &login_code, json!({}))
            .await
            .status(),
        200
    );

    let change = |body: Value| {
        app.with_key(Method::POST, &format!("/api/user/two-factor/phone/{id}"))
            .json(&body)
            .send()
    };
    let elsewhere =
        change(json!({"methodId": method, "mobilePhone": "+1 303 555 0188", "code": code}))
            .await
            .unwrap();
    assert_eq!(elsewhere.status(), 400);
    let wrong = if code == "111111" { "222222" } else { "111111" };
    assert_eq!(
        change(json!({"methodId": method, "mobilePhone": NEW, "code": wrong}))
            .await
            .unwrap()
            .status(),
        421
    );
    assert_eq!(
        change(json!({"methodId": method, "mobilePhone": NEW, "code": code}))
            .await
            .unwrap()
            .status(),
        200
    );

    let (_, challenge) = app
        .login_json(json!({"loginId": "lou", "password": PASSWORD}))
        .await;
    assert_eq!(challenge["methods"][0]["mobilePhone"], "+1 •••• 0177");
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();
    app.post_json(
        &format!("/api/two-factor/send/{two_factor_id}"),
        &json!({"methodId": method}),
    )
    .await;
    assert_eq!(app.outbox().await[0]["to"], NEW);
    let changes = app
        .audit(&format!("userId={id}&event=user.phone_change"))
        .await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["details"]["to"], "+1 •••• 0177");
}
