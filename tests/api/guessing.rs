//! Every place that checks a code of an account's counts the guess as a failure before it
//! compares the code, against one limit per account: logins, re-authentication, enrolment
//! confirmations and removing a method. Past the limit the right code is refused unchecked.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, all_at_once, oathtool, spawn_app, tally};
use crate::web::{Browser, location};

const FAILURE_LIMIT: usize = 6;

async fn app_with_a_low_limit(limit: usize) -> TestApp {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"failureLimit": limit, "failureWindowSeconds": 600}))
        .await;
    app
}

/// A six-digit code none of the authenticator's steps near now produces.
fn wrong_code(secret: &str) -> String {
    let near: Vec<String> = (-3..=3).map(|step| oathtool(secret, step * 30)).collect();
    (1..)
        .map(|n: u32| format!("{:06}", n * 7919 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Removes a method with a code, through the API key; the status.
fn remove_method(
    app: &TestApp,
    user: &str,
    method: &str,
    code: &str,
) -> impl std::future::Future<Output = u16> + Send + 'static {
    let sent = app
        .with_key(
            Method::DELETE,
            &format!("/api/user/two-factor/{user}?methodId={method}&code={code}"),
        )
        .send();
    async move { sent.await.unwrap().status().as_u16() }
}

async fn first_method(app: &TestApp, user: &str) -> String {
    app.methods_of(user).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn re_authentication_counts_each_try_first_and_past_the_limit_refuses_the_right_code() {
    let app = app_with_a_low_limit(FAILURE_LIMIT).await;
    let user = app.create_user("rex", json!({})).await;
    let mut browser = Browser::new();
    assert_eq!(location(&browser.log_in(&app, "rex", PASSWORD).await), "/");
    let (secret, _) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    browser.get(&app, "/security/reauth").await;
    let csrf = browser.csrf(&app).await;

    for _ in 0..FAILURE_LIMIT {
        let answer = browser
            .post(
                &app,
                "/security/reauth",
                &[
                    ("csrf", &csrf),
                    ("password", PASSWORD),
                    ("code", &wrong_code(&secret)),
                ],
            )
            .await;
        assert_eq!(answer.status(), 422);
    }
    // The right password and the next step's right code: not even looked at.
    let answer = browser
        .post(
            &app,
            "/security/reauth",
            &[
                ("csrf", &csrf),
                ("password", PASSWORD),
                ("code", &oathtool(&secret, 30)),
            ],
        )
        .await;
    assert_eq!(answer.status(), 429);
    assert!(answer.headers().contains_key("retry-after"));
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("Too many wrong codes")
    );

    // The same account's logins are over the same limit: none opens.
    let (status, _) = app
        .login_json(json!({"loginId": "rex", "password": PASSWORD}))
        .await;
    assert_eq!(status, 429);
    let refusals = app
        .audit(&format!(
            "userId={}&event=two_factor.blocked",
            user["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        refusals
            .iter()
            .any(|e| e["details"]["context"] == "reauthentication"),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn wrong_codes_on_every_path_add_up_to_one_limit_per_account() {
    let app = app_with_a_low_limit(FAILURE_LIMIT).await;
    let user = app.create_user("ida", json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (secret, _) = app.enroll_authenticator(&id).await;
    let method = first_method(&app, &id).await;

    // A login opened before the others: it will present the right code past the limit.
    let open_login = app.start_two_factor("ida").await;
    // Two wrong codes removing the method, two confirming a new authenticator, two at logins.
    for _ in 0..2 {
        assert_eq!(
            remove_method(&app, &id, &method, &wrong_code(&secret)).await,
            421
        );
    }
    let another = tessera::otp::TotpSecret::generate().to_base32();
    let enrol = |code: String| {
        app.with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
            .json(&json!({"method": "authenticator", "secretBase32Encoded": another, "code": code}))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(enrol(wrong_code(&another)).await.unwrap().status(), 421);
    }
    for _ in 0..2 {
        let two_factor_id = app.start_two_factor("ida").await;
        let answer = app
            .finish_two_factor(&two_factor_id, &wrong_code(&secret), json!({}))
            .await;
        assert_eq!(answer.status(), 421);
    }

    // The account is at its limit: the right codes are refused on every path, unchecked.
    assert_eq!(
        remove_method(&app, &id, &method, &oathtool(&secret, 30)).await,
        429
    );
    assert_eq!(enrol(oathtool(&another, 0)).await.unwrap().status(), 429);
    let answer = app
        .finish_two_factor(&open_login, &oathtool(&secret, 30), json!({}))
        .await;
    assert_eq!(answer.status(), 429);
    assert!(answer.headers().contains_key("retry-after"));
    assert_eq!(app.methods_of(&id).await.len(), 1, "nothing changed");

    // An administrator's unlock gives the owner their account back.
    let unlock = app
        .with_key(Method::POST, &format!("/api/system/users/{id}/unlock"))
        .json(&json!({"reason": "the owner called"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unlock.status(), 200);
    assert_eq!(
        remove_method(&app, &id, &method, &oathtool(&secret, 30)).await,
        200
    );
}

#[tokio::test]
async fn concurrent_wrong_codes_get_no_more_checks_than_the_limit() {
    let app = app_with_a_low_limit(FAILURE_LIMIT).await;
    let user = app.create_user("zed", json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (secret, _) = app.enroll_authenticator(&id).await;
    let method = first_method(&app, &id).await;
    let wrong = wrong_code(&secret);

    let statuses = all_at_once(
        (0..5 * FAILURE_LIMIT)
            .map(|_| remove_method(&app, &id, &method, &wrong))
            .collect(),
    )
    .await;
    let checked = statuses.iter().filter(|s| **s == 421).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (checked, refused),
        (FAILURE_LIMIT, 4 * FAILURE_LIMIT),
        "{}",
        tally(&statuses)
    );
    let failures: Vec<Value> = app
        .audit(&format!("userId={id}&event=two_factor.failure&limit=100"))
        .await;
    assert_eq!(failures.len(), FAILURE_LIMIT);
}
