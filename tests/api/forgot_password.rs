//! A forgotten password: `POST /api/user/forgot-password` sends a link by email (through the
//! configured sender; here the development outbox), answering alike whether the account exists
//! or not; `POST /api/user/change-password/{changePasswordId}` spends the link once, within 15
//! minutes, while the password it was sent under is still the one in force. A reset ends every
//! session and forgets every trusted computer, and never spares the second factor.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tessera::audit::{AuditFilter, EventKind};

use crate::helpers::{PASSWORD, TestApp, all_at_once, spawn_app, tally};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn forgot(app: &TestApp, login_id: &str) -> (u16, Value) {
    let response = app
        .post_json("/api/user/forgot-password", &json!({"loginId": login_id}))
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn reset(app: &TestApp, id: &str, password: &str) -> (u16, Value) {
    let response = app
        .post_json(
            &format!("/api/user/change-password/{id}"),
            &json!({"password": password}),
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const RESET_SUBJECT: &str = "Reset your";

/// The outbox's password emails to `to`, newest first.
async fn reset_emails_to(app: &TestApp, to: &str) -> Vec<Value> {
    app.emails_to(to, RESET_SUBJECT).await
}

/// Waits for the `count`th password email to `to` (they are sent in the background) and
/// returns the secret of the link in the newest.
async fn link_sent_to(app: &TestApp, to: &str, count: usize) -> String {
    app.link_emailed_to(to, RESET_SUBJECT, "/reset-password/", count)
        .await
}

/// Gives a background send time to happen, if it were going to.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// A user with an email address: its id and address.
async fn user_with_email(app: &TestApp, name: &str) -> (String, String) {
    let email = format!("{name}@example.com");
    let user = app.create_user(name, json!({"email": email})).await;
    (user["id"].as_str().unwrap().to_owned(), email)
}

#[tokio::test]
async fn a_link_by_email_sets_a_new_password_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let (_, email) = user_with_email(&app, "ann").await;

    assert_eq!(forgot(&app, "ann").await, (200, json!({})));
    let id = link_sent_to(&app, &email, 1).await;
    let message = &reset_emails_to(&app, &email).await[0];
    assert_eq!(message["channel"], "email");
    assert!(message["body"].as_str().unwrap().contains("account ann"));

    assert_eq!(reset(&app, &id, NEW_PASSWORD).await, (200, json!({})));
    assert_eq!(app.login("ann", PASSWORD).await.status(), 404);
    assert_eq!(app.login("ann", NEW_PASSWORD).await.status(), 200);
    // By email address as well as by username.
    assert_eq!(forgot(&app, &email).await.0, 200);
    link_sent_to(&app, &email, 2).await;
}

#[tokio::test]
async fn unknown_and_known_accounts_get_the_same_answer_and_only_one_gets_an_email() {
    let app = spawn_app().await;
    let (_, email) = user_with_email(&app, "ben").await;

    let known = forgot(&app, "ben").await;
    let unknown = forgot(&app, "nobody-here").await;
    let unknown_email = forgot(&app, "nobody@example.com").await;
    assert_eq!(known, (200, json!({})));
    assert_eq!(unknown, known);
    assert_eq!(unknown_email, known);
    link_sent_to(&app, &email, 1).await;
    settle().await;
    let to_others: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["to"] != email.as_str())
        .collect();
    assert_eq!(to_others, Vec::<Value>::new());
}

#[tokio::test]
async fn a_reset_never_spares_the_second_factor() {
    let app = spawn_app().await;
    let (id, email) = user_with_email(&app, "cat").await;
    app.enroll_authenticator(&id).await;

    forgot(&app, "cat").await;
    let link = link_sent_to(&app, &email, 1).await;
    assert_eq!(reset(&app, &link, NEW_PASSWORD).await.0, 200);
    let response = app.login("cat", NEW_PASSWORD).await;
    assert_eq!(
        response.status(),
        242,
        "the new password leads to the second factor"
    );
}

#[tokio::test]
async fn a_reset_ends_every_session_and_forgets_every_trusted_computer() {
    let app = spawn_app().await;
    let (id, email) = user_with_email(&app, "dan").await;
    let (_, recovery) = app.enroll_authenticator(&id).await;
    let challenge = app.start_two_factor("dan").await;
    let done: Value = app
        .finish_two_factor(&challenge, &recovery[0], json!({"trustComputer": true}))
        .await
        .json()
        .await
        .unwrap();
    let token = done["token"].as_str().unwrap().to_owned();
    let trust = done["twoFactorTrustId"].as_str().unwrap().to_owned();

    forgot(&app, "dan").await;
    let link = link_sent_to(&app, &email, 1).await;
    assert_eq!(reset(&app, &link, NEW_PASSWORD).await.0, 200);

    let validate = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        validate.status(),
        401,
        "the session open before the reset ended"
    );
    let (status, _) = app
        .login_json(json!({"loginId": "dan", "password": NEW_PASSWORD, "twoFactorTrustId": trust}))
        .await;
    assert_eq!(
        status, 242,
        "the computer trusted before the reset is asked again"
    );
}

