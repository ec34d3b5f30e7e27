//! Trusted computers through the API: a trust token spares one login and is replaced by a new
//! one each time; a spent one that comes back ends the trust; it spares only its own user, and
//! never an account blocked by wrong codes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

/// A user with an authenticator and a computer trusted through the API: (id, recovery codes
/// left, trust token).
async fn trusted_user(app: &TestApp, name: &str) -> (String, Vec<String>, String) {
    let user = app.create_user(name, json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (_, mut recovery) = app.enroll_authenticator(&id).await;
    let challenge = app.start_two_factor(name).await;
    let code = recovery.remove(0);
    let done: Value = app
        .finish_two_factor(&challenge, &code, json!({"trustComputer": true}))
        .await
        .json()
        .await
        .unwrap();
    let trust = done["twoFactorTrustId"].as_str().unwrap().to_owned();
    (id, recovery, trust)
}

async fn login_with_trust(app: &TestApp, name: &str, trust: &str) -> (u16, Value) {
    app.login_json(json!({"loginId": name, "password": PASSWORD, "twoFactorTrustId": trust}))
        .await
}

#[tokio::test]
async fn a_trust_token_spares_one_login_and_the_answer_carries_its_successor() {
    let app = spawn_app().await;
    let (_, _, first) = trusted_user(&app, "ann").await;

    let (status, login) = login_with_trust(&app, "ann", &first).await;
    assert_eq!(status, 200, "{login}");
    let second = login["twoFactorTrustId"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let (status, login) = login_with_trust(&app, "ann", &second).await;
    assert_eq!(status, 200, "{login}");
    let third = login["twoFactorTrustId"].as_str().unwrap().to_owned();

    // The first token comes back after it was spent: a copy of it is in other hands, so the
    // trust ends for everyone, and this login is asked for its code.
    let (status, _) = login_with_trust(&app, "ann", &first).await;
    assert_eq!(status, 242);
    let events = app.audit("event=two_factor.trust_reuse").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (status, _) = login_with_trust(&app, "ann", &third).await;
    assert_eq!(status, 242, "the newest token died with its trust");
    assert_eq!(app.audit("event=login.success").await.len(), 3);
}

#[tokio::test]
async fn a_trust_token_sent_by_two_logins_at_once_spares_one() {
    // One renews the token; the other either lost the race for it or finds it already spent
    // (and, taking it for a copy, ends the trust): either way it is asked for its code.
    let app = spawn_app().await;
    let (_, _, trust) = trusted_user(&app, "bea").await;
    let (a, b) = tokio::join!(
        login_with_trust(&app, "bea", &trust),
        login_with_trust(&app, "bea", &trust)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 242]);
}

#[tokio::test]
async fn a_trust_token_spares_only_its_own_user() {
    let app = spawn_app().await;
    let (_, _, anns) = trusted_user(&app, "ann").await;
    let (_, _, _) = trusted_user(&app, "cal").await;
    let (status, _) = login_with_trust(&app, "cal", &anns).await;
    assert_eq!(status, 242);
    // Nor is it spent by the attempt.
    let (status, _) = login_with_trust(&app, "ann", &anns).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_account_blocked_by_wrong_codes_is_not_spared_by_a_trusted_computer() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"failureLimit": 3}))
        .await;
    let (id, _, trust) = trusted_user(&app, "dan").await;
    for _ in 0..3 {
        let challenge = app.start_two_factor("dan").await;
        let wrong = app.finish_two_factor(&challenge, "000000", json!({})).await;
        assert_eq!(wrong.status(), 421);
    }

    // Whoever has the password and the trusted computer is refused like anyone else...
    let (status, body) = login_with_trust(&app, "dan", &trust).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["generalErrors"][0]["code"],
        "[TooManyTwoFactorFailures]"
    );
    let status = app
        .with_key(
            Method::GET,
            &format!("/api/two-factor/status/{trust}?userId={id}"),
        )
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 242, "the status API says a factor is due");

    // ...and the trust is not spent by the refusal: once the account is unlocked, it spares
    // the next login.
    let unlocked = app
        .with_key(Method::POST, &format!("/api/system/users/{id}/unlock"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), 200);
    let (status, body) = login_with_trust(&app, "dan", &trust).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_trust_token_from_the_cookie_is_renewed_in_the_cookie() {
    let app = spawn_app().await;
    let (_, _, trust) = trusted_user(&app, "eve").await;
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("Cookie", format!("tessera_trust={trust}"))
        .json(&json!({"loginId": "eve", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let renewed = body["twoFactorTrustId"].as_str().unwrap();
    assert!(
        cookie.starts_with(&format!("tessera_trust={renewed};")) && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}
