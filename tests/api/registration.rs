//! Self-registration: off by default, and then `/register`, its form and
//! `POST /api/user/registration` answer 404 as paths that do not exist. On, a person makes an
//! account with a username, an email address and a password, by the rules of every account; the
//! account logs in only once the link emailed to the address is opened, and then the welcome
//! step and the two-factor policy apply as to any new account. A sign-up with an address that
//! has an account is answered alike, makes none and tells that address; a username taken is
//! said. Sign-ups are counted per client address.

use reqwest::Method;
use serde_json::{Value, json};
use tessera::audit::{AuditFilter, EventKind};

use crate::helpers::{PASSWORD, TestApp, all_at_once, spawn_app, tally};
use crate::web::{Browser, csrf_in, location};

const VERIFY_SUBJECT: &str = "Verify your email address";
const ALREADY_SUBJECT: &str = "You already have";

async fn put_account_settings(app: &TestApp, accounts: Value) -> reqwest::Response {
    app.with_key(Method::PUT, "/api/system/accounts")
        .json(&json!({ "accounts": accounts }))
        .send()
        .await
        .unwrap()
}

async fn open_registration(app: &TestApp) {
    let saved = put_account_settings(app, json!({"selfRegistration": true})).await;
    assert_eq!(saved.status(), 200);
}

