//! An authenticator's code whose time step was already used fails like a wrong code (the same
//! limit per account, the same failure event) but says so to whoever passed the password or
//! holds a session, so that they wait for their app's next code instead of checking their
//! typing: the API keeps FusionAuth's 421 and adds a field error `[used]code`; the pages say it
//! in a sentence. Codes come from `oathtool`; the enrolment spends the current time step, so a
//! login's first code is the next step's.

use reqwest::Method;
use serde_json::{Value, json};
use tessera::audit::Origin;
use tessera::clock::Instant;
use tessera::two_factor::{CompleteLogin, TwoFactorError};

use crate::helpers::{PASSWORD, TestApp, all_at_once, oathtool, oathtool_at, spawn_app, tally};
use crate::web::{Browser, csrf_in, location};

const JUST_USED: &str = "This code was just used. Wait for the next code from your app.";
const JUST_USED_ON_A_PAGE: &str =
    "That code was just used. Wait for your app to show the next one and enter it.";

/// A user (its id) with an authenticator (its secret and recovery codes).
async fn user_with_authenticator(app: &TestApp, name: &str) -> (String, String, Vec<String>) {
    let user = app.create_user(name, json!({})).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (secret, recovery) = app.enroll_authenticator(&id).await;
    (id, secret, recovery)
}

/// A six-digit code none of the authenticator's steps near now produces.
fn wrong_code(secret: &str) -> String {
    let near: Vec<String> = (-3..=3).map(|step| oathtool(secret, step * 30)).collect();
    (1..)
        .map(|n: u32| format!("{:06}", n * 7919 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Logs `name` in with the authenticator's next code; answers the code, now used.
async fn log_in_once(app: &TestApp, name: &str, secret: &str) -> String {
    let code = oathtool(secret, 30);
    let challenge = app.start_two_factor(name).await;
    let done = app.finish_two_factor(&challenge, &code, json!({})).await;
    assert_eq!(done.status(), 200, "the first use of {code}");
    code
}

/// The status and body of an answer (`Null` when it has none).
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, body)
}

/// The body of a 421 for a code already used.
fn just_used() -> Value {
    json!({"fieldErrors": {"code": [{"code": "[used]code", "message": JUST_USED}]}})
}

/// The user's `two_factor.failure` events, newest first.
async fn failures(app: &TestApp, id: &str) -> Vec<Value> {
    app.audit(&format!("userId={id}&event=two_factor.failure&limit=100"))
        .await
}

#[tokio::test]
async fn a_code_used_for_a_login_is_refused_at_the_next_login_as_just_used() {
    let app = spawn_app().await;
    let (id, secret, recovery) = user_with_authenticator(&app, "ann").await;
    let used = log_in_once(&app, "ann", &secret).await;

    let challenge = app.start_two_factor("ann").await;
    let (status, body) = answer(app.finish_two_factor(&challenge, &used, json!({})).await).await;
    assert_eq!((status, body), (421, just_used()));

    // A wrong code keeps FusionAuth's answer: 421 without a body.
    let (status, body) = answer(
        app.finish_two_factor(&challenge, &wrong_code(&secret), json!({}))
            .await,
    )
    .await;
    assert_eq!((status, body), (421, Value::Null));

    // Both are failures of the login, told apart in the audit log.
    let failures = failures(&app, &id).await;
    let reasons: Vec<(&Value, &Value)> = failures
        .iter()
        .map(|e| (&e["details"]["context"], &e["details"]["reason"]))
        .collect();
    assert_eq!(
        reasons,
        [
            (&json!("login"), &Value::Null),
            (&json!("login"), &json!("code_already_used")),
        ],
        "{failures:?}"
    );

    // The login is still open for a code that counts.
    let done = app
        .finish_two_factor(&challenge, &recovery[0], json!({}))
        .await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn a_used_code_counts_against_the_accounts_failure_limit_and_past_it_is_not_told_apart() {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "bob").await;
    app.put_two_factor_settings(json!({"failureLimit": 2, "failureWindowSeconds": 600}))
        .await;
    let used = log_in_once(&app, "bob", &secret).await;
    let challenges = [
        app.start_two_factor("bob").await,
        app.start_two_factor("bob").await,
        app.start_two_factor("bob").await,
    ];

    for challenge in &challenges[..2] {
        let (status, body) = answer(app.finish_two_factor(challenge, &used, json!({})).await).await;
        assert_eq!((status, body), (421, just_used()));
    }
    // Two failures reach the limit of two: the next code is refused unchecked, whatever it is.
    let (status, body) = answer(
        app.finish_two_factor(&challenges[2], &used, json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["generalErrors"][0]["code"], "[TooManyTwoFactorFailures]",
        "{body}"
    );
    assert!(body.get("fieldErrors").is_none(), "{body}");
}

#[tokio::test]
async fn a_used_code_at_an_unknown_login_tells_nothing() {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "cy").await;
    let used = log_in_once(&app, "cy", &secret).await;
    let (status, body) = answer(
        app.finish_two_factor("no-such-login", &used, json!({}))
            .await,
    )
    .await;
    assert_eq!((status, body), (404, Value::Null));
}

/// What the service answers a code at `now`, for the login `two_factor_id`.
async fn verdict(app: &TestApp, two_factor_id: &str, code: String, now: Instant) -> &'static str {
    let request = CompleteLogin {
        two_factor_id: two_factor_id.to_owned(),
        code,
        trust_computer: false,
        application_id: None,
        browser_id: None,
    };
    match app
        .core
        .two_factor
        .complete_login(&request, &Origin::default(), now)
        .await
    {
        Ok(_) => "logged in",
        Err(TwoFactorError::CodeAlreadyUsed) => "just used",
        Err(TwoFactorError::WrongCode) => "wrong",
        Err(other) => panic!("{other}"),
    }
}

