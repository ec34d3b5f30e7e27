//! Sessions across subdomains: with `session.cookie_domain`, the portal (`auth.example.com`)
//! sets the session cookie on the parent domain, so that a protected site (`app.example.com`)
//! gets it and its proxy can ask forward-auth about it; a logout clears it there and ends the
//! session for every site, on every node within a second. Web sessions end when idle or past
//! their absolute limit; "Remember me" keeps one (and its cookie) longer.

use std::time::Duration;

use reqwest::header::SET_COOKIE;
use serde_json::json;
use tessera::config::Config;
use tessera::proxies::TrustedProxies;

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app_with};
use crate::web::{Browser, csrf_in, location};

/// The session cookie's name behind https on a parent domain.
const SHARED: &str = "__Secure-tessera_session";

/// The portal at `https://auth.example.com`, its cookie on `example.com`, behind a trusted proxy
/// (loopback), every site under `example.com` open to anyone signed in.
async fn portal_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_with(|config| {
        config.public_url = Some("https://auth.example.com".into());
        config.trusted_proxies = TrustedProxies::parse(["127.0.0.1", "::1"]).unwrap();
        config.session.cookie_domain = Some("example.com".into());
        adjust(config);
    })
    .await;
    let response = app
        .with_key(reqwest::Method::PUT, "/api/system/access-rules")
        .json(&json!({"accessRules": {"rules": [
            {"domain": ["*.example.com"], "policy": "one_factor"}
        ]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app
}

/// The `Set-Cookie` lines of a response.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The one line that sets or clears the cookie `name`.
fn line_of(lines: &[String], name: &str) -> String {
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with(&format!("{name}=")))
        .collect();
    assert_eq!(found.len(), 1, "one line for {name} in {lines:?}");
    found[0].clone()
}

/// Logs a new user `name` in on the login page (ticking "Remember me" when `remember`); the
/// browser, the login's `Set-Cookie` lines and the session cookie's value.
async fn log_in(app: &TestApp, name: &str, remember: bool) -> (Browser, Vec<String>, String) {
    app.create_user(name, json!({})).await;
    let mut browser = Browser::new();
    let page = browser.get(app, "/login").await.text().await.unwrap();
    let mut form = vec![
        ("csrf", csrf_in(&page)),
        ("username", name.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    if remember {
        form.push(("remember", "1".to_owned()));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = browser.post(app, "/login", &form).await;
    assert_eq!(location(&response), "/");
    let lines = set_cookies(&response);
    let session = browser
        .cookie(SHARED)
        .expect("the shared cookie")
        .to_owned();
    (browser, lines, session)
}

/// Traefik's question about a page of `app.example.com`, with the browser's `Cookie` header.
async fn ask(app: &TestApp, cookie: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/api/authz/forward-auth"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "app.example.com")
        .header("X-Forwarded-Uri", "/")
        .header("Accept", "text/html")
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Whether the proxy is told to let the request through as `user`, or to send the browser to
/// the portal's login.
async fn let_through(app: &TestApp, cookie: &str, user: &str) -> bool {
    let response = ask(app, cookie).await;
    match response.status().as_u16() {
        200 => {
            assert_eq!(response.headers()["Remote-User"], user);
            true
        }
        302 => {
            assert!(
                location_of(&response).starts_with("https://auth.example.com/login?rd="),
                "{}",
                location_of(&response)
            );
            false
        }
        other => panic!("forward-auth answered {other}"),
    }
}

fn location_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Polls (never times) until forward-auth sends the browser to log in: what a node remembers of
/// a cookie stands for at most a second; a slow machine gets room to spare.
async fn refused_within_seconds(app: &TestApp, cookie: &str, user: &str) -> bool {
    for _ in 0..40 {
        if !let_through(app, cookie, user).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn the_login_sets_the_session_cookie_on_the_parent_domain_and_a_protected_site_sees_it() {
    let app = portal_with(|_| {}).await;
    let (_, lines, session) = log_in(&app, "ann", false).await;
    let set = line_of(&lines, SHARED);
    for part in [
        "Domain=example.com",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert!(!set.contains("Max-Age"), "a browser-session cookie: {set}");
    // A host-only cookie of before is cleared (it could not be named `__Host-` otherwise).
    assert!(line_of(&lines, "__Host-tessera_session").contains("Max-Age=0"));
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("__Host-tessera_session=") && !l.contains("Max-Age=0")),
        "{lines:?}"
    );

    // `app.example.com`'s proxy passes the cookie the browser sends there.
    assert!(let_through(&app, &format!("{SHARED}={session}"), "ann").await);
    // Under any other name the cookie is no one's.
    assert!(!let_through(&app, &format!("__Host-tessera_session={session}"), "ann").await);

    let event = app.audit("event=login.success").await;
    assert!(
        event.iter().all(|e| e["details"]["rememberMe"].is_null()),
        "{event:?}"
    );
}

#[tokio::test]
async fn without_a_cookie_domain_the_session_cookie_stays_with_the_host() {
    let app = portal_with(|config| config.session.cookie_domain = None).await;
    app.create_user("ann", json!({})).await;
    let mut browser = Browser::new();
    let response = browser.log_in(&app, "ann", PASSWORD).await;
    let set = line_of(&set_cookies(&response), "__Host-tessera_session");
    assert!(!set.contains("Domain="), "{set}");
    assert!(browser.cookie(SHARED).is_none());
}

#[tokio::test]
async fn a_logout_clears_the_domain_cookie_and_ends_the_session_for_every_site_on_every_node() {
    let app = portal_with(|_| {}).await;
    let other = app.another_node().await;
    let (mut browser, _, session) = log_in(&app, "bob", false).await;
    let cookie = format!("{SHARED}={session}");
    assert!(let_through(&app, &cookie, "bob").await);
    // The other node now remembers the cookie's session for up to a second.
    assert!(let_through(&other, &cookie, "bob").await);

    let csrf = browser.csrf(&app).await;
    let out = browser.post(&app, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&out), "/login?out=1");
    let cleared = line_of(&set_cookies(&out), SHARED);
    for part in ["Domain=example.com", "Max-Age=0", "Secure"] {
        assert!(cleared.contains(part), "{part} in {cleared}");
    }
    assert!(cleared.starts_with(&format!("{SHARED}=;")), "{cleared}");

    // The node that logged out forgets at once; the other within a second.
    assert!(!let_through(&app, &cookie, "bob").await);
    assert!(refused_within_seconds(&other, &cookie, "bob").await);
}

#[tokio::test]
async fn an_idle_session_sends_the_browser_to_log_in_and_a_remembered_one_does_not() {
    let app = portal_with(|config| config.session.inactivity_timeout_seconds = 60).await;
    let (mut idle, _, idle_session) = log_in(&app, "cy", false).await;
    let (_, _, kept_session) = log_in(&app, "di", true).await;
    let idle_cookie = format!("{SHARED}={idle_session}");
    let kept_cookie = format!("{SHARED}={kept_session}");
    assert!(let_through(&app, &idle_cookie, "cy").await);
    assert!(let_through(&app, &kept_cookie, "di").await);

    // Used last 61 seconds ago: both sessions go back in time, as if nothing asked since.
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 61000")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    assert!(refused_within_seconds(&app, &idle_cookie, "cy").await);
    assert_eq!(location(&idle.get(&app, "/").await), "/login");
    // "Remember me" spares a session the inactivity timeout.
    assert!(let_through(&app, &kept_cookie, "di").await);
}

#[tokio::test]
async fn the_security_page_lists_no_idle_session() {
    let app = portal_with(|config| config.session.inactivity_timeout_seconds = 60).await;
    log_in(&app, "cy", false).await;
    let mut other = Browser::new();
    assert_eq!(location(&other.log_in(&app, "cy", PASSWORD).await), "/");
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 61000")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let mut now = Browser::new();
    assert_eq!(location(&now.log_in(&app, "cy", PASSWORD).await), "/");
    let page = now.get(&app, "/security").await.text().await.unwrap();
    let listed =
        page.matches("/security/sessions/end").count() + page.matches("(this one)").count();
    assert_eq!(listed, 1, "only this browser's: {page}");
}

#[tokio::test]
async fn a_session_is_recorded_as_used_at_most_once_a_minute() {
    // The default inactivity timeout (4 hours): the session stays live through the minute.
    let app = portal_with(|_| {}).await;
    let (_, _, session) = log_in(&app, "ed", false).await;
    let cookie = format!("{SHARED}={session}");
    let last_seen = || async {
        sqlx::query_scalar::<_, i64>("SELECT last_seen_at FROM sessions")
            .fetch_one(app.core.store.pool())
            .await
            .unwrap()
    };
    let opened = last_seen().await;
    assert!(let_through(&app, &cookie, "ed").await);
    assert_eq!(last_seen().await, opened, "no write within the minute");
    // 50 seconds on: still live, and its use is not recorded yet.
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 50000")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    tokio::time::sleep(tessera::sessions::RECENT_WEB_SESSION).await;
    assert!(let_through(&app, &cookie, "ed").await);
    assert_eq!(last_seen().await, opened - 50_000);
    // A minute on, the use is recorded.
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 10000")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    tokio::time::sleep(tessera::sessions::RECENT_WEB_SESSION).await;
    assert!(let_through(&app, &cookie, "ed").await);
    assert!(last_seen().await > opened - 1000, "the use is recorded");
}

#[tokio::test]
async fn a_session_past_its_absolute_limit_sends_the_browser_to_log_in() {
    let app = portal_with(|_| {}).await;
    let (mut browser, _, session) = log_in(&app, "flo", false).await;
    let cookie = format!("{SHARED}={session}");
    let (created, expires): (i64, i64) =
        sqlx::query_as("SELECT created_at, expires_at FROM sessions")
            .fetch_one(app.core.store.pool())
            .await
            .unwrap();
    assert_eq!(
        (expires - created) / 1000,
        12 * 3600,
        "absolute_timeout_seconds"
    );
    assert!(let_through(&app, &cookie, "flo").await);
    sqlx::query("UPDATE sessions SET expires_at = created_at")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    assert!(refused_within_seconds(&app, &cookie, "flo").await);
    assert_eq!(location(&browser.get(&app, "/").await), "/login");
}

#[tokio::test]
async fn remember_me_gives_the_cookie_and_the_session_its_length_through_the_second_factor() {
    let app = portal_with(|config| config.session.remember_me_seconds = 7 * 86_400).await;
    // With the password alone.
    let (_, lines, _) = log_in(&app, "gus", true).await;
    let set = line_of(&lines, SHARED);
    assert!(set.contains("Max-Age=604800"), "{set}");
    let event = app.audit("event=login.success").await;
    assert_eq!(event[0]["details"]["rememberMe"], true, "{event:?}");

    // With a code after the password: the choice waits with the pending login, on the server.
    let hal = app.create_user("hal", json!({})).await;
    let (secret, _) = app.enroll_authenticator(hal["id"].as_str().unwrap()).await;
    let mut browser = Browser::new();
    let page = browser.get(&app, "/login").await.text().await.unwrap();
    assert!(page.contains("name=\"remember\""), "the page offers it");
    let response = browser
        .post(
            &app,
            "/login",
            &[
                ("csrf", &csrf_in(&page)),
                ("username", "hal"),
                ("password", PASSWORD),
                ("remember", "1"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/login/code");
    assert!(
        set_cookies(&response)
            .iter()
            .all(|l| !l.starts_with(SHARED))
    );
    let prompt = browser.get(&app, "/login/code").await.text().await.unwrap();
    let method = prompt
        .split("name=\"method\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let done = browser
        .post(
            &app,
            "/login/code",
            &[
                ("csrf", &csrf_in(&prompt)),
                ("method", &method),
                // The next step: enrolling spent this one.
                ("code", &oathtool(&secret, 30)),
            ],
        )
        .await;
    assert_eq!(location(&done), "/");
    let set = line_of(&set_cookies(&done), SHARED);
    assert!(set.contains("Max-Age=604800"), "{set}");
    let lengths: Vec<i64> = sqlx::query_scalar(
        "SELECT (expires_at - created_at) / 1000 FROM sessions WHERE remembered = 1",
    )
    .fetch_all(app.core.store.pool())
    .await
    .unwrap();
    assert_eq!(lengths, [604_800, 604_800]);
}

#[tokio::test]
async fn remember_me_is_not_offered_when_switched_off_and_a_form_cannot_ask_for_it() {
    let app = portal_with(|config| config.session.remember_me_seconds = 0).await;
    let mut browser = Browser::new();
    let page = browser.get(&app, "/login").await.text().await.unwrap();
    assert!(!page.contains("name=\"remember\""));
    let (_, lines, _) = log_in(&app, "ida", true).await;
    assert!(!line_of(&lines, SHARED).contains("Max-Age"));
}

#[tokio::test]
async fn check_config_refuses_a_cookie_domain_the_public_url_is_not_under() {
    let cli = crate::helpers::Cli::new().await;
    let check = |domain: &str| {
        let output = cli
            .command()
            .arg("check-config")
            .env("TESSERA_PUBLIC_URL", "https://auth.example.com")
            .env("TESSERA_SESSION__COOKIE_DOMAIN", domain)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (ok, said) = check("example.org");
    assert!(!ok);
    assert!(
        said.contains("session.cookie_domain = \"example.org\" does not cover public_url"),
        "{said}"
    );
    let (ok, said) = check("com");
    assert!(!ok && said.contains("session.cookie_domain"), "{said}");
    let (ok, said) = check("example.com");
    assert!(ok, "{said}");
}