#[tokio::test]
async fn a_link_works_once() {
    let app = spawn_app().await;
    let (_, email) = user_with_email(&app, "eve").await;
    forgot(&app, "eve").await;
    let link = link_sent_to(&app, &email, 1).await;

    assert_eq!(reset(&app, &link, NEW_PASSWORD).await.0, 200);
    let (status, body) = reset(&app, &link, "yet another passphrase").await;
    assert_eq!(status, 404);
    assert_eq!(
        body["generalErrors"][0]["code"], "[used]changePasswordId",
        "{body}"
    );
    assert_eq!(app.login("eve", NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_link_expires_after_fifteen_minutes() {
    let app = spawn_app().await;
    let (_, email) = user_with_email(&app, "fay").await;
    forgot(&app, "fay").await;
    let link = link_sent_to(&app, &email, 1).await;
    // Fifteen minutes later, as the store sees it.
    sqlx::query("UPDATE password_links SET expires_at = expires_at - 900000")
        .execute(app.core.store.pool())
        .await
        .unwrap();

    let (status, body) = reset(&app, &link, NEW_PASSWORD).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["generalErrors"][0]["code"], "[expired]changePasswordId",
        "{body}"
    );
    assert_eq!(
        app.login("fay", PASSWORD).await.status(),
        200,
        "nothing changed"
    );
}

#[tokio::test]
async fn a_change_of_password_voids_a_link_sent_before_it() {
    let app = spawn_app().await;
    let (id, email) = user_with_email(&app, "gus").await;
    forgot(&app, "gus").await;
    let link = link_sent_to(&app, &email, 1).await;
    let response = app
        .with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"password": "set by an administrator"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let (status, body) = reset(&app, &link, NEW_PASSWORD).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["generalErrors"][0]["code"], "[voided]changePasswordId",
        "{body}"
    );
    assert_eq!(
        app.login("gus", "set by an administrator").await.status(),
        200
    );
}

#[tokio::test]
async fn the_same_link_used_twenty_times_at_once_sets_one_password() {
    let app = spawn_app().await;
    let (_, email) = user_with_email(&app, "hal").await;
    forgot(&app, "hal").await;
    let link = link_sent_to(&app, &email, 1).await;

    let requests: Vec<_> = (0..20)
        .map(|i| {
            let client = app.client.clone();
            let url = app.url(&format!("/api/user/change-password/{link}"));
            async move {
                client
                    .post(url)
                    .json(&json!({"password": format!("racing passphrase number {i}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .collect();
    let statuses = all_at_once(requests).await;
    assert_eq!(tally(&statuses), "1×200, 19×404");
    let winner = statuses.iter().position(|s| *s == 200).unwrap();
    let winning = format!("racing passphrase number {winner}");
    assert_eq!(app.login("hal", &winning).await.status(), 200);
    assert_eq!(app.login("hal", PASSWORD).await.status(), 404);
    let loser = format!("racing passphrase number {}", (winner + 1) % 20);
    assert_eq!(app.login("hal", &loser).await.status(), 404);
}

#[tokio::test]
async fn a_refused_new_password_says_why_and_leaves_the_link_usable() {
    let app = spawn_app().await;
    let (_, email) = user_with_email(&app, "ida").await;
    forgot(&app, "ida").await;
    let link = link_sent_to(&app, &email, 1).await;

    for (password, code) in [
        ("short", "[tooShort]password"),
        ("password1", "[breached]password"),
        (PASSWORD, "[reused]password"),
        ("", "[blank]password"),
    ] {
        let (status, body) = reset(&app, &link, password).await;
        assert_eq!(status, 400, "{password}: {body}");
        assert_eq!(body["fieldErrors"]["password"][0]["code"], code, "{body}");
    }
    assert_eq!(reset(&app, &link, NEW_PASSWORD).await.0, 200);
}

#[tokio::test]
async fn forged_malformed_and_unknown_links_are_refused_plainly() {
    let app = spawn_app().await;
    let (status, body) = reset(&app, "not-a-link", NEW_PASSWORD).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["changePasswordId"][0]["code"], "[invalid]changePasswordId",
        "{body}"
    );
    let forged = "A".repeat(43);
    let (status, body) = reset(&app, &forged, NEW_PASSWORD).await;
    assert_eq!(status, 404);
    assert_eq!(
        body["generalErrors"][0]["code"], "[notFound]changePasswordId",
        "{body}"
    );
    let response = app
        .client
        .post(app.url(&format!("/api/user/change-password/{forged}")))
        .json(&json!({"password": NEW_PASSWORD, "unexpected": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "unknown fields are refused");
}

#[tokio::test]
async fn a_blank_or_oversized_login_id_is_refused() {
    let app = spawn_app().await;
    let (status, body) = forgot(&app, "  ").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["loginId"][0]["code"], "[blank]loginId",
        "{body}"
    );
    let (status, _) = forgot(&app, &"x".repeat(400)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_flood_from_one_address_is_refused_alike_for_known_and_unknown_accounts() {
    let app = spawn_app().await;
    app.put_delivery_settings(json!({"fraudGuard": {"perIp": {"max": 3, "windowSeconds": 3600}}}))
        .await;
    let (_, email) = user_with_email(&app, "jon").await;
    let mut statuses = Vec::new();
    for login_id in ["jon", "nobody", "jon", "nobody", "jon"] {
        statuses.push(forgot(&app, login_id).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let response = app
        .post_json("/api/user/forgot-password", &json!({"loginId": "jon"}))
        .await;
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["generalErrors"][0]["code"], "[TooManyRequests]",
        "{body}"
    );
    settle().await;
    assert_eq!(reset_emails_to(&app, &email).await.len(), 2);
}

#[tokio::test]
async fn accounts_without_an_address_or_deactivated_get_no_email_but_the_same_answer() {
    let app = spawn_app().await;
    app.create_user("kim", json!({})).await;
    let (id, email) = user_with_email(&app, "lou").await;
    let response = app
        .with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"active": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    assert_eq!(forgot(&app, "kim").await, (200, json!({})));
    assert_eq!(forgot(&app, "lou").await, (200, json!({})));
    settle().await;
    assert_eq!(reset_emails_to(&app, &email).await, Vec::<Value>::new());
    let events = app.audit("event=user.password_reset_request").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["by"], "none");
}

#[tokio::test]
async fn an_application_with_an_api_key_may_send_the_link_itself() {
    let app = spawn_app().await;
    let (_, email) = user_with_email(&app, "max").await;
    let ask = |login_id: &'static str, key: bool| {
        let request = if key {
            app.with_key(Method::POST, "/api/user/forgot-password")
        } else {
            app.client.post(app.url("/api/user/forgot-password"))
        };
        request.json(&json!({"loginId": login_id, "sendForgotPasswordEmail": false}))
    };

    let response = ask("max", true).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let link = body["changePasswordId"].as_str().unwrap().to_owned();
    assert!(body["expirationInstant"].as_i64().is_some());
    assert_eq!(ask("nobody", true).send().await.unwrap().status(), 404);
    // Without a key, `sendForgotPasswordEmail: false` is not obeyed: the email goes.
    let response = ask("max", false).send().await.unwrap();
    assert_eq!(response.json::<Value>().await.unwrap(), json!({}));
    link_sent_to(&app, &email, 1).await;

    assert_eq!(reset(&app, &link, NEW_PASSWORD).await.0, 200);
    let bad_key = app
        .client
        .post(app.url("/api/user/forgot-password"))
        .header("Authorization", "not a key")
        .json(&json!({"loginId": "max"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 401);
}

#[tokio::test]
async fn the_audit_log_tells_the_story_of_a_reset() {
    let app = spawn_app().await;
    let (_, email) = user_with_email(&app, "ned").await;
    forgot(&app, "ned").await;
    let link = link_sent_to(&app, &email, 1).await;
    reset(&app, &link, NEW_PASSWORD).await;
    reset(&app, &link, NEW_PASSWORD).await;

    let mut sentences = Vec::new();
    for kind in [
        EventKind::PasswordResetRequest,
        EventKind::PasswordReset,
        EventKind::PasswordResetFailure,
    ] {
        let said = app
            .core
            .admin
            .readable_audit_log(
                Some("ned"),
                &AuditFilter {
                    kind: Some(kind),
                    limit: 10,
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap();
        sentences.extend(said.into_iter().map(|s| s.sentence));
    }
    let text = serde_json::to_string(&app.audit("").await).unwrap();
    assert!(!text.contains(&link), "the link's secret is never logged");
    assert!(!text.contains(NEW_PASSWORD));
    assert_eq!(sentences.len(), 3, "{sentences:?}");
    assert!(
        sentences[0].starts_with("ned asked to reset a forgotten password: a link was sent to"),
        "{sentences:?}"
    );
    assert!(
        sentences[1].starts_with("ned reset their password by a link"),
        "{sentences:?}"
    );
    assert_eq!(
        sentences[2],
        "A link to reset ned's password was refused: the link was used already"
    );
}

/// The pages a person goes through: the request, the form the emailed link opens, the login.
mod pages {
    use super::*;
    use crate::web::{Browser, csrf_in, location};

    async fn ask_on_the_page(browser: &mut Browser, app: &TestApp, login_id: &str) -> String {
        let page = browser.get(app, "/forgot-password").await;
        assert_eq!(page.status(), 200);
        let csrf = csrf_in(&page.text().await.unwrap());
        let answer = browser
            .post(
                app,
                "/forgot-password",
                &[("csrf", &csrf), ("login_id", login_id)],
            )
            .await;
        assert_eq!(answer.status(), 200);
        answer.text().await.unwrap()
    }

    async fn submit_reset(
        browser: &mut Browser,
        app: &TestApp,
        path: &str,
        csrf: &str,
        new: &str,
        again: &str,
    ) -> reqwest::Response {
        let form = [
            ("csrf", csrf),
            ("username", "pat"),
            ("new_password", new),
            ("confirm_password", again),
        ];
        browser.post(app, path, &form).await
    }

    #[tokio::test]
    async fn the_login_page_leads_to_a_request_answered_alike_for_anyone() {
        let app = spawn_app().await;
        let (_, email) = user_with_email(&app, "ola").await;
        let mut browser = Browser::new();
        let login = browser.get(&app, "/login").await.text().await.unwrap();
        assert!(login.contains("href=\"/forgot-password\""));

        let known = ask_on_the_page(&mut browser, &app, "ola").await;
        let unknown = ask_on_the_page(&mut browser, &app, "nobody").await;
        let said = |html: &str| {
            html.split("id=\"reset-sent\">")
                .nth(1)
                .and_then(|rest| rest.split('<').next())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            said(&known).starts_with("If an account with this username"),
            "{known}"
        );
        assert_eq!(said(&known), said(&unknown));
        link_sent_to(&app, &email, 1).await;
    }

    #[tokio::test]
    async fn the_link_opens_a_form_that_sets_the_password_and_leads_to_the_login() {
        let app = spawn_app().await;
        let (_, email) = user_with_email(&app, "pat").await;
        forgot(&app, "pat").await;
        let link = link_sent_to(&app, &email, 1).await;
        let mut browser = Browser::new();
        let path = format!("/reset-password/{link}");
        let page = browser.get(&app, &path).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("For the account <strong>pat</strong>"),
            "{html}"
        );
        let csrf = csrf_in(&html);

        let mismatch = submit_reset(
            &mut browser,
            &app,
            &path,
            &csrf,
            NEW_PASSWORD,
            "something else",
        )
        .await;
        assert_eq!(mismatch.status(), 422);
        assert!(
            mismatch
                .text()
                .await
                .unwrap()
                .contains("The two new passwords are not the same.")
        );
        let weak = submit_reset(&mut browser, &app, &path, &csrf, "password1", "password1").await;
        assert_eq!(weak.status(), 422);
        assert!(
            weak.text()
                .await
                .unwrap()
                .contains("id=\"new_password-error\"")
        );

        let done = submit_reset(&mut browser, &app, &path, &csrf, NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(location(&done), "/login?reset=1");
        let login = browser
            .get(&app, "/login?reset=1")
            .await
            .text()
            .await
            .unwrap();
        assert!(login.contains("Your password is changed. Log in with the new one."));
        assert_eq!(
            location(&browser.log_in(&app, "pat", NEW_PASSWORD).await),
            "/"
        );

        // The link is spent: its page says so and offers a new one.
        let again = browser.get(&app, &path).await;
        assert_eq!(again.status(), 404);
        let html = again.text().await.unwrap();
        assert!(html.contains("This link was used already"), "{html}");
        assert!(html.contains("href=\"/forgot-password\""));
    }

    #[tokio::test]
    async fn a_mangled_link_says_so_on_its_page() {
        let app = spawn_app().await;
        let mut browser = Browser::new();
        for path in [
            "/reset-password/short",
            &format!("/reset-password/{}", "B".repeat(43)),
        ] {
            let page = browser.get(&app, path).await;
            assert_eq!(page.status(), 404, "{path}");
            assert!(
                page.text()
                    .await
                    .unwrap()
                    .contains("This link is not valid.")
            );
        }
    }
}
