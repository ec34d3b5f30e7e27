//! Basic authentication at forward-auth, for clients without a browser: on a rule with
//! `basicAuth`, the username with the account password (one factor) or with an app password
//! made on the security pages (two factors, when made with a second factor). Wrong ones count
//! against the login limits; a revoked app password stops within a second.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tessera::limits::Limit;
use tessera::proxies::TrustedProxies;

use crate::forward_auth::{APP, behind_a_proxy, header, no_redirects, put_rules, rules_are};
use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app_with};
use crate::web::{Browser, location};

/// WebDAV asks two factors, the API one, both by Basic too; the rest one, by a session only.
fn rules() -> Value {
    json!({"rules": [
        {"domain": ["app.example.com"], "path": ["^/dav/"], "policy": "two_factor", "basicAuth": true},
        {"domain": ["app.example.com"], "path": ["^/api/"], "policy": "one_factor", "basicAuth": true},
        {"domain": ["app.example.com"], "policy": "one_factor"}
    ]})
}

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{secret}")))
}

/// Traefik's question about a client's request to `uri` with `authorization`, forged
/// `Remote-*` headers and all; `page`: a browser's page load, else an API client's call.
async fn ask(
    app: &TestApp,
    uri: &str,
    authorization: Option<&str>,
    page: bool,
) -> reqwest::Response {
    let mut request = no_redirects()
        .get(app.url("/api/authz/forward-auth"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "app.example.com")
        .header("X-Forwarded-Uri", uri)
        .header("X-Forwarded-For", "203.0.113.7")
        .header("Remote-User", "admin")
        .header("Remote-Groups", "admins")
        .header(
            "Accept",
            if page {
                "text/html"
            } else {
                "application/json"
            },
        );
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.send().await.unwrap()
}

/// nginx's question about the same.
async fn ask_nginx(app: &TestApp, uri: &str, authorization: &str) -> reqwest::Response {
    no_redirects()
        .get(app.url("/api/authz/auth-request"))
        .header("X-Original-Method", "GET")
        .header("X-Original-URL", format!("{APP}{uri}"))
        .header("X-Forwarded-For", "203.0.113.7")
        .header("Remote-User", "admin")
        .header("Accept", "application/json")
        .header("Authorization", authorization)
        .send()
        .await
        .unwrap()
}

/// `ann`, with an authenticator, signed in on a browser that re-authenticated with both
/// factors (as the security pages ask before a change).
async fn ann_with_two_factors(app: &TestApp) -> Browser {
    let user = app.create_user("ann", json!({"fullName": "Ann Lee"})).await;
    let mut browser = Browser::new();
    assert_eq!(location(&browser.log_in(app, "ann", PASSWORD).await), "/");
    let (totp, _) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    browser.get(app, "/security/reauth").await;
    let csrf = browser.csrf(app).await;
    let proved = browser
        .post(
            app,
            "/security/reauth",
            &[
                ("csrf", &csrf),
                ("password", PASSWORD),
                ("code", &oathtool(&totp, 30)),
            ],
        )
        .await;
    assert_eq!(proved.status(), 303, "{}", proved.text().await.unwrap());
    browser
}

/// Makes an app password named `name` on the security page: the secret shown.
async fn make_app_password(app: &TestApp, browser: &mut Browser, name: &str) -> String {
    let page = browser.get(app, "/security").await;
    assert_eq!(page.status(), 200);
    let csrf = browser.csrf(app).await;
    let made = browser
        .post(
            app,
            "/security/app-passwords",
            &[("csrf", &csrf), ("name", name)],
        )
        .await;
    assert_eq!(made.status(), 200);
    let html = made.text().await.unwrap();
    let secret = regex::Regex::new(r#"<code id="app-password">([a-z0-9-]+)</code>"#)
        .unwrap()
        .captures(&html)
        .unwrap_or_else(|| panic!("no app password shown: {html}"))[1]
        .to_owned();
    assert_eq!(secret.len(), 19, "4 groups of 4: {secret}");
    secret
}

#[tokio::test]
async fn an_app_password_made_on_the_security_page_opens_a_two_factor_rule_and_the_password_does_not()
 {
    let app = behind_a_proxy().await;
    rules_are(&app, rules()).await;
    let mut browser = ann_with_two_factors(&app).await;
    let secret = make_app_password(&app, &mut browser, "Phone mail app").await;

    let listed = browser.get(&app, "/security").await.text().await.unwrap();
    assert!(listed.contains("Phone mail app"), "{listed}");
    assert!(!listed.contains(&secret), "shown once, never again");
    assert!(
        !listed.contains(&secret.replace('-', "")),
        "shown once, never again"
    );

    let with_app_password = basic("ann", &secret);
    for answer in [
        ask(&app, "/dav/notes.txt", Some(&with_app_password), false).await,
        ask_nginx(&app, "/dav/notes.txt", &with_app_password).await,
        // Within the second, from the cache: the same answer.
        ask(&app, "/dav/notes.txt", Some(&with_app_password), false).await,
    ] {
        assert_eq!(answer.status(), 200);
        assert_eq!(header(&answer, "remote-user").as_deref(), Some("ann"));
        assert_eq!(header(&answer, "remote-name").as_deref(), Some("Ann Lee"));
        assert_eq!(header(&answer, "remote-groups").as_deref(), Some(""));
    }
    let typed = basic("ANN", &secret.replace('-', " ").to_uppercase());
    assert_eq!(
        ask(&app, "/dav/notes.txt", Some(&typed), false)
            .await
            .status(),
        200,
        "as a person may type it"
    );

    let with_password = basic("ann", PASSWORD);
    let refused = ask(&app, "/dav/notes.txt", Some(&with_password), false).await;
    assert_eq!(refused.status(), 401, "the password alone is one factor");
    assert_eq!(header(&refused, "remote-user"), None);
    assert!(
        header(&refused, "www-authenticate")
            .unwrap()
            .starts_with("Basic realm=\""),
        "{:?}",
        refused.headers()
    );
    let through = ask(&app, "/api/items", Some(&with_password), false).await;
    assert_eq!(
        through.status(),
        200,
        "a one_factor rule takes the password"
    );
    assert_eq!(header(&through, "remote-user").as_deref(), Some("ann"));
    assert_eq!(
        ask(&app, "/api/items", Some(&with_app_password), false)
            .await
            .status(),
        200,
        "and an app password"
    );

    // Ann's app password is hers alone.
    app.create_user("bob", json!({})).await;
    assert_eq!(
        ask(&app, "/dav/notes.txt", Some(&basic("bob", &secret)), false)
            .await
            .status(),
        401
    );

    let created = app.audit("event=app_password.create").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["details"]["name"], "Phone mail app");
    assert_eq!(created[0]["details"]["twoFactor"], true);
    assert!(!created[0].to_string().contains(&secret.replace('-', "")));
    let refusals = app.audit("event=forward_auth.basic_refused").await;
    assert!(
        refusals
            .iter()
            .any(|e| e["details"]["reason"] == "wrong_credentials"
                && e["details"]["host"] == "app.example.com"),
        "{refusals:?}"
    );
}

#[tokio::test]
async fn a_revoked_app_password_is_refused_within_a_second_and_its_use_is_shown() {
    let app = behind_a_proxy().await;
    let node_b = app.another_node().await;
    rules_are(&app, rules()).await;
    let mut browser = ann_with_two_factors(&app).await;
    let secret = make_app_password(&app, &mut browser, "Sync client").await;
    let credentials = basic("ann", &secret);
    for node in [&app, &node_b] {
        assert_eq!(
            ask(node, "/dav/a", Some(&credentials), false)
                .await
                .status(),
            200
        );
    }
    let listed = browser.get(&app, "/security").await.text().await.unwrap();
    let row = listed
        .split("<tr>")
        .find(|row| row.contains("Sync client"))
        .unwrap();
    assert!(row.contains("just now"), "its last use: {row}");
    let id = regex::Regex::new(r#"name="id" value="(ap_[0-9a-f]+)""#)
        .unwrap()
        .captures(row)
        .unwrap()[1]
        .to_owned();

    let csrf = browser.csrf(&app).await;
    let revoked = browser
        .post(
            &app,
            "/security/app-passwords/revoke",
            &[("csrf", &csrf), ("id", &id)],
        )
        .await;
    assert_eq!(location(&revoked), "/security?done=app-password-revoked");
    for node in [&app, &node_b] {
        let mut seen = 0;
        for _ in 0..20 {
            seen = ask(node, "/dav/a", Some(&credentials), false)
                .await
                .status()
                .as_u16();
            if seen == 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(seen, 401, "refused on every node within a second or so");
    }
    let listed = browser.get(&app, "/security").await.text().await.unwrap();
    assert!(!listed.contains("Sync client"), "{listed}");
    assert_eq!(app.audit("event=app_password.revoke").await.len(), 1);
}

#[tokio::test]
async fn a_rule_without_basic_auth_ignores_basic_credentials() {
    let app = behind_a_proxy().await;
    rules_are(&app, rules()).await;
    app.create_user("ann", json!({})).await;
    let with_password = basic("ann", PASSWORD);
    let page = ask(&app, "/wiki", Some(&with_password), true).await;
    assert_eq!(page.status(), 302, "to the portal, as before");
    let call = ask(&app, "/wiki", Some(&with_password), false).await;
    assert_eq!(call.status(), 401);
    assert_eq!(header(&call, "www-authenticate"), None, "no Basic offered");
    assert_eq!(header(&call, "remote-user"), None);

    // A rule that takes Basic asks a client for it, and sends a browser to the portal.
    let asked = ask(&app, "/api/items", None, false).await;
    assert_eq!(asked.status(), 401);
    assert_eq!(
        header(&asked, "www-authenticate").as_deref(),
        Some("Basic realm=\"Tessera\", charset=\"UTF-8\"")
    );
    assert_eq!(
        header(&asked, "remote-user"),
        None,
        "a forged Remote-User never passes"
    );
    assert_eq!(ask(&app, "/api/items", None, true).await.status(), 302);
}

#[tokio::test]
async fn wrong_basic_passwords_count_against_the_login_limits() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = TrustedProxies::parse(["127.0.0.1", "::1"]).unwrap();
        config.password_guard.per_account_and_ip = Limit {
            max: 3,
            window_seconds: 900,
        };
    })
    .await;
    rules_are(&app, rules()).await;
    app.create_user("ann", json!({})).await;
    for _ in 0..3 {
        let answer = ask(
            &app,
            "/api/items",
            Some(&basic("ann", "not the password")),
            false,
        )
        .await;
        assert_eq!(answer.status(), 401);
        assert!(header(&answer, "www-authenticate").is_some());
    }
    let held = ask(&app, "/api/items", Some(&basic("ann", PASSWORD)), false).await;
    assert_eq!(held.status(), 429, "even the right password waits");
    assert!(header(&held, "retry-after").is_some());
    let nginx = ask_nginx(&app, "/api/items", &basic("ann", PASSWORD)).await;
    assert_eq!(nginx.status(), 401, "nginx hears a 401 that says to wait");
    assert!(header(&nginx, "retry-after").is_some());

    // The login from the same address is over the same limit.
    let login = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("X-Forwarded-For", "203.0.113.7")
        .json(&json!({"loginId": "ann", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 429);
    let refusals = app.audit("event=forward_auth.basic_refused").await;
    assert_eq!(
        refusals
            .iter()
            .filter(|e| e["details"]["reason"] == "wrong_credentials")
            .count(),
        3,
        "{refusals:?}"
    );
}

#[tokio::test]
async fn basic_credentials_that_do_not_read_are_a_clear_401_never_a_500() {
    let app = behind_a_proxy().await;
    rules_are(&app, rules()).await;
    let long = basic("ann", &"x".repeat(3000));
    for (authorization, said) in [
        ("Basic !!!", "not base64"),
        (
            &*format!("Basic {}", STANDARD.encode("no colon")),
            "no colon",
        ),
        (&*long, "too long"),
        (
            &*format!("Basic {}", STANDARD.encode(":pw")),
            "need a username",
        ),
    ] {
        let answer = ask(&app, "/api/items", Some(authorization), false).await;
        assert_eq!(answer.status(), 401, "{said}");
        assert!(header(&answer, "www-authenticate").is_some());
        let text = answer.text().await.unwrap();
        assert!(text.contains(said), "{said}: {text}");
    }
    let nobody = ask(
        &app,
        "/api/items",
        Some(&basic("nobody", "whatever-it-is")),
        false,
    )
    .await;
    assert_eq!(nobody.status(), 401);
    let not_a_name = ask(&app, "/api/items", Some(&basic("a b;c", "whatever")), false).await;
    assert_eq!(not_a_name.status(), 401);
}

#[tokio::test]
async fn a_rule_for_basic_auth_must_be_a_login_rule_and_says_which() {
    let app = behind_a_proxy().await;
    let (status, body) = put_rules(
        &app,
        json!({"rules": [{"policy": "one_factor"}, {"policy": "bypass", "basicAuth": true}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let error = &body["fieldErrors"]["accessRules.rules[1].basicAuth"][0]["message"];
    assert!(
        error
            .as_str()
            .unwrap()
            .starts_with("rules[1].basicAuth: a bypass rule takes no credentials"),
        "{body}"
    );
    rules_are(&app, rules()).await;
    let read = app
        .with_key(reqwest::Method::GET, "/api/system/access-rules")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(read["accessRules"]["rules"], rules()["rules"]);
}

/// `ann`'s app password still opens the WebDAV rule, on `app`, within a second or so: whether
/// it does.
async fn still_opens(app: &TestApp, credentials: &str) -> bool {
    let mut status = 0;
    for _ in 0..20 {
        status = ask(app, "/dav/a", Some(credentials), false)
            .await
            .status()
            .as_u16();
        if status == 401 {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200);
    true
}

#[tokio::test]
async fn a_change_of_the_account_password_revokes_every_app_password() {
    let app = behind_a_proxy().await;
    rules_are(&app, rules()).await;
    let mut browser = ann_with_two_factors(&app).await;
    let first = basic(
        "ann",
        &make_app_password(&app, &mut browser, "Mail client").await,
    );
    let second = basic(
        "ann",
        &make_app_password(&app, &mut browser, "Calendar app").await,
    );
    for credentials in [&first, &second] {
        assert_eq!(
            ask(&app, "/dav/a", Some(credentials), false).await.status(),
            200
        );
    }

    // Ann's own change, from the security page, keeping her session.
    browser.get(&app, "/security/password").await;
    let csrf = browser.csrf(&app).await;
    let changed = browser
        .post(
            &app,
            "/security/password",
            &[
                ("csrf", csrf.as_str()),
                ("current_password", PASSWORD),
                ("new_password", "a fresh passphrase for ann"),
                ("confirm_password", "a fresh passphrase for ann"),
                ("keep_session", "on"),
            ],
        )
        .await;
    assert_eq!(changed.status(), 303, "{}", changed.text().await.unwrap());
    assert!(!still_opens(&app, &first).await);
    assert!(!still_opens(&app, &second).await);
    let listed = browser.get(&app, "/security").await.text().await.unwrap();
    assert!(
        !listed.contains("Mail client") && !listed.contains("Calendar app"),
        "{listed}"
    );
    let events = app.audit("event=user.password_change").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["appPasswordsRevoked"], 2, "{events:?}");

    // A password an administrator sets for her does the same.
    let third = basic(
        "ann",
        &make_app_password(&app, &mut browser, "Tablet").await,
    );
    assert_eq!(ask(&app, "/dav/a", Some(&third), false).await.status(), 200);
    let found: Value = app
        .with_key(reqwest::Method::GET, "/api/user?username=ann")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let set = app
        .with_key(
            reqwest::Method::PATCH,
            &format!("/api/user/{}", found["user"]["id"].as_str().unwrap()),
        )
        .json(&json!({"user": {"password": "an administrator's choice"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200, "{}", set.text().await.unwrap());
    assert!(!still_opens(&app, &third).await);
}
