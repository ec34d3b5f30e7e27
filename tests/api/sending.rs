//! Every way to make the server send a code passes one guard: per user, per address, per
//! country, overall and per destination, taken all at once or not at all. A refused send counts
//! nowhere, a user's own enrolled number keeps a budget nobody else can spend, countries where
//! nobody enrolled get a tight budget, and premium-rate numbers get nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

const VICTIM_PHONE: &str = "+13035550150";

async fn send_as_key(app: &TestApp, body: Value) -> u16 {
    app.with_key(Method::POST, "/api/two-factor/send")
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn settings(app: &TestApp, fraud_guard: Value) {
    let response = app
        .put_delivery_settings(json!({ "fraudGuard": fraud_guard }))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_legacy_form_counts_against_the_users_own_send_limit() {
    let app = spawn_app().await;
    settings(&app, json!({"perUser": {"max": 2, "windowSeconds": 3600}})).await;
    app.create_user("lee", json!({})).await;
    let (status, login) = app
        .login_json(json!({"loginId": "lee", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200);
    let token = login["token"].as_str().unwrap().to_owned();
    let send_as_user = |body: Value| {
        app.client
            .post(app.url("/api/two-factor/send"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    for phone in ["+1 303 555 0161", "+1 303 555 0162"] {
        let sent = send_as_user(json!({"method": "sms", "mobilePhone": phone}))
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
    }
    let secret = tessera::otp::TotpSecret::generate().to_base32();
    for phone in ["+1 303 555 0163", "+44 7400 123456"] {
        let legacy = send_as_user(json!({"mobilePhone": phone, "secret": secret}))
            .await
            .unwrap();
        assert_eq!(legacy.status(), 429, "{phone}");
    }
    assert_eq!(app.outbox().await.len(), 2);
}

#[tokio::test]
async fn refused_sends_count_nowhere_and_a_users_own_number_keeps_its_budget() {
    let app = spawn_app().await;
    let victim = app.create_user("vic", json!({})).await;
    app.enroll_sms(victim["id"].as_str().unwrap(), VICTIM_PHONE)
        .await;
    settings(&app, json!({"perUser": {"max": 3, "windowSeconds": 3600}})).await;
    let attacker = app.create_user("mal", json!({})).await;
    let attacker = attacker["id"].as_str().unwrap();
    let to_victim =
        |user: &str| json!({"method": "sms", "mobilePhone": VICTIM_PHONE, "userId": user});

    // The number's shared budget is 5 per 10 minutes; the victim's enrolment took one.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(send_as_key(&app, to_victim(attacker)).await);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429]);
    // The four refusals took nothing from the number: one more send fits, then it is full.
    let bystander = app.create_user("amy", json!({})).await;
    let bystander = bystander["id"].as_str().unwrap();
    assert_eq!(send_as_key(&app, to_victim(bystander)).await, 200);
    assert_eq!(send_as_key(&app, to_victim(bystander)).await, 429);

    // The victim's login codes to their own number are theirs alone.
    let two_factor_id = app.start_two_factor("vic").await;
    let method = app.methods_of(victim["id"].as_str().unwrap()).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = app
        .post_json(
            &format!("/api/two-factor/send/{two_factor_id}"),
            &json!({"methodId": method}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    let refusals = app.audit("event=verify.refused&limit=100").await;
    assert_eq!(refusals.len(), 5, "{refusals:?}");
}

#[tokio::test]
async fn a_country_where_nobody_enrolled_gets_a_tight_budget() {
    let app = spawn_app().await;
    settings(
        &app,
        json!({"perUser": {"max": 100, "windowSeconds": 3600},
               "perNewCountry": {"max": 2, "windowSeconds": 3600}}),
    )
    .await;
    let user = app.create_user("jo", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let enrol = |phone: &'static str| {
        send_as_key(
            &app,
            json!({"method": "sms", "mobilePhone": phone, "userId": id}),
        )
    };

    // Jamaica shares the +1 code with the United States but is a country of its own.
    assert_eq!(enrol("+1 876 555 0101").await, 200);
    assert_eq!(enrol("+1 876 555 0102").await, 200);
    assert_eq!(enrol("+1 876 555 0103").await, 429);

    // Once a user enrolled a number in the United States, it has the ordinary budget.
    let enrolled = app.create_user("us", json!({})).await;
    app.enroll_sms(enrolled["id"].as_str().unwrap(), "+13035550171")
        .await;
    for phone in ["+1 303 555 0172", "+1 303 555 0173", "+1 303 555 0174"] {
        assert_eq!(enrol(phone).await, 200, "{phone}");
    }
    let refusal = app.audit("event=verify.refused").await;
    assert_eq!(refusal.len(), 1);
    assert_eq!(
        refusal[0]["details"]["reason"],
        "send limit for this country"
    );
}

#[tokio::test]
async fn premium_rate_numbers_are_refused_by_default() {
    let app = spawn_app().await;
    let user = app.create_user("pr", json!({})).await;
    let response = app
        .send_enrollment(user["id"].as_str().unwrap(), "voice", "+1 900 555 0100")
        .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["generalErrors"][0]["code"], "60410", "{body}");
    assert!(app.outbox().await.is_empty());
}

/// Each send limit refuses on its own: the others are set wide, and every send goes to a new
/// number of the same user from the same address in the same country, so that only the limit
/// under test can run out. Without it, the third send would go.
#[tokio::test]
async fn each_send_limit_refuses_on_its_own() {
    let wide = json!({"max": 1000, "windowSeconds": 3600});
    let two = json!({"max": 2, "windowSeconds": 3600});
    for (limit, reason) in [
        ("perUser", "send limit for this account"),
        ("perIp", "send limit for this address"),
        ("perCountry", "send limit for this country"),
        ("global", "send limit for this server"),
    ] {
        let app = spawn_app().await;
        let mut guard = json!({
            "allowedCountries": ["US"],
            "perUser": wide, "perIp": wide, "perCountry": wide, "perNewCountry": wide,
            "global": wide,
        });
        guard[limit] = two.clone();
        settings(&app, guard).await;
        let user = app.create_user("lou", json!({})).await;
        let id = user["id"].as_str().unwrap();
        let mut statuses = Vec::new();
        for phone in ["+1 303 555 0181", "+1 303 555 0182", "+1 303 555 0183"] {
            statuses.push(
                send_as_key(
                    &app,
                    json!({"method": "sms", "mobilePhone": phone, "userId": id}),
                )
                .await,
            );
        }
        assert_eq!(statuses, [200, 200, 429], "{limit}");
        assert_eq!(app.outbox().await.len(), 2, "{limit}");
        let refusals = app.audit("event=verify.refused").await;
        assert_eq!(refusals.len(), 1, "{limit}: {refusals:?}");
        assert_eq!(refusals[0]["details"]["reason"], reason, "{limit}");
    }
}