/// The time window, with the clock moved on and the service asked directly: a code of the last
/// used step, or of a step before it still within the skew (one step either side), was just
/// used; a step beyond the skew is wrong; the next step logs in.
#[tokio::test]
async fn a_code_of_the_last_used_step_or_one_before_it_within_the_skew_is_just_used() {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "dee").await;
    let first = app.start_two_factor("dee").await;
    let second = app.start_two_factor("dee").await;
    // Four steps after the enrolment, well inside the logins' five minutes.
    let now = Instant::now().plus_seconds(120);
    let code_at = |offset: i64| oathtool_at(&secret, now.seconds() + offset);

    assert_eq!(verdict(&app, &first, code_at(0), now).await, "logged in");
    assert_eq!(verdict(&app, &second, code_at(0), now).await, "just used");
    assert_eq!(verdict(&app, &second, code_at(-30), now).await, "just used");
    assert_eq!(verdict(&app, &second, code_at(-60), now).await, "wrong");
    assert_eq!(verdict(&app, &second, code_at(30), now).await, "logged in");
}

#[tokio::test]
async fn one_fresh_code_sent_to_twenty_logins_at_once_logs_in_once_and_the_rest_hear_it_was_just_used()
 {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "eve").await;
    // Above the account's failure limit, so that every submission is checked.
    app.put_two_factor_settings(json!({"failureLimit": 100}))
        .await;
    let mut challenges = Vec::new();
    for _ in 0..20 {
        challenges.push(app.start_two_factor("eve").await);
    }
    let code = oathtool(&secret, 30);
    let answers = all_at_once(
        challenges
            .iter()
            .map(|challenge| {
                let sent = app
                    .client
                    .post(app.url("/api/two-factor/login"))
                    .json(&json!({"twoFactorId": challenge, "code": code}))
                    .send();
                async move { answer(sent.await.unwrap()).await }
            })
            .collect(),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{}",
        tally(&statuses)
    );
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!((*status, body), (421, &just_used()));
    }
}

