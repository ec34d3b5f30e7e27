//! The web pages over plain HTTP: what a browser cannot show — headers, cookie flags, CSRF,
//! server-side state of the login step. (The flows themselves are driven in a real browser by
//! the tests in `e2e/`.)

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

/// A tiny browser: keeps cookies, does not follow redirects.
pub(crate) struct Browser {
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    set_cookie_lines: Vec<String>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            set_cookie_lines: Vec::new(),
        }
    }

    /// The value of a cookie the browser holds.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// The browser's cookies, as its `Cookie` header.
    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for line in response.headers().get_all(SET_COOKIE) {
            let line = line.to_str().unwrap().to_owned();
            let pair = line.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
            self.set_cookie_lines.push(line);
        }
    }

    pub(crate) async fn get(&mut self, app: &TestApp, path: &str) -> reqwest::Response {
        let response = self
            .client
            .get(app.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    pub(crate) async fn post(
        &mut self,
        app: &TestApp,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let response = self
            .client
            .post(app.url(path))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// The CSRF token of the forms this browser is shown now: on the home page, or on the login
    /// page where it is not signed in.
    pub(crate) async fn csrf(&mut self, app: &TestApp) -> String {
        let mut response = self.get(app, "/").await;
        if response.status().is_redirection() {
            response = self.get(app, &location(&response)).await;
        }
        csrf_in(&response.text().await.unwrap())
    }

    pub(crate) async fn log_in(
        &mut self,
        app: &TestApp,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = self.get(app, "/login").await;
        let csrf = csrf_in(&page.text().await.unwrap());
        self.post(
            app,
            "/login",
            &[
                ("csrf", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }
}

/// The value of the first `csrf` field of a page's forms.
pub(crate) fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn pages_carry_a_strict_content_security_policy_and_refuse_framing() {
    let app = spawn_app().await;
    let mut browser = Browser::new();
    let response = browser.get(&app, "/login").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
}

#[tokio::test]
async fn a_form_without_the_csrf_token_is_refused_and_logs_nobody_in() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let mut browser = Browser::new();
    browser.get(&app, "/login").await;
    let forged = browser
        .post(
            &app,
            "/login",
            &[
                ("csrf", "forged-token-forged-token-forged-token"),
                ("username", "ann"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert!(!browser.cookies.contains_key("tessera_session"));
    let missing = browser
        .post(
            &app,
            "/login",
            &[("username", "ann"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(missing.status(), 400);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_new_at_every_login() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let mut browser = Browser::new();
    let response = browser.log_in(&app, "ann", PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    let line = browser
        .set_cookie_lines
        .iter()
        .find(|l| l.starts_with("tessera_session="))
        .unwrap()
        .clone();
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Lax"),
        "{line}"
    );
    assert!(!line.contains("Secure"), "plain http on loopback");
    let first = browser.cookies["tessera_session"].clone();
    assert_eq!(browser.get(&app, "/").await.status(), 200);

    let mut again = Browser::new();
    again.log_in(&app, "ann", PASSWORD).await;
    assert_ne!(again.cookies["tessera_session"], first);

    // Logging out ends the session on the server, not only in the browser.
    let stolen = first.clone();
    let csrf = browser.csrf(&app).await;
    browser.post(&app, "/logout", &[("csrf", &csrf)]).await;
    let mut thief = Browser::new();
    thief.cookies.insert("tessera_session".into(), stolen);
    let response = thief.get(&app, "/").await;
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn a_web_session_and_an_api_session_are_each_used_only_their_own_way() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let mut browser = Browser::new();
    browser.log_in(&app, "ann", PASSWORD).await;
    let cookie = browser.cookies["tessera_session"].clone();

    // The pages' cookie is no refresh token: the API refuses it, and the web session stays.
    let refresh = app
        .post_json("/api/jwt/refresh", &json!({"refreshToken": cookie}))
        .await;
    assert_eq!(refresh.status(), 404);
    assert_eq!(browser.get(&app, "/").await.status(), 200);

    // An API session's refresh token is no session cookie.
    let api: serde_json::Value = app.login("ann", PASSWORD).await.json().await.unwrap();
    let mut stranger = Browser::new();
    stranger.cookies.insert(
        "tessera_session".into(),
        api["refreshToken"].as_str().unwrap().to_owned(),
    );
    let response = stranger.get(&app, "/").await;
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn behind_https_every_cookie_is_a_host_cookie_and_no_other_name_is_read() {
    let app = spawn_app_with(|c| c.public_url = Some("https://login.example.com".into())).await;
    app.create_user("ann", json!({})).await;
    let mut browser = Browser::new();
    let response = browser.log_in(&app, "ann", PASSWORD).await;
    assert_eq!(location(&response), "/");
    assert!(browser.set_cookie_lines.len() >= 2);
    // `__Host-`: the browser keeps such a cookie only when it is Secure, for Path=/ and without
    // a Domain, so a sibling subdomain can neither plant nor overwrite it.
    for line in &browser.set_cookie_lines {
        assert!(line.starts_with("__Host-tessera_"), "{line}");
        assert!(
            line.contains("; Secure") && line.contains("; Path=/"),
            "{line}"
        );
        assert!(!line.to_lowercase().contains("domain="), "{line}");
    }
    assert_eq!(browser.get(&app, "/").await.status(), 200);

    // The same session under the plain name, as another host could set it, is not read.
    let mut planted = Browser::new();
    planted.cookies.insert(
        "tessera_session".into(),
        browser.cookies["__Host-tessera_session"].clone(),
    );
    let response = planted.get(&app, "/").await;
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn behind_https_a_planted_cookie_cannot_force_a_login() {
    // Login CSRF: a sibling subdomain plants a cookie of its own choosing in the victim's
    // browser, then makes it post the login form with the attacker's credentials and a token
    // that fits that cookie.
    let app = spawn_app_with(|c| c.public_url = Some("https://login.example.com".into())).await;
    app.create_user("mallory", json!({})).await;
    let mut attacker = Browser::new();
    let page = attacker.get(&app, "/login").await;
    let token = csrf_in(&page.text().await.unwrap());
    let mut victim = Browser::new();
    victim.get(&app, "/login").await;
    for (name, value) in &attacker.cookies {
        // A sibling cannot set a `__Host-` cookie: it plants the plain name.
        let plain = name.trim_start_matches("__Host-").to_owned();
        victim.cookies.insert(plain, value.clone());
    }
    let forced = victim
        .post(
            &app,
            "/login",
            &[
                ("csrf", &token),
                ("username", "mallory"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forced.status(), 403);
    assert!(
        victim
            .cookies
            .keys()
            .all(|name| !name.ends_with("tessera_session"))
    );
}

#[tokio::test]
async fn a_csrf_token_fits_only_the_session_it_was_shown_to() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    app.create_user("mallory", json!({})).await;
    let mut victim = Browser::new();
    victim.log_in(&app, "ann", PASSWORD).await;
    let mut attacker = Browser::new();
    attacker.log_in(&app, "mallory", PASSWORD).await;

    // The token of one session with the cookies of another is refused.
    let attackers_token = attacker.csrf(&app).await;
    let response = victim
        .post(&app, "/logout", &[("csrf", &attackers_token)])
        .await;
    assert_eq!(response.status(), 403);

    // So is a token with every cookie but the session planted beside it (what a sibling
    // subdomain can do over plain http): a signed-in browser's forms fit only its session.
    let mut outsider = Browser::new();
    let page = outsider.get(&app, "/login").await;
    let token = csrf_in(&page.text().await.unwrap());
    for (name, value) in &outsider.cookies {
        victim.cookies.insert(name.clone(), value.clone());
    }
    let response = victim.post(&app, "/logout", &[("csrf", &token)]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(victim.get(&app, "/").await.status(), 200, "still signed in");

    // The victim's own token works.
    let own = victim.csrf(&app).await;
    let response = victim.post(&app, "/logout", &[("csrf", &own)]).await;
    assert_eq!(location(&response), "/login?out=1");
}

#[tokio::test]
async fn a_trusted_browser_gets_a_new_trust_cookie_at_each_login_and_the_cookie_alone_is_not_enough()
 {
    let app = spawn_app().await;
    let user = app.create_user("ann", json!({})).await;
    let (_, recovery) = app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    let mut browser = Browser::new();
    let response = browser.log_in(&app, "ann", PASSWORD).await;
    assert_eq!(location(&response), "/login/code");
    let page = browser.get(&app, "/login/code").await;
    let csrf = csrf_in(&page.text().await.unwrap());
    let response = browser
        .post(
            &app,
            "/login/code",
            &[("csrf", &csrf), ("code", &recovery[0]), ("trust", "on")],
        )
        .await;
    assert_eq!(location(&response), "/");
    let first = browser.cookies["tessera_trust"].clone();
    let id_line = browser
        .set_cookie_lines
        .iter()
        .find(|l| l.starts_with("tessera_browser="))
        .unwrap();
    assert!(id_line.contains("Max-Age=34560000"), "{id_line}");

    // After a restart of the browser (its session cookie gone) the trust spares the code, and
    // the trust cookie is a new one.
    browser.cookies.remove("tessera_session");
    let response = browser.log_in(&app, "ann", PASSWORD).await;
    assert_eq!(location(&response), "/");
    let second = browser.cookies["tessera_trust"].clone();
    assert_ne!(second, first);

    // The trust cookie copied alone, without the browser's id, spares nobody...
    let mut thief = Browser::new();
    thief.cookies.insert("tessera_trust".into(), second.clone());
    let response = thief.log_in(&app, "ann", PASSWORD).await;
    assert_eq!(location(&response), "/login/code");

    // ...and spends nothing: the owner is still spared.
    browser.cookies.remove("tessera_session");
    let response = browser.log_in(&app, "ann", PASSWORD).await;
    assert_eq!(location(&response), "/");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_read_the_same() {
    let app = spawn_app().await;
    app.create_user("ann", json!({})).await;
    let mut browser = Browser::new();
    let wrong = browser
        .log_in(&app, "ann", "not the password")
        .await
        .text()
        .await
        .unwrap();
    let unknown = browser
        .log_in(&app, "nobody", PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    let message = |html: &str| {
        html.split("role=\"alert\"")
            .nth(1)
            .map(|s| s.split('<').next().unwrap().to_owned())
    };
    assert_eq!(message(&wrong), message(&unknown));
    assert!(message(&wrong).unwrap().contains("not right"));
}

#[tokio::test]
async fn the_step_between_password_and_code_lives_on_the_server_and_expires() {
    let app = spawn_app().await;
    let user = app.create_user("bo", json!({})).await;
    app.enroll_authenticator(user["id"].as_str().unwrap()).await;
    let mut browser = Browser::new();
    let response = browser.log_in(&app, "bo", PASSWORD).await;
    assert_eq!(location(&response), "/login/code");
    assert_eq!(browser.get(&app, "/login/code").await.status(), 200);
    sqlx::query("UPDATE login_challenges SET expires_at = 0")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let response = browser.get(&app, "/login/code").await;
    assert_eq!(location(&response), "/login?expired=1");
    // Without the step's cookie there is no step at all.
    let response = Browser::new().get(&app, "/login/code").await;
    assert_eq!(location(&response), "/login?expired=1");
}

#[tokio::test]
async fn pages_behind_a_login_send_strangers_to_the_login_page() {
    let app = spawn_app().await;
    let mut browser = Browser::new();
    for path in [
        "/",
        "/security",
        "/security/authenticator",
        "/security/phone",
        "/security/reauth",
    ] {
        let response = browser.get(&app, path).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(location(&response), "/login", "{path}");
    }
}

#[tokio::test]
async fn malformed_or_oversized_forms_get_an_error_page_not_a_crash() {
    let app = spawn_app().await;
    let mut browser = Browser::new();
    browser.get(&app, "/login").await;
    let csrf = browser.csrf(&app).await;
    let huge = "x".repeat(100 * 1024);
    let response = browser
        .post(
            &app,
            "/login",
            &[("csrf", &csrf), ("username", &huge), ("password", "x")],
        )
        .await;
    assert_eq!(response.status(), 413);
    let response = browser
        .post(
            &app,
            "/login",
            &[
                ("csrf", &csrf),
                ("username", "a"),
                ("password", "b"),
                ("admin", "1"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("not filled in as expected")
    );
    let response = browser
        .post(
            &app,
            "/login",
            &[("csrf", &csrf), ("username", "a b\u{0}"), ("password", "")],
        )
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_admin_console_is_for_administrators_only() {
    let app = spawn_app().await;
    // An administrator with the password alone, as a server that chose so allows.
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled"}))
        .await;
    app.create_user("ann", json!({})).await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    let mut user = Browser::new();
    user.log_in(&app, "ann", PASSWORD).await;
    for path in [
        "/admin/users",
        "/admin/settings",
        "/admin/audit",
        "/admin/audit.csv",
    ] {
        assert_eq!(user.get(&app, path).await.status(), 403, "{path}");
    }
    let csrf = user.csrf(&app).await;
    let forged = user
        .post(
            &app,
            "/admin/settings",
            &[
                ("csrf", &csrf),
                ("web_login_policy", "disabled"),
                ("api_login_policy", "disabled"),
                ("trust_days", "30"),
                ("max_code_attempts", "5"),
                ("challenge_ttl_seconds", "300"),
            ],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        app.core
            .two_factor
            .two_factor_policy()
            .await
            .unwrap()
            .web_login_policy,
        tessera::policy::LoginPolicy::Enabled
    );

    let mut admin = Browser::new();
    admin.log_in(&app, "boss", PASSWORD).await;
    assert_eq!(admin.get(&app, "/admin/users").await.status(), 200);
    let csv = admin.get(&app, "/admin/audit.csv").await;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
}

#[tokio::test]
async fn the_admin_console_refuses_a_look_alike_username() {
    let app = spawn_app().await;
    // An administrator with the password alone, as a server that chose so allows.
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled"}))
        .await;
    app.create_user("admin", json!({"roles": ["admin"]})).await;
    let mut admin = Browser::new();
    admin.log_in(&app, "admin", PASSWORD).await;
    let csrf = admin.csrf(&app).await;
    for (look_alike, says) in [
        ("\u{430}dmin", "one script"),
        ("ad\u{200b}min", "U+200B"),
        ("\u{ff41}dmin", "already has this username"),
    ] {
        let page = admin
            .post(
                &app,
                "/admin/users",
                &[
                    ("csrf", &csrf),
                    ("username", look_alike),
                    ("email", ""),
                    ("password", PASSWORD),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(says), "{look_alike:?}: {says}");
    }
    assert_eq!(app.core.store.users().count_users().await.unwrap(), 1);
}

/// The outbox's page shows live codes: to a signed-in administrator, as the admin console is;
/// a stranger is sent to log in and a user is refused, even from this machine.
#[tokio::test]
async fn the_outbox_page_is_for_administrators() {
    let app = spawn_app().await;
    // An administrator with the password alone, as a server that chose so allows.
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled"}))
        .await;
    let ann = app.create_user("ann", json!({})).await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    let sent = app
        .with_key(reqwest::Method::POST, "/api/two-factor/send")
        .json(&json!({"method": "sms", "mobilePhone": "+14155550123", "userId": ann["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let code = app.code_sent_to("+14155550123").await;

    let stranger = Browser::new().get(&app, "/dev/outbox").await;
    assert_eq!(location(&stranger), "/login");
    let mut user = Browser::new();
    user.log_in(&app, "ann", PASSWORD).await;
    assert_eq!(user.get(&app, "/dev/outbox").await.status(), 403);
    let mut admin = Browser::new();
    admin.log_in(&app, "boss", PASSWORD).await;
    let page = admin.get(&app, "/dev/outbox").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(&code));
}