async fn register_json(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app.post_json("/api/user/registration", &body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn register(app: &TestApp, username: &str, email: &str) -> (u16, Value) {
    register_json(
        app,
        json!({"user": {"username": username, "email": email, "password": PASSWORD}}),
    )
    .await
}

/// Every user's username, by the administrators' search.
async fn usernames(app: &TestApp) -> Vec<String> {
    let body: Value = app
        .with_key(Method::GET, "/api/user/search?limit=100")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut names: Vec<String> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn verify(app: &TestApp, link: &str) -> u16 {
    app.client
        .post(app.url(&format!("/api/user/verify-email/{link}")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn field_codes(body: &Value) -> Vec<String> {
    let mut codes: Vec<String> = body["fieldErrors"]
        .as_object()
        .map(|fields| {
            fields
                .values()
                .flat_map(|errors| errors.as_array().unwrap().iter())
                .map(|e| e["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    codes.sort();
    codes
}

#[tokio::test]
async fn off_by_default_every_path_answers_as_if_it_did_not_exist() {
    let app = spawn_app().await;
    let settings: Value = app
        .with_key(Method::GET, "/api/system/accounts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["accounts"]["selfRegistration"], false);
    assert_eq!(settings["accounts"]["registrationDomains"], json!([]));

    let mut browser = Browser::new();
    let login = browser.get(&app, "/login").await.text().await.unwrap();
    assert!(!login.contains("/register"), "no offer on the login page");
    assert_eq!(browser.get(&app, "/register").await.status(), 404);
    let csrf = csrf_in(&login);
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "eve"),
        ("email", "eve@example.com"),
        ("password", PASSWORD),
        ("confirm_password", PASSWORD),
    ];
    assert_eq!(browser.post(&app, "/register", &form).await.status(), 404);
    assert_eq!(
        browser
            .post(&app, "/register", &[("nonsense", "1")])
            .await
            .status(),
        404,
        "refused before its form (or its CSRF token) is read"
    );
    assert_eq!(register(&app, "eve", "eve@example.com").await.0, 404);
    assert_eq!(register_json(&app, json!({"bogus": 1})).await.0, 404);
    assert_eq!(usernames(&app).await, Vec::<String>::new());
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn an_account_made_by_sign_up_logs_in_once_its_address_is_verified() {
    let app = spawn_app().await;
    open_registration(&app).await;
    app.put_two_factor_settings(json!({"apiLoginPolicy": "required"}))
        .await;
    let (status, body) = register(&app, "ann", "ann@example.com").await;
    assert_eq!((status, &body), (200, &json!({})));
    assert_eq!(usernames(&app).await, ["ann"]);
    let first = app
        .link_emailed_to("ann@example.com", VERIFY_SUBJECT, "/verify-email/", 1)
        .await;
    let email = &app.emails_to("ann@example.com", VERIFY_SUBJECT).await[0];
    assert!(
        email["body"]
            .as_str()
            .unwrap()
            .starts_with("You signed up for the"),
        "{email}"
    );

    // Before the link: no session, whichever login id; a new link goes to the address.
    for login_id in ["ann", "ann@example.com"] {
        let (status, body) = app
            .login_json(json!({"loginId": login_id, "password": PASSWORD}))
            .await;
        let expected = if login_id == "ann" { 212 } else { 404 };
        assert_eq!(status, expected, "{login_id}: {body}");
    }
    let (status, body) = app
        .login_json(json!({"loginId": "ann", "password": "wrong password here"}))
        .await;
    assert_eq!(status, 404, "a wrong password still reads as one: {body}");
    let (_, body) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(body["sentTo"], "a•••@example.com");
    let latest = app
        .link_emailed_to("ann@example.com", VERIFY_SUBJECT, "/verify-email/", 3)
        .await;
    assert_ne!(first, latest);

    // The first link still works; then the account logs in, by the site's two-factor policy.
    assert_eq!(verify(&app, &first).await, 200);
    let (status, body) = app
        .login_json(json!({"loginId": "ann@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "the policy asks for a second factor: {body}");
    assert!(body["twoFactorId"].is_string());
    assert_eq!(
        body["methods"],
        json!([]),
        "none enrolled yet: enrolment is due"
    );

    let events = app.audit("event=user.register").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["outcome"], "created");
    let failures = app.audit("event=login.failure").await;
    assert!(
        failures
            .iter()
            .any(|e| e["details"]["reason"] == "email_not_verified"),
        "{failures:?}"
    );
}

#[tokio::test]
async fn the_welcome_step_and_the_pages_two_factor_policy_apply_after_verification() {
    let app = spawn_app().await;
    open_registration(&app).await;
    let saved = app
        .with_key(Method::PUT, "/api/system/welcome")
        .json(&json!({"welcome": {"termsVersion": 1, "termsText": "Be kind."}}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    register(&app, "wes", "wes@example.com").await;
    let link = app
        .link_emailed_to("wes@example.com", VERIFY_SUBJECT, "/verify-email/", 1)
        .await;
    assert_eq!(verify(&app, &link).await, 200);

    // The policy by default asks nobody without a method: the login completes, then the terms.
    let mut browser = Browser::new();
    let logged_in = browser.log_in(&app, "wes", PASSWORD).await;
    assert_eq!(location(&logged_in), "/");
    assert_eq!(location(&browser.get(&app, "/").await), "/welcome");

    // With two factors required on the pages, the same account must enrol first.
    app.put_two_factor_settings(json!({"webLoginPolicy": "required"}))
        .await;
    let mut browser = Browser::new();
    let logged_in = browser.log_in(&app, "wes", PASSWORD).await;
    assert_eq!(location(&logged_in), "/login/enroll");
}

#[tokio::test]
async fn an_address_in_use_is_answered_alike_makes_no_account_and_is_told() {
    let app = spawn_app().await;
    open_registration(&app).await;
    app.create_user("ann", json!({"email": "ann@example.com"}))
        .await;
    let fresh = register(&app, "newcomer", "newcomer@example.com").await;
    let in_use = register(&app, "bob", "ANN@example.com").await;
    assert_eq!(in_use, fresh, "the same answer");
    assert_eq!(usernames(&app).await, ["ann", "newcomer"]);
    let told = app
        .link_emailed_to("ann@example.com", ALREADY_SUBJECT, "/forgot-password", 1)
        .await;
    assert_eq!(told, "forgot-password");
    let note = &app.emails_to("ann@example.com", ALREADY_SUBJECT).await[0];
    assert!(
        note["body"]
            .as_str()
            .unwrap()
            .contains("the account ann already uses"),
        "{note}"
    );
    assert!(
        app.emails_to("ann@example.com", VERIFY_SUBJECT)
            .await
            .is_empty(),
        "no link to verify it for someone else"
    );
    let said = app
        .core
        .admin
        .readable_audit_log(
            Some("ann"),
            &AuditFilter {
                kind: Some(EventKind::UserRegister),
                limit: 10,
                ..AuditFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(said.len(), 1);
    assert_eq!(
        said[0].sentence,
        "Someone tried to sign up with ann's email address a•••@example.com: no account was \
         made, and the address was told"
    );
}

#[tokio::test]
async fn a_taken_username_is_said_whatever_the_address_and_tells_nobody() {
    let app = spawn_app().await;
    open_registration(&app).await;
    app.create_user("ann", json!({"email": "ann@example.com"}))
        .await;
    for email in ["someone@example.com", "ann@example.com"] {
        let (status, body) = register(&app, "ANN", email).await;
        assert_eq!(status, 400, "{email}");
        assert_eq!(field_codes(&body), ["[duplicate]user.username"], "{email}");
    }
    assert_eq!(usernames(&app).await, ["ann"]);
    assert!(app.outbox().await.is_empty(), "no email at all");
}

#[tokio::test]
async fn refused_fields_are_named_and_nothing_is_written() {
    let app = spawn_app().await;
    open_registration(&app).await;
    let refused = |user: Value| {
        let app = &app;
        async move { register_json(app, json!({ "user": user })).await }
    };
    let (status, body) = refused(json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        field_codes(&body),
        [
            "[blank]user.email",
            "[blank]user.password",
            "[blank]user.username"
        ]
    );
    let (_, body) = refused(json!({
        "username": "x".repeat(300), "email": "not an address", "password": "password"
    }))
    .await;
    assert_eq!(
        field_codes(&body),
        [
            "[breached]user.password",
            "[invalid]user.email",
            "[tooLong]user.username"
        ]
    );
    let (_, body) = refused(json!({
        "username": "ok", "email": format!("{}@example.com", "a".repeat(300)), "password": "short"
    }))
    .await;
    assert_eq!(
        field_codes(&body),
        ["[tooLong]user.email", "[tooShort]user.password"]
    );
    let (status, body) = refused(json!({
        "username": "ok", "email": "ok@example.com", "password": PASSWORD, "roles": ["admin"]
    }))
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("roles"),
        "names the field: {body}"
    );
    let (status, body) = register_json(
        &app,
        json!({"user": {"username": "ok", "email": "ok@example.com", "password": PASSWORD},
               "skipVerification": true}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("skipVerification"), "{body}");
    assert_eq!(usernames(&app).await, Vec::<String>::new());
    assert!(app.outbox().await.is_empty());
}

#[tokio::test]
async fn an_allow_list_of_domains_takes_only_its_addresses() {
    let app = spawn_app().await;
    let refused = put_account_settings(
        &app,
        json!({"selfRegistration": true, "registrationDomains": ["example.com", "not a domain"]}),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        field_codes(&body),
        ["[invalid]accounts.registrationDomains"]
    );
    let saved: Value = put_account_settings(
        &app,
        json!({"selfRegistration": true, "registrationDomains": ["Example.COM"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        saved["accounts"]["registrationDomains"],
        json!(["example.com"])
    );

    let (status, body) = register(&app, "out", "out@elsewhere.test").await;
    assert_eq!(status, 400);
    assert_eq!(field_codes(&body), ["[notAllowed]user.email"]);
    let (status, _) = register(&app, "sub", "sub@mail.example.com").await;
    assert_eq!(status, 400, "a subdomain is another domain");
    assert_eq!(register(&app, "inside", "inside@example.com").await.0, 200);
    assert_eq!(usernames(&app).await, ["inside"]);
}

#[tokio::test]
async fn a_flood_from_one_address_is_refused_with_when_to_try_again() {
    let app = spawn_app().await;
    open_registration(&app).await;
    app.put_delivery_settings(json!({"fraudGuard": {"perIp": {"max": 3, "windowSeconds": 3600}}}))
        .await;
    let mut statuses = Vec::new();
    for name in ["one", "two", "three", "four"] {
        statuses.push(register(&app, name, &format!("{name}@example.com")).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let response = app
        .post_json(
            "/api/user/registration",
            &json!({"user": {"username": "five", "email": "five@example.com", "password": PASSWORD}}),
        )
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["generalErrors"][0]["code"], "[TooManyRequests]");
    assert_eq!(usernames(&app).await, ["one", "three", "two"]);

    let mut browser = Browser::new();
    let page = browser.get(&app, "/register").await.text().await.unwrap();
    let form = [
        ("csrf", csrf_in(&page)),
        ("username", "six".to_owned()),
        ("email", "six@example.com".to_owned()),
        ("password", PASSWORD.to_owned()),
        ("confirm_password", PASSWORD.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = browser.post(&app, "/register", &form).await;
    assert_eq!(answer.status(), 429);
    assert!(answer.headers().get("retry-after").is_some());
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("Too many accounts were asked for from your network")
    );
}

#[tokio::test]
async fn the_same_username_twenty_times_at_once_makes_one_account() {
    let app = spawn_app().await;
    open_registration(&app).await;
    let requests = (0..20)
        .map(|i| {
            let client = app.client.clone();
            let url = app.url("/api/user/registration");
            async move {
                client
                    .post(url)
                    .json(&json!({"user": {
                        "username": "racer", "email": format!("racer{i}@example.com"),
                        "password": PASSWORD
                    }}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        })
        .collect();
    let statuses = all_at_once(requests).await;
    assert_eq!(tally(&statuses), "1×200, 19×400", "{statuses:?}");
    assert_eq!(usernames(&app).await, ["racer"]);
    let links: usize = app
        .outbox()
        .await
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().starts_with(VERIFY_SUBJECT))
        .count();
    assert_eq!(links, 1);
}

/// The page a person fills in.
mod pages {
    use super::*;

    async fn submit(browser: &mut Browser, app: &TestApp, fields: [&str; 4]) -> reqwest::Response {
        let page = browser.get(app, "/register").await;
        assert_eq!(page.status(), 200);
        let csrf = csrf_in(&page.text().await.unwrap());
        let [username, email, password, again] = fields;
        let form = [
            ("csrf", csrf.as_str()),
            ("username", username),
            ("email", email),
            ("password", password),
            ("confirm_password", again),
        ];
        browser.post(app, "/register", &form).await
    }

    fn error_beside(html: &str, field: &str) -> String {
        html.split(&format!("id=\"{field}-error\">"))
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn the_login_page_offers_the_form_which_says_each_error_beside_its_field() {
        let app = spawn_app().await;
        open_registration(&app).await;
        let mut browser = Browser::new();
        let login = browser.get(&app, "/login").await.text().await.unwrap();
        assert!(login.contains("href=\"/register\""), "{login}");

        let refused = submit(&mut browser, &app, ["", "nope", "password", "password"]).await;
        assert_eq!(refused.status(), 400);
        let html = refused.text().await.unwrap();
        assert_eq!(error_beside(&html, "username"), "A username is required.");
        assert!(error_beside(&html, "email").contains("is not an email address"));
        assert!(error_beside(&html, "password").starts_with("This password is too common"));
        assert!(html.contains("value=\"nope\""), "what was typed stays");

        let mismatch = submit(
            &mut browser,
            &app,
            ["pat", "pat@example.com", PASSWORD, "another passphrase"],
        )
        .await;
        assert_eq!(mismatch.status(), 400);
        let html = mismatch.text().await.unwrap();
        assert_eq!(
            error_beside(&html, "confirm_password"),
            "The two passwords are not the same."
        );
        assert!(!html.contains(PASSWORD), "a password is never shown back");
        assert_eq!(usernames(&app).await, Vec::<String>::new());

        let accepted = submit(
            &mut browser,
            &app,
            ["pat", "pat@example.com", PASSWORD, PASSWORD],
        )
        .await;
        assert_eq!(accepted.status(), 200);
        let html = accepted.text().await.unwrap();
        assert!(
            html.contains("Check your email: we sent a message to pat@example.com"),
            "{html}"
        );

        let early = browser.log_in(&app, "pat", PASSWORD).await;
        assert_eq!(early.status(), 403);
        assert!(early.text().await.unwrap().contains(
            "Verify your email address before you log in: we sent a new link to p•••@example.com"
        ));
        let link = app
            .link_emailed_to("pat@example.com", VERIFY_SUBJECT, "/verify-email/", 2)
            .await;
        assert_eq!(verify(&app, &link).await, 200);
        assert_eq!(location(&browser.log_in(&app, "pat", PASSWORD).await), "/");
    }

    #[tokio::test]
    async fn an_address_in_use_reads_on_the_page_as_a_new_one() {
        let app = spawn_app().await;
        open_registration(&app).await;
        app.create_user("ann", json!({"email": "ann@example.com"}))
            .await;
        let mut browser = Browser::new();
        let said = |html: &str| {
            html.split("id=\"register-sent\">")
                .nth(1)
                .and_then(|rest| rest.split(" to ").next())
                .unwrap_or_default()
                .to_owned()
        };
        let fresh = submit(
            &mut browser,
            &app,
            ["new", "new@example.com", PASSWORD, PASSWORD],
        )
        .await
        .text()
        .await
        .unwrap();
        let in_use = submit(
            &mut browser,
            &app,
            ["other", "ann@example.com", PASSWORD, PASSWORD],
        )
        .await
        .text()
        .await
        .unwrap();
        assert!(!said(&fresh).is_empty(), "{fresh}");
        assert_eq!(said(&fresh), said(&in_use));
        assert_eq!(usernames(&app).await, ["ann", "new"]);
    }
}
