//! A person changes their own password: through `PUT /api/user/change-password` with their
//! access token, or on the security page `/security/password`. The current password is checked
//! under the password guard, the new one by the rules of a new account's; every other session
//! ends, trusted computers stay; a refusal changes nothing and says why.

use reqwest::Method;
use serde_json::{Value, json};
use tessera::audit::{AuditFilter, EventKind};
use tessera::limits::Limit;

use crate::helpers::{PASSWORD, TestApp, all_at_once, oathtool, spawn_app, spawn_app_with, tally};
use crate::web::{Browser, csrf_in, location};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// A login through the API: its access token and refresh token.
async fn log_in(app: &TestApp, name: &str, password: &str) -> (String, String) {
    let (status, body) = app
        .login_json(json!({"loginId": name, "password": password}))
        .await;
    assert_eq!(status, 200, "{body}");
    (
        body["token"].as_str().unwrap().to_owned(),
        body["refreshToken"].as_str().unwrap().to_owned(),
    )
}

/// `PUT /api/user/change-password` with `token`: the status and the body.
async fn change(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .put(app.url("/api/user/change-password"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn from_to(current: &str, new: &str) -> Value {
    json!({"currentPassword": current, "password": new})
}

/// Whether an access token still stands for a live session.
async fn token_works(app: &TestApp, token: &str) -> bool {
    let response = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    response.status() == 200
}

/// The statuses of a login as `name` with the old password and with the new one: (200, 404)
/// before a change, (404, 200) after.
async fn old_and_new_logins(app: &TestApp, name: &str) -> (u16, u16) {
    let old = app.login(name, PASSWORD).await.status().as_u16();
    let new = app.login(name, NEW_PASSWORD).await.status().as_u16();
    (old, new)
}

#[tokio::test]
async fn after_a_change_the_user_logs_in_with_the_new_password_only() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let (token, _) = log_in(&app, "ann", PASSWORD).await;

    let (status, body) = change(&app, &token, from_to(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(old_and_new_logins(&app, "ann").await, (404, 200));
}

#[tokio::test]
async fn a_change_ends_every_other_session_and_keeps_the_callers() {
    let app = spawn_app().await;
    app.create_user("ben", json!({})).await;
    let (mine, _) = log_in(&app, "ben", PASSWORD).await;
    let (elsewhere, elsewhere_refresh) = log_in(&app, "ben", PASSWORD).await;

    let (status, body) = change(&app, &mine, from_to(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(status, 200, "{body}");
    assert!(token_works(&app, &mine).await, "the caller's session stays");
    assert!(!token_works(&app, &elsewhere).await, "the other one ends");
    let refreshed = app
        .post_json(
            "/api/jwt/refresh",
            &json!({"refreshToken": elsewhere_refresh}),
        )
        .await;
    assert_eq!(refreshed.status(), 404, "and cannot be renewed");
}

#[tokio::test]
async fn a_trusted_computer_still_spares_the_second_factor_after_a_change() {
    let app = spawn_app().await;
    let user = app.create_user("cat", json!({})).await;
    let (secret, recovery) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    let challenge = app.start_two_factor("cat").await;
    let done: Value = app
        .finish_two_factor(&challenge, &recovery[0], json!({"trustComputer": true}))
        .await
        .json()
        .await
        .unwrap();
    let trust = done["twoFactorTrustId"].as_str().unwrap().to_owned();
    // A fresh login with the second factor, as a change asks for (the enrolment spent the
    // current time step: the next one's code).
    let challenge = app.start_two_factor("cat").await;
    let done: Value = app
        .finish_two_factor(&challenge, &oathtool(&secret, 30), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let token = done["token"].as_str().unwrap();

    let (status, body) = change(&app, token, from_to(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .login_json(json!({"loginId": "cat", "password": NEW_PASSWORD, "twoFactorTrustId": trust}))
        .await;
    assert_eq!(
        status, 200,
        "the trusted computer is spared the code: {body}"
    );
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing_and_counts_against_the_password_guard() {
    let app = spawn_app_with(|config| {
        config.password_guard.per_account_and_ip = Limit {
            max: 3,
            window_seconds: 900,
        };
    })
    .await;
    let user = app.create_user("dan", json!({})).await;
    let (token, _) = log_in(&app, "dan", PASSWORD).await;
    let (elsewhere, _) = log_in(&app, "dan", PASSWORD).await;

    for _ in 0..3 {
        let (status, body) = change(&app, &token, from_to("not the password", NEW_PASSWORD)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["fieldErrors"]["currentPassword"][0]["code"], "[mismatch]currentPassword",
            "{body}"
        );
    }
    // The three wrong passwords filled this address's allowance for the account, as wrong
    // logins would: the right password is not even compared now, here or at the login.
    let (status, body) = change(&app, &token, from_to(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(app.login("dan", PASSWORD).await.status(), 429);

    // Nothing changed: the old password logs in from elsewhere, the other session stands.
    let owner = app
        .with_key(Method::POST, "/api/login")
        .json(&json!({"loginId": "dan", "password": PASSWORD, "ipAddress": "198.51.100.7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), 200);
    assert!(token_works(&app, &elsewhere).await);
    assert!(
        app.audit("event=user.password_change").await.is_empty(),
        "no change was recorded"
    );
    let refusals = app
        .audit(&format!(
            "userId={}&event=user.password_change_failure",
            user["id"].as_str().unwrap()
        ))
        .await;
    let reasons: Vec<&str> = refusals
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "throttled",
            "wrong_current_password",
            "wrong_current_password",
            "wrong_current_password"
        ]
    );
}

#[tokio::test]
async fn the_current_password_cannot_be_chosen_again() {
    let app = spawn_app().await;
    app.create_user("eve", json!({})).await;
    let (token, _) = log_in(&app, "eve", PASSWORD).await;
    let (elsewhere, _) = log_in(&app, "eve", PASSWORD).await;

    let (status, body) = change(&app, &token, from_to(PASSWORD, PASSWORD)).await;
    assert_eq!(status, 400, "{body}");
    let refusal = &body["fieldErrors"]["password"][0];
    assert_eq!(refusal["code"], "[reused]password", "{body}");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("not used here"),
        "{body}"
    );
    assert!(token_works(&app, &elsewhere).await, "no session ended");
    assert_eq!(app.login("eve", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_weak_new_password_is_refused_as_at_account_creation_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_user("fay", json!({})).await;
    let (token, _) = log_in(&app, "fay", PASSWORD).await;
    let (elsewhere, _) = log_in(&app, "fay", PASSWORD).await;

    for (weak, code) in [
        ("password123", "[breached]password"),
        ("qwertyuiop", "[breached]password"),
        ("short", "[tooShort]password"),
        ("", "[blank]password"),
    ] {
        let (status, body) = change(&app, &token, from_to(PASSWORD, weak)).await;
        assert_eq!(status, 400, "{weak}: {body}");
        assert_eq!(
            body["fieldErrors"]["password"][0]["code"], code,
            "{weak}: {body}"
        );
    }
    assert!(token_works(&app, &elsewhere).await, "no session ended");
    assert_eq!(old_and_new_logins(&app, "fay").await, (200, 404));
    assert!(app.audit("event=user.password_change").await.is_empty());
}

#[tokio::test]
async fn a_change_needs_the_callers_valid_access_token() {
    let app = spawn_app().await;
    app.create_user("gus", json!({})).await;
    let (token, refresh) = log_in(&app, "gus", PASSWORD).await;
    let body = from_to(PASSWORD, NEW_PASSWORD);

    let anonymous = app
        .client
        .put(app.url("/api/user/change-password"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let api_key = app
        .with_key(Method::PUT, "/api/user/change-password")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(api_key.status(), 401, "an API key is nobody's own password");
    assert_eq!(change(&app, "not.a.token", body.clone()).await.0, 401);
    let logout = app
        .post_json("/api/logout", &json!({"refreshToken": refresh}))
        .await;
    assert_eq!(logout.status(), 200);
    assert_eq!(
        change(&app, &token, body).await.0,
        401,
        "a logged-out token"
    );
    assert_eq!(old_and_new_logins(&app, "gus").await, (200, 404));
}

#[tokio::test]
async fn a_change_needs_a_recent_login_with_the_second_factor() {
    let app = spawn_app().await;
    let user = app.create_user("hal", json!({})).await;
    let (token, _) = log_in(&app, "hal", PASSWORD).await;
    // A method enrolled since: the token's login did not use it.
    app.enroll_authenticator(user["id"].as_str().unwrap()).await;

    let (status, body) = change(&app, &token, from_to(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["generalErrors"][0]["code"], "[forbidden]", "{body}");
    assert_eq!(
        old_and_new_logins(&app, "hal").await,
        (242, 404),
        "the old password still opens the account, up to its second factor"
    );
}

#[tokio::test]
async fn the_body_is_checked_field_by_field_and_unknown_fields_are_refused() {
    let app = spawn_app().await;
    app.create_user("ida", json!({})).await;
    let (token, _) = log_in(&app, "ida", PASSWORD).await;

    let (status, body) = change(&app, &token, json!({"password": NEW_PASSWORD})).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["currentPassword"][0]["code"], "[blank]currentPassword",
        "{body}"
    );
    let mut extra = from_to(PASSWORD, NEW_PASSWORD);
    extra["changePasswordId"] = json!("from a forgotten-password email");
    let (status, body) = change(&app, &token, extra).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["changePasswordId"][0]["code"], "[unknown]changePasswordId",
        "{body}"
    );
    assert_eq!(old_and_new_logins(&app, "ida").await, (200, 404));
}

#[tokio::test]
async fn fusion_auths_clients_may_post_the_same_change() {
    let app = spawn_app().await;
    app.create_user("jo", json!({})).await;
    let (token, _) = log_in(&app, "jo", PASSWORD).await;
    let response = app
        .client
        .post(app.url("/api/user/change-password"))
        .bearer_auth(&token)
        .json(&from_to(PASSWORD, NEW_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(old_and_new_logins(&app, "jo").await, (404, 200));
}

#[tokio::test]
async fn of_changes_sent_at_once_with_the_same_current_password_one_is_made() {
    let app = spawn_app().await;
    app.create_user("liv", json!({})).await;
    let (token, _) = log_in(&app, "liv", PASSWORD).await;
    let choices: Vec<String> = (0..5)
        .map(|n| format!("{NEW_PASSWORD} number {n}"))
        .collect();
    let requests = choices
        .iter()
        .map(|choice| {
            let sent = app
                .client
                .put(app.url("/api/user/change-password"))
                .bearer_auth(&token)
                .json(&from_to(PASSWORD, choice))
                .send();
            async move { sent.await.unwrap().status().as_u16() }
        })
        .collect();
    let statuses = all_at_once(requests).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{}",
        tally(&statuses)
    );
    assert!(
        statuses.iter().all(|s| [200, 400].contains(s)),
        "{}",
        tally(&statuses)
    );
    // The one made is the one in force; none of the others opens the account.
    for (choice, status) in choices.iter().zip(&statuses) {
        let login = app.login("liv", choice).await.status().as_u16();
        assert_eq!(
            login == 200,
            *status == 200,
            "{choice}: {}",
            tally(&statuses)
        );
    }
}

#[tokio::test]
async fn the_audit_log_says_who_changed_the_password_and_which_sessions_ended() {
    let app = spawn_app().await;
    let user = app.create_user("kim", json!({})).await;
    let (token, _) = log_in(&app, "kim", PASSWORD).await;
    log_in(&app, "kim", PASSWORD).await;
    log_in(&app, "kim", PASSWORD).await;

    let (status, _) = change(&app, &token, from_to(PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(status, 200);
    let events = app.audit("event=user.password_change").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    let id = user["id"].as_str().unwrap();
    assert_eq!(event["actor"], format!("user:{id}"), "{event}");
    assert_eq!(event["target"], id, "{event}");
    assert_eq!(
        event["details"],
        json!({"appPasswordsRevoked": 0, "keptThisSession": true, "sessionsEnded": 2})
    );
    let said = app
        .core
        .admin
        .readable_audit_log(
            Some("kim"),
            &AuditFilter {
                kind: Some(EventKind::PasswordChange),
                limit: 10,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        said[0].sentence,
        "kim changed their password, ending 2 other sessions and keeping the session it was changed from"
    );
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains(NEW_PASSWORD));
}

#[tokio::test]
async fn the_openapi_document_describes_the_change() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for method in ["put", "post"] {
        let operation = &document["paths"]["/api/user/change-password"][method];
        assert_eq!(operation["security"], json!([{"bearer": []}]), "{method}");
        for status in ["200", "400", "403", "429"] {
            assert!(
                operation["responses"][status].is_object(),
                "{method} {status}"
            );
        }
    }
    let request = &document["components"]["schemas"]["ChangePasswordRequest"];
    assert_eq!(request["required"], json!(["currentPassword", "password"]));
}

/// A browser logged in as `name` (a user without a second factor: the login alone is recent
/// enough for the security pages), and the CSRF token of the password page.
async fn signed_in_browser(app: &TestApp, name: &str) -> (Browser, String) {
    let mut browser = Browser::new();
    assert_eq!(location(&browser.log_in(app, name, PASSWORD).await), "/");
    let page = browser.get(app, "/security/password").await;
    assert_eq!(page.status(), 200);
    let csrf = csrf_in(&page.text().await.unwrap());
    (browser, csrf)
}

async fn submit(
    browser: &mut Browser,
    app: &TestApp,
    csrf: &str,
    current: &str,
    new: &str,
    again: &str,
    stay: bool,
) -> reqwest::Response {
    let mut form = vec![
        ("csrf", csrf),
        ("current_password", current),
        ("new_password", new),
        ("confirm_password", again),
    ];
    if stay {
        form.push(("keep_session", "on"));
    }
    browser.post(app, "/security/password", &form).await
}

/// The sentence a refused form shows beside `field`.
fn refusal_beside(html: &str, field: &str) -> String {
    html.split(&format!("id=\"{field}-error\">"))
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_page_changes_the_password_and_ends_the_other_sessions_but_this_one() {
    let app = spawn_app().await;
    app.create_user("lea", json!({})).await;
    let (mut browser, csrf) = signed_in_browser(&app, "lea").await;
    let (mut other, _) = signed_in_browser(&app, "lea").await;
    let (api_token, _) = log_in(&app, "lea", PASSWORD).await;

    let security = browser.get(&app, "/security").await.text().await.unwrap();
    assert!(
        security.contains("href=\"/security/password\""),
        "linked from the settings"
    );
    let done = submit(
        &mut browser,
        &app,
        &csrf,
        PASSWORD,
        NEW_PASSWORD,
        NEW_PASSWORD,
        true,
    )
    .await;
    assert_eq!(location(&done), "/security?done=password");
    let page = browser.get(&app, "/security?done=password").await;
    assert_eq!(page.status(), 200, "this session stays");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Your password is changed. Other sessions were ended.")
    );
    assert_eq!(location(&other.get(&app, "/security").await), "/login");
    assert!(!token_works(&app, &api_token).await);
    assert_eq!(old_and_new_logins(&app, "lea").await, (404, 200));
}

#[tokio::test]
async fn unticked_the_page_ends_this_session_too_and_goes_to_the_login_page() {
    let app = spawn_app().await;
    app.create_user("max", json!({})).await;
    let (mut browser, csrf) = signed_in_browser(&app, "max").await;
    let done = submit(
        &mut browser,
        &app,
        &csrf,
        PASSWORD,
        NEW_PASSWORD,
        NEW_PASSWORD,
        false,
    )
    .await;
    assert_eq!(location(&done), "/login?out=1");
    assert_eq!(location(&browser.get(&app, "/security").await), "/login");
    let event = &app.audit("event=user.password_change").await[0];
    assert_eq!(
        event["details"],
        json!({"appPasswordsRevoked": 0, "keptThisSession": false, "sessionsEnded": 1})
    );
}

#[tokio::test]
async fn the_page_refuses_in_a_sentence_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_user("ned", json!({})).await;
    let (mut browser, csrf) = signed_in_browser(&app, "ned").await;
    let (mut other, _) = signed_in_browser(&app, "ned").await;

    for (current, new, again, field, said) in [
        (
            PASSWORD,
            NEW_PASSWORD,
            "a brand new passphrasE",
            "confirm_password",
            "The two new passwords are not the same. Type the new password twice.",
        ),
        (
            "not the password",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "current_password",
            "Your current password is not right. Type the password you logged in with.",
        ),
        (
            PASSWORD,
            "password123",
            "password123",
            "new_password",
            "This password is too common: it is on lists of breached passwords, or is a sequence or repetition; choose another (a few unrelated words make a good one).",
        ),
        (
            PASSWORD,
            PASSWORD,
            PASSWORD,
            "new_password",
            "Choose a password you have not used here: this is your current password.",
        ),
        (
            "",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "current_password",
            "Type your current password.",
        ),
    ] {
        let refused = submit(&mut browser, &app, &csrf, current, new, again, true).await;
        assert_eq!(refused.status(), 422, "{said}");
        let html = refused.text().await.unwrap();
        assert_eq!(refusal_beside(&html, field), said);
        assert!(
            !html.contains(new) || new == PASSWORD,
            "a password is never shown back"
        );
    }
    assert_eq!(
        other.get(&app, "/security").await.status(),
        200,
        "no session ended"
    );
    assert_eq!(old_and_new_logins(&app, "ned").await, (200, 404));
    assert!(app.audit("event=user.password_change").await.is_empty());
}

#[tokio::test]
async fn the_page_sits_behind_re_authentication() {
    let app = spawn_app().await;
    let user = app.create_user("oz", json!({})).await;
    let mut browser = Browser::new();
    assert_eq!(location(&browser.log_in(&app, "oz", PASSWORD).await), "/");
    let csrf = browser.csrf(&app).await;
    // A method enrolled since: this session's login did not use it.
    app.enroll_authenticator(user["id"].as_str().unwrap()).await;

    let page = browser.get(&app, "/security/password").await;
    assert_eq!(location(&page), "/security/reauth");
    let sent = submit(
        &mut browser,
        &app,
        &csrf,
        PASSWORD,
        NEW_PASSWORD,
        NEW_PASSWORD,
        true,
    )
    .await;
    assert_eq!(location(&sent), "/security/reauth");
    assert_eq!(
        app.login_json(json!({"loginId": "oz", "password": PASSWORD}))
            .await
            .0,
        242,
        "the old password still opens the account"
    );
}