/// Many users at once, each with a code of their own: on PostgreSQL their checks share a few
/// transactions (`store::code_check::group`), which must tell a used code from a wrong one for
/// each of them.
#[tokio::test]
async fn many_users_presenting_used_and_wrong_codes_at_once_each_get_their_own_answer() {
    const USERS: usize = 30;
    let app = spawn_app().await;
    let mut users = Vec::new();
    for i in 0..USERS {
        let name = format!("crowd{i}");
        let (id, secret, _) = user_with_authenticator(&app, &name).await;
        let used = log_in_once(&app, &name, &secret).await;
        let code = if i % 2 == 0 {
            used
        } else {
            wrong_code(&secret)
        };
        users.push((id, code, app.start_two_factor(&name).await));
    }
    let answers = all_at_once(
        users
            .iter()
            .map(|(_, code, challenge)| {
                let sent = app
                    .client
                    .post(app.url("/api/two-factor/login"))
                    .json(&json!({"twoFactorId": challenge, "code": code}))
                    .send();
                async move { answer(sent.await.unwrap()).await }
            })
            .collect(),
    )
    .await;
    for (i, ((id, _, _), (status, body))) in users.iter().zip(&answers).enumerate() {
        let failures = failures(&app, id).await;
        assert_eq!(failures.len(), 1, "user {i}: {failures:?}");
        if i % 2 == 0 {
            assert_eq!((*status, body), (421, &just_used()), "user {i}");
            assert_eq!(failures[0]["details"]["reason"], "code_already_used");
        } else {
            assert_eq!((*status, body), (421, &Value::Null), "user {i}");
            assert_eq!(failures[0]["details"]["reason"], Value::Null);
        }
    }
}

