//! Email verification: an address is proven by a link sent to it (one-time, 24 hours, voided
//! when the address awaiting verification changes) before it is a login id or a destination of
//! reset links. An administrator's address is verified at once only when they vouch for it
//! (`skipVerification`); a person's own new address waits beside the one in force until its
//! link is opened. The link's page verifies on a button's POST, never on the GET a mail scanner
//! makes. The API: `PUT /api/user/verify-email` (resend, or a `verificationId` for an
//! application that sends its own), `POST /api/user/verify-email/{verificationId}` and
//! `POST /api/user/verify-email` with `{verificationId}`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tessera::audit::{AuditFilter, EventKind};

use crate::helpers::{Cli, PASSWORD, TestApp, all_at_once, spawn_app, tally};
use crate::web::{Browser, csrf_in, location};

/// Creates `name` with the address `{name}@example.com`, set as an administrator sets one they
/// do not vouch for; answers the user's JSON.
async fn user_with_unverified_address(app: &TestApp, name: &str) -> Value {
    let response = app
        .with_key(Method::POST, "/api/user")
        .json(&json!({"user": {
            "username": name, "password": PASSWORD, "email": format!("{name}@example.com")
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["user"].clone()
}

pub(crate) fn address_of(name: &str) -> String {
    format!("{name}@example.com")
}

const VERIFY_SUBJECT: &str = "Verify your email address";

/// The outbox's verification emails to `to`, newest first.
pub(crate) async fn verification_emails_to(app: &TestApp, to: &str) -> Vec<Value> {
    app.emails_to(to, VERIFY_SUBJECT).await
}

/// Waits for the `count`th verification email to `to` and answers the secret of the link in
/// the newest.
pub(crate) async fn link_sent_to(app: &TestApp, to: &str, count: usize) -> String {
    app.link_emailed_to(to, VERIFY_SUBJECT, "/verify-email/", count)
        .await
}

pub(crate) async fn verify(app: &TestApp, id: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/api/user/verify-email/{id}")))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn user_json(app: &TestApp, id: &str) -> Value {
    let response = app
        .with_key(Method::GET, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["user"].clone()
}

async fn resend(app: &TestApp, query: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.with_key(Method::PUT, &format!("/api/user/verify-email{query}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) fn general_code(body: &Value) -> &str {
    body["generalErrors"][0]["code"]
        .as_str()
        .unwrap_or_default()
}

/// A browser logged in as `name` (no second factor: the login is recent enough for the
/// security pages).
pub(crate) async fn signed_in(app: &TestApp, name: &str) -> Browser {
    let mut browser = Browser::new();
    assert_eq!(location(&browser.log_in(app, name, PASSWORD).await), "/");
    browser
}

/// Asks for a new address on the security page; the response to the form.
pub(crate) async fn change_on_the_page(
    browser: &mut Browser,
    app: &TestApp,
    to: &str,
) -> reqwest::Response {
    let page = browser.get(app, "/security/address").await;
    assert_eq!(page.status(), 200);
    let csrf = csrf_in(&page.text().await.unwrap());
    browser
        .post(app, "/security/address", &[("csrf", &csrf), ("email", to)])
        .await
}

#[tokio::test]
async fn an_address_an_administrator_sets_is_no_login_id_until_its_link_is_opened() {
    let app = spawn_app().await;
    let ann = user_with_unverified_address(&app, "ann").await;
    assert_eq!(ann["verified"], false);
    assert!(ann.get("verifiedInstant").is_none());
    let email = address_of("ann");
    let id = link_sent_to(&app, &email, 1).await;
    let message = &verification_emails_to(&app, &email).await[0];
    assert_eq!(message["subject"], "Verify your email address for Tessera");
    assert!(message["body"].as_str().unwrap().contains("account ann"));
    assert!(
        message["body"]
            .as_str()
            .unwrap()
            .contains("within 24 hours")
    );

    assert_eq!(app.login(&email, PASSWORD).await.status(), 404);
    assert_eq!(
        app.login("ann", PASSWORD).await.status(),
        200,
        "the username still works"
    );

    assert_eq!(verify(&app, &id).await, (200, json!({})));
    let ann = user_json(&app, ann["id"].as_str().unwrap()).await;
    assert_eq!(ann["verified"], true);
    assert!(ann["verifiedInstant"].as_i64().is_some());
    assert_eq!(app.login(&email, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn an_address_the_administrator_vouches_for_is_verified_at_once_and_sent_nothing() {
    let app = spawn_app().await;
    let bo = app
        .create_user("bo", json!({"email": address_of("bo")}))
        .await;
    assert_eq!(bo["verified"], true);
    assert_eq!(app.login(&address_of("bo"), PASSWORD).await.status(), 200);
    // A new address, vouched for again by PATCH, is verified at once too.
    let response = app
        .with_key(
            Method::PATCH,
            &format!("/api/user/{}", bo["id"].as_str().unwrap()),
        )
        .json(&json!({"user": {"email": "bo.new@example.com"}, "skipVerification": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["user"]["verified"],
        true
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.outbox().await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_login_by_an_unverified_address_reads_as_one_by_an_unknown_id() {
    let app = spawn_app().await;
    user_with_unverified_address(&app, "cy").await;
    let right = app
        .login_json(json!({"loginId": address_of("cy"), "password": PASSWORD}))
        .await;
    let wrong = app
        .login_json(json!({"loginId": address_of("cy"), "password": "not the password"}))
        .await;
    let unknown = app
        .login_json(json!({"loginId": "nobody@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(right.0, 404);
    assert_eq!(right, unknown);
    assert_eq!(wrong, unknown);
    let events = app.audit("event=login.failure").await;
    let reasons: Vec<&str> = events
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| **r == "unverified_email").count(),
        2,
        "{reasons:?}"
    );
}

#[tokio::test]
async fn the_administrator_may_let_unverified_addresses_log_in() {
    let app = spawn_app().await;
    user_with_unverified_address(&app, "dee").await;
    let settings = |body: Value| {
        app.with_key(Method::PUT, "/api/system/accounts")
            .json(&body)
            .send()
    };
    let response = settings(json!({"accounts": {"unverifiedEmailLogin": true}}))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.login(&address_of("dee"), PASSWORD).await.status(), 200);
    let read: Value = app
        .with_key(Method::GET, "/api/system/accounts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        read,
        json!({"accounts": {
            "unverifiedEmailLogin": true, "selfRegistration": false, "registrationDomains": []
        }})
    );

    let refused = settings(json!({"accounts": {"unverifiedEmailLogins": true}}))
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "an unknown setting is refused");
    settings(json!({"accounts": {}})).await.unwrap();
    assert_eq!(
        app.login(&address_of("dee"), PASSWORD).await.status(),
        404,
        "refused again by default"
    );
}

#[tokio::test]
async fn reset_links_go_only_to_verified_addresses() {
    let app = spawn_app().await;
    user_with_unverified_address(&app, "eve").await;
    let email = address_of("eve");
    let link = link_sent_to(&app, &email, 1).await;
    let request = json!({"loginId": "eve"});
    let forgot = || app.post_json("/api/user/forgot-password", &request);
    let reset_emails = || async {
        app.outbox()
            .await
            .into_iter()
            .filter(|m| m["subject"].as_str().unwrap().contains("password"))
            .count()
    };

    assert_eq!(forgot().await.status(), 200);
    // By the unverified address itself: the same answer, as for an address nobody has.
    let by_address = app
        .post_json("/api/user/forgot-password", &json!({"loginId": email}))
        .await;
    assert_eq!(by_address.status(), 200);
    assert_eq!(by_address.json::<Value>().await.unwrap(), json!({}));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reset_emails().await, 0, "no link to an unverified address");
    let events = app.audit("event=user.password_reset_request").await;
    assert_eq!(events.len(), 1, "the address named no account: {events:?}");
    assert_eq!(events[0]["details"]["by"], "none");

    verify(&app, &link).await;
    assert_eq!(forgot().await.status(), 200);
    for _ in 0..100 {
        if reset_emails().await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reset link once the address is verified");
}

#[tokio::test]
async fn a_link_works_once_and_says_so_afterwards() {
    let app = spawn_app().await;
    user_with_unverified_address(&app, "fay").await;
    let link = link_sent_to(&app, &address_of("fay"), 1).await;
    assert_eq!(verify(&app, &link).await.0, 200);
    let (status, body) = verify(&app, &link).await;
    assert_eq!(status, 404);
    assert_eq!(general_code(&body), "[used]verificationId", "{body}");
}

#[tokio::test]
async fn a_link_expires_after_a_day_and_a_new_one_can_be_sent() {
    let app = spawn_app().await;
    let gus = user_with_unverified_address(&app, "gus").await;
    let link = link_sent_to(&app, &address_of("gus"), 1).await;
    // A day later, as the store sees it.
    sqlx::query("UPDATE email_links SET expires_at = expires_at - 86400000")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let (status, body) = verify(&app, &link).await;
    assert_eq!(status, 404);
    assert_eq!(general_code(&body), "[expired]verificationId", "{body}");
    assert_eq!(
        user_json(&app, gus["id"].as_str().unwrap()).await["verified"],
        false
    );

    assert_eq!(
        resend(&app, "?email=gus@example.com", None).await,
        (200, json!({}))
    );
    let fresh = link_sent_to(&app, &address_of("gus"), 2).await;
    assert_eq!(verify(&app, &fresh).await.0, 200);
}

#[tokio::test]
async fn a_new_address_voids_the_links_sent_to_the_one_before() {
    let app = spawn_app().await;
    let hal = user_with_unverified_address(&app, "hal").await;
    let old = link_sent_to(&app, &address_of("hal"), 1).await;
    let response = app
        .with_key(
            Method::PATCH,
            &format!("/api/user/{}", hal["id"].as_str().unwrap()),
        )
        .json(&json!({"user": {"email": "hal.new@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["user"]["verified"],
        false
    );

    let (status, body) = verify(&app, &old).await;
    assert_eq!(status, 404);
    assert_eq!(general_code(&body), "[voided]verificationId", "{body}");
    let new = link_sent_to(&app, "hal.new@example.com", 1).await;
    assert_eq!(verify(&app, &new).await.0, 200);
    assert_eq!(
        app.login("hal.new@example.com", PASSWORD).await.status(),
        200
    );
}

#[tokio::test]
async fn malformed_forged_and_missing_ids_are_refused_plainly_in_both_shapes() {
    let app = spawn_app().await;
    let (status, body) = verify(&app, "not-a-link").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["verificationId"][0]["code"], "[invalid]verificationId",
        "{body}"
    );
    let forged = "A".repeat(43);
    let (status, body) = verify(&app, &forged).await;
    assert_eq!(status, 404);
    assert_eq!(general_code(&body), "[notFound]verificationId", "{body}");
    assert_eq!(verify(&app, &"A".repeat(5000)).await.0, 400, "oversized");

    let app = &app;
    let newer = |body: Value| async move {
        app.client
            .post(app.url("/api/user/verify-email"))
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let response = newer(json!({"verificationId": forged})).await;
    assert_eq!(response.status(), 404);
    assert_eq!(newer(json!({})).await.status(), 400, "missing");
    assert_eq!(
        newer(json!({"verificationId": forged, "userId": "x"}))
            .await
            .status(),
        400,
        "unknown fields are refused"
    );

    user_with_unverified_address(app, "ida").await;
    let link = link_sent_to(app, &address_of("ida"), 1).await;
    let response = newer(json!({"verificationId": link})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.login(&address_of("ida"), PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_resend_takes_the_address_in_the_query_or_the_body_and_an_api_key() {
    let app = spawn_app().await;
    user_with_unverified_address(&app, "jan").await;
    link_sent_to(&app, &address_of("jan"), 1).await;

    assert_eq!(
        resend(&app, "?email=jan@example.com", None).await,
        (200, json!({}))
    );
    assert_eq!(
        resend(&app, "", Some(json!({"email": "JAN@example.com"}))).await,
        (200, json!({}))
    );
    let second = link_sent_to(&app, &address_of("jan"), 3).await;

    let (status, body) = resend(
        &app,
        "?email=jan@example.com",
        Some(json!({"email": "x@example.com"})),
    )
    .await;
    assert_eq!(status, 400, "two different addresses: {body}");
    let (status, body) = resend(&app, "", None).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["email"][0]["code"], "[blank]email",
        "{body}"
    );
    assert_eq!(resend(&app, "?email=not-an-address", None).await.0, 400);
    assert_eq!(resend(&app, "?email=nobody@example.com", None).await.0, 404);
    let anonymous = app
        .client
        .put(app.url("/api/user/verify-email?email=jan@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    assert_eq!(verify(&app, &second).await.0, 200);
    let (status, body) = resend(&app, "?email=jan@example.com", None).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["email"][0]["code"], "[verified]email",
        "{body}"
    );
}

#[tokio::test]
async fn an_application_that_sends_its_own_email_gets_the_verification_id() {
    let app = spawn_app().await;
    user_with_unverified_address(&app, "kai").await;
    link_sent_to(&app, &address_of("kai"), 1).await;
    let (status, body) = resend(
        &app,
        "?sendVerifyEmail=false",
        Some(json!({"email": "kai@example.com"})),
    )
    .await;
    assert_eq!(status, 200);
    let id = body["verificationId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        verification_emails_to(&app, &address_of("kai")).await.len(),
        1,
        "nothing more was sent"
    );
    assert_eq!(verify(&app, &id).await.0, 200);
}

#[tokio::test]
async fn the_same_link_used_twenty_times_at_once_verifies_once() {
    let app = spawn_app().await;
    user_with_unverified_address(&app, "lou").await;
    let link = link_sent_to(&app, &address_of("lou"), 1).await;
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url(&format!("/api/user/verify-email/{link}"));
            async move { client.post(url).send().await.unwrap().status().as_u16() }
        })
        .collect();
    assert_eq!(tally(&all_at_once(requests).await), "1×200, 19×404");
    let verified = app.audit("event=user.email_verified").await;
    assert_eq!(verified.len(), 1);
}

#[tokio::test]
async fn enrolling_email_codes_on_the_profile_address_verifies_it() {
    let app = spawn_app().await;
    let max = user_with_unverified_address(&app, "max").await;
    let id = max["id"].as_str().unwrap();
    let email = address_of("max");
    assert_eq!(app.send_enrollment(id, "email", &email).await.status(), 200);
    let code = app.code_sent_to(&email).await;
    let response = app
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "email", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(user_json(&app, id).await["verified"], true);
    let events = app.audit("event=user.email_verified").await;
    assert_eq!(events[0]["details"]["by"], "code");
}

#[tokio::test]
async fn the_page_of_a_link_verifies_only_when_its_button_is_pressed() {
    let app = spawn_app().await;
    let ned = user_with_unverified_address(&app, "ned").await;
    let link = link_sent_to(&app, &address_of("ned"), 1).await;
    let mut browser = Browser::new();

    // A mail scanner fetches the link: nothing changes.
    let page = browser.get(&app, &format!("/verify-email/{link}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Verify your email address — Tessera</title>"));
    assert!(html.contains("ned@example.com") && html.contains("<strong>ned</strong>"));
    assert_eq!(
        user_json(&app, ned["id"].as_str().unwrap()).await["verified"],
        false
    );

    let refused = browser
        .post(
            &app,
            &format!("/verify-email/{link}"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(
        refused.status(),
        403,
        "the button's form carries its CSRF token"
    );
    let pressed = browser
        .post(
            &app,
            &format!("/verify-email/{link}"),
            &[("csrf", &csrf_in(&html))],
        )
        .await;
    assert_eq!(pressed.status(), 200);
    assert!(
        pressed
            .text()
            .await
            .unwrap()
            .contains("is now the verified email address")
    );
    assert_eq!(
        user_json(&app, ned["id"].as_str().unwrap()).await["verified"],
        true
    );

    let again = browser.get(&app, &format!("/verify-email/{link}")).await;
    assert_eq!(again.status(), 404);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("This link was used already")
    );
    let forged = browser
        .get(&app, &format!("/verify-email/{}", "B".repeat(43)))
        .await;
    assert_eq!(forged.status(), 404);
    let malformed = browser.get(&app, "/verify-email/%3Cscript%3E").await;
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn an_import_verifies_only_the_addresses_it_says_are_verified_and_sends_nothing() {
    let app = spawn_app().await;
    let body = json!({"users": [
        {"username": "una", "email": "una@example.com", "verified": true},
        {"username": "vic", "email": "vic@example.com"},
    ]});
    let response = app
        .with_key(Method::POST, "/api/user/import")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let exported: Value = app
        .with_key(Method::GET, "/api/user/export")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verified: Vec<(&str, bool)> = exported["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap(),
                u["verified"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(verified, [("una", true), ("vic", false)]);
    assert_eq!(app.outbox().await, Vec::<Value>::new());
}

#[tokio::test]
async fn the_command_line_vouches_for_an_address_only_when_told_to() {
    let cli = Cli::new().await;
    cli.ok(&["migrate"], "");
    let said = cli.ok(
        &[
            "user",
            "create",
            "--username",
            "wes",
            "--email",
            "wes@example.com",
        ],
        "a long enough password\n",
    );
    assert!(
        said.contains("a link to verify wes@example.com was sent"),
        "{said}"
    );
    cli.ok(
        &[
            "user",
            "create",
            "--username",
            "xia",
            "--email",
            "xia@example.com",
            "--email-verified",
        ],
        "a long enough password\n",
    );
    let shown = cli.ok(&["user", "show", "wes"], "");
    assert!(shown.contains("email verified:      no"), "{shown}");
    let shown = cli.ok(&["user", "show", "xia"], "");
    assert!(shown.contains("email verified:      yes"), "{shown}");
    let settings = cli.ok(&["settings", "get", "accounts"], "");
    assert!(
        settings.contains("\"unverifiedEmailLogin\": false"),
        "{settings}"
    );
}

#[tokio::test]
async fn the_audit_log_tells_the_story_of_a_verification_and_never_holds_the_link() {
    let app = spawn_app().await;
    let yan = user_with_unverified_address(&app, "yan").await;
    let link = link_sent_to(&app, &address_of("yan"), 1).await;
    verify(&app, &link).await;
    verify(&app, &link).await;

    let mut sentences = Vec::new();
    for kind in [
        EventKind::EmailVerificationSent,
        EventKind::EmailVerified,
        EventKind::EmailVerificationFailure,
    ] {
        let said = app
            .core
            .admin
            .readable_audit_log(
                Some("yan"),
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
    assert_eq!(sentences.len(), 3, "{sentences:?}");
    assert!(
        sentences[0].starts_with("API key ak_")
            && sentences[0].ends_with(
                " set yan's email address to y•••@example.com: a link to verify it was sent there"
            ),
        "{sentences:?}"
    );
    assert_eq!(
        sentences[1..],
        [
            "yan verified the email address y•••@example.com by its link",
            "A link to verify yan's email address was refused: the link was used already",
        ]
    );
    let text = serde_json::to_string(&app.audit("").await).unwrap();
    assert!(!text.contains(&link), "the link's secret is never logged");
    assert_eq!(yan["verified"], false);
}

#[tokio::test]
async fn the_admin_page_shows_the_address_sends_its_link_again_and_may_vouch_for_it() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled", "apiLoginPolicy": "enabled"}))
        .await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    let abe = user_with_unverified_address(&app, "abe").await;
    let id = abe["id"].as_str().unwrap();
    let mut admin = Browser::new();
    admin.log_in(&app, "boss", PASSWORD).await;

    let page = admin.get(&app, &format!("/admin/users/{id}")).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("abe@example.com, not verified"), "{html}");
    assert!(html.contains("Send the link again"), "{html}");
    let csrf = csrf_in(&html);
    let sent = admin
        .post(
            &app,
            &format!("/admin/users/{id}/verify-email"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(location(&sent), format!("/admin/users/{id}?notice=link"));
    link_sent_to(&app, &address_of("abe"), 2).await;

    // The profile form saved with the box ticked vouches for the address.
    let saved = admin
        .post(
            &app,
            &format!("/admin/users/{id}"),
            &[
                ("csrf", &csrf),
                ("full_name", ""),
                ("email", "abe@example.com"),
                ("email_verified", "1"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(location(&saved), format!("/admin/users/{id}?notice=saved"));
    assert_eq!(user_json(&app, id).await["verified"], true);
    let html = admin
        .get(&app, &format!("/admin/users/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("abe@example.com, verified."), "{html}");
    assert!(!html.contains("Send the link again"));
}

#[tokio::test]
async fn the_openapi_document_describes_verification_and_the_accounts_settings() {
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
    let paths = &document["paths"];
    let resend = &paths["/api/user/verify-email"]["put"];
    assert_eq!(resend["security"], json!([{"apiKey": []}]));
    for status in ["200", "400", "404", "429"] {
        assert!(resend["responses"][status].is_object(), "{status}");
    }
    assert!(paths["/api/user/verify-email"]["post"].is_object());
    let verify = &paths["/api/user/verify-email/{verificationId}"]["post"];
    for status in ["200", "400", "404", "409"] {
        assert!(verify["responses"][status].is_object(), "{status}");
    }
    assert!(paths["/api/system/accounts"]["get"].is_object());
    assert!(paths["/api/system/accounts"]["put"].is_object());
    let user = &document["components"]["schemas"]["UserView"]["properties"];
    assert!(user["verified"].is_object(), "{user}");
}