/// With a code sent by text message for this login, the check takes a second transaction
/// (`TwoFactor::complete_login` after `Guessed::Reserved`); it tells a used code too.
#[tokio::test]
async fn a_used_code_at_a_login_that_was_also_sent_a_text_is_just_used() {
    const PHONE: &str = "+13035550148";
    let app = spawn_app().await;
    let (id, secret, _) = user_with_authenticator(&app, "fay").await;
    let sms = app.enroll_sms(&id, PHONE).await;
    let used = log_in_once(&app, "fay", &secret).await;
    let challenge = app.start_two_factor("fay").await;
    let sent = app
        .post_json(
            &format!("/api/two-factor/send/{challenge}"),
            &json!({"methodId": sms}),
        )
        .await;
    assert_eq!(sent.status(), 200);

    let (status, body) = answer(app.finish_two_factor(&challenge, &used, json!({})).await).await;
    assert_eq!((status, body), (421, just_used()));
    // The text's code still finishes the login.
    let texted = app.code_sent_to(PHONE).await;
    let done = app.finish_two_factor(&challenge, &texted, json!({})).await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn removing_an_authenticator_with_its_used_code_is_refused_as_just_used() {
    let app = spawn_app().await;
    let (id, secret, _) = user_with_authenticator(&app, "gus").await;
    let method = app.methods_of(&id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let used = log_in_once(&app, "gus", &secret).await;
    let remove = |code: String| {
        let sent = app
            .with_key(
                Method::DELETE,
                &format!("/api/user/two-factor/{id}?methodId={method}&code={code}"),
            )
            .send();
        async move { answer(sent.await.unwrap()).await }
    };

    assert_eq!(remove(used).await, (421, just_used()));
    assert_eq!(remove(wrong_code(&secret)).await, (421, Value::Null));
    let failures = failures(&app, &id).await;
    assert_eq!(failures[1]["details"]["context"], "disable");
    assert_eq!(failures[1]["details"]["reason"], "code_already_used");
    assert_eq!(app.methods_of(&id).await.len(), 1, "nothing removed");
}

/// Requests removing one authenticator with one fresh code at once: one removes it; those that
/// judged the code fresh but lost the spending of its time step hear it was just used (those
/// that came after the removal find no such method).
#[tokio::test]
async fn removals_racing_with_one_fresh_code_remove_once_and_the_losers_hear_it_was_just_used() {
    let app = spawn_app().await;
    let (id, secret, _) = user_with_authenticator(&app, "hal").await;
    app.put_two_factor_settings(json!({"failureLimit": 100}))
        .await;
    let method = app.methods_of(&id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = oathtool(&secret, 30);
    let answers = all_at_once(
        (0..20)
            .map(|_| {
                let sent = app
                    .with_key(
                        Method::DELETE,
                        &format!("/api/user/two-factor/{id}?methodId={method}&code={code}"),
                    )
                    .send();
                async move { answer(sent.await.unwrap()).await }
            })
            .collect(),
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    eprintln!(
        "race: one code removing one authenticator ×20 → {}",
        tally(&statuses)
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{}",
        tally(&statuses)
    );
    for (status, body) in &answers {
        match status {
            200 => {}
            421 => assert_eq!(body, &just_used()),
            400 => assert_eq!(
                body["fieldErrors"]["methodId"][0]["code"],
                "[invalid]methodId"
            ),
            other => panic!("{other}: {body}"),
        }
    }
}

/// Re-authentication asks for the password and a code: a used code is told as such only when
/// the password was right; otherwise the page says one of the two is not right, as for any code.
#[tokio::test]
async fn re_authenticating_with_a_used_code_says_so_only_after_the_right_password() {
    let app = spawn_app().await;
    let user = app.create_user("ivy", json!({})).await;
    let mut browser = Browser::new();
    assert_eq!(location(&browser.log_in(&app, "ivy", PASSWORD).await), "/");
    let (secret, _) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    let used = log_in_once(&app, "ivy", &secret).await;
    browser.get(&app, "/security/reauth").await;
    let csrf = browser.csrf(&app).await;
    let page = browser
        .post(
            &app,
            "/security/reauth",
            &[
                ("csrf", &csrf),
                ("password", "not the password"),
                ("code", &used),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("The password or the code is not right."),
        "{page}"
    );
    assert!(!page.contains("just used"), "{page}");

    let answer = browser
        .post(
            &app,
            "/security/reauth",
            &[("csrf", &csrf), ("password", PASSWORD), ("code", &used)],
        )
        .await;
    assert_eq!(answer.status(), 422);
    let page = answer.text().await.unwrap();
    assert!(page.contains(JUST_USED_ON_A_PAGE), "{page}");
}

/// Posts `code` to the login's code page; the status and the page.
async fn enter_code(app: &TestApp, browser: &mut Browser, csrf: &str, code: &str) -> (u16, String) {
    let answer = browser
        .post(app, "/login/code", &[("csrf", csrf), ("code", code)])
        .await;
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn the_login_page_says_a_used_code_was_just_used_and_a_wrong_one_is_not_right() {
    let app = spawn_app().await;
    let (_, secret, _) = user_with_authenticator(&app, "joy").await;
    let used = log_in_once(&app, "joy", &secret).await;
    let mut browser = Browser::new();
    assert_eq!(
        location(&browser.log_in(&app, "joy", PASSWORD).await),
        "/login/code"
    );
    let page = browser.get(&app, "/login/code").await;
    let csrf = csrf_in(&page.text().await.unwrap());
    let (status, page) = enter_code(&app, &mut browser, &csrf, &used).await;
    assert_eq!(status, 422);
    assert!(page.contains(JUST_USED_ON_A_PAGE), "{page}");
    let (status, page) = enter_code(&app, &mut browser, &csrf, &wrong_code(&secret)).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("That code is not right. Check it and try again."),
        "{page}"
    );
    assert!(!page.contains("just used"), "{page}");
}
