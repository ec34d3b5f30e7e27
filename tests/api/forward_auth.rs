//! Forward-auth: a reverse proxy asks about each request it is about to pass on, and Tessera
//! answers from its access rules and the browser's session: through (with who it is), to the
//! login portal, to the code prompt, or no. Only a trusted proxy is answered; the portal sends a
//! browser back only to a site the rules name.

use reqwest::Method;
use serde_json::{Value, json};
use tessera::proxies::TrustedProxies;

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app, spawn_app_with};
use crate::oidc::way_back;
use crate::web::{Browser, csrf_in, location};

pub(crate) const APP: &str = "https://app.example.com";

/// A Tessera whose peer in these tests (loopback) is a trusted proxy.
pub(crate) async fn behind_a_proxy() -> TestApp {
    spawn_app_with(|config| {
        config.trusted_proxies = TrustedProxies::parse(["127.0.0.1", "::1"]).unwrap();
    })
    .await
}

pub(crate) async fn put_rules(app: &TestApp, rules: Value) -> (u16, Value) {
    let response = app
        .with_key(Method::PUT, "/api/system/access-rules")
        .json(&json!({ "accessRules": rules }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn rules_are(app: &TestApp, rules: Value) {
    let (status, body) = put_rules(app, rules).await;
    assert_eq!(status, 200, "{body}");
}

/// How a browser's request reaches the proxy.
#[derive(Clone, Copy)]
struct Visit<'a> {
    method: &'a str,
    /// The path and query on `APP`.
    uri: &'a str,
    /// The browser's session cookie.
    session: Option<&'a str>,
    /// A page load (`Accept: text/html`), else an API call (`Accept: application/json`).
    page: bool,
}

const PAGE: Visit<'static> = Visit {
    method: "GET",
    uri: "/",
    session: None,
    page: true,
};

fn with_browser_headers(
    request: reqwest::RequestBuilder,
    visit: Visit<'_>,
) -> reqwest::RequestBuilder {
    let accept = if visit.page {
        "text/html,application/xhtml+xml,*/*;q=0.8"
    } else {
        "application/json"
    };
    let request = request
        .header("Accept", accept)
        // A client pretending to be someone: the proxy passes the browser's headers along.
        .header("Remote-User", "admin")
        .header("Remote-Groups", "admins");
    match visit.session {
        Some(session) => request.header("Cookie", format!("tessera_session={session}")),
        None => request,
    }
}

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Traefik's or Caddy's question about `visit`.
async fn traefik(app: &TestApp, visit: Visit<'_>) -> reqwest::Response {
    let request = no_redirects()
        .get(app.url("/api/authz/forward-auth"))
        .header("X-Forwarded-Method", visit.method)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "app.example.com")
        .header("X-Forwarded-Uri", visit.uri)
        .header("X-Forwarded-For", "203.0.113.7");
    with_browser_headers(request, visit).send().await.unwrap()
}

/// nginx's question about `visit`.
async fn nginx(app: &TestApp, visit: Visit<'_>) -> reqwest::Response {
    let request = no_redirects()
        .get(app.url("/api/authz/auth-request"))
        .header("X-Original-Method", visit.method)
        .header("X-Original-URL", format!("{APP}{}", visit.uri))
        .header("X-Forwarded-For", "203.0.113.7");
    with_browser_headers(request, visit).send().await.unwrap()
}

pub(crate) fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// A browser signed in as a new user `name` (with the password alone), and the user's id.
async fn signed_in(app: &TestApp, name: &str, extra: Value) -> (Browser, String, String) {
    let user = app.create_user(name, extra).await;
    let mut browser = Browser::new();
    let logged_in = browser.log_in(app, name, PASSWORD).await;
    assert_eq!(location(&logged_in), "/");
    let session = browser.cookie("tessera_session").unwrap().to_owned();
    (browser, session, user["id"].as_str().unwrap().to_owned())
}

pub(crate) fn escaped(url: &str) -> String {
    form_urlencoded::byte_serialize(url.as_bytes()).collect()
}

#[tokio::test]
async fn a_signed_in_person_is_let_through_with_who_they_are_and_never_who_the_client_claims() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["*.example.com"], "policy": "one_factor"}]}),
    )
    .await;
    let (_, session, ann) = signed_in(
        &app,
        "ann",
        json!({"fullName": "Ann Lee", "email": "ann@example.com"}),
    )
    .await;
    for group in ["staff", "wiki editors"] {
        let made = app
            .with_key(Method::POST, "/api/group")
            .json(&json!({"group": {"name": group}}))
            .send()
            .await
            .unwrap();
        let id = made.json::<Value>().await.unwrap()["group"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let added = app
            .with_key(Method::POST, "/api/group/member")
            .json(&json!({"members": {id: [{"userId": ann}]}}))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), 200);
    }

    let visit = Visit {
        session: Some(&session),
        ..PAGE
    };
    for answer in [traefik(&app, visit).await, nginx(&app, visit).await] {
        assert_eq!(answer.status(), 200);
        assert_eq!(header(&answer, "remote-user").as_deref(), Some("ann"));
        assert_eq!(
            header(&answer, "remote-groups").as_deref(),
            Some("staff,wiki editors")
        );
        assert_eq!(header(&answer, "remote-name").as_deref(), Some("Ann Lee"));
        assert_eq!(
            header(&answer, "remote-email").as_deref(),
            Some("ann@example.com")
        );
    }
}

#[tokio::test]
async fn the_header_names_are_the_configuration_s() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = TrustedProxies::parse(["127.0.0.1", "::1"]).unwrap();
        config.forward_auth.headers.user = "X-Auth-User".into();
    })
    .await;
    rules_are(&app, json!({"defaultPolicy": "one_factor"})).await;
    let (_, session, _) = signed_in(&app, "ann", json!({})).await;
    let answer = traefik(
        &app,
        Visit {
            session: Some(&session),
            ..PAGE
        },
    )
    .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(header(&answer, "x-auth-user").as_deref(), Some("ann"));
    assert_eq!(header(&answer, "remote-user"), None);
}

#[tokio::test]
async fn a_bypass_lets_anyone_through_with_every_header_empty() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "path": ["^/public/"], "policy": "bypass"}]}),
    )
    .await;
    let visit = Visit {
        uri: "/public/logo.png",
        ..PAGE
    };
    for answer in [traefik(&app, visit).await, nginx(&app, visit).await] {
        assert_eq!(answer.status(), 200);
        for name in [
            "remote-user",
            "remote-groups",
            "remote-name",
            "remote-email",
        ] {
            assert_eq!(header(&answer, name).as_deref(), Some(""), "{name}");
        }
    }
    let climbing_out = traefik(
        &app,
        Visit {
            uri: "/public/../admin",
            ..PAGE
        },
    )
    .await;
    assert_eq!(
        climbing_out.status(),
        403,
        "the path is read as the application will read it"
    );
}

#[tokio::test]
async fn without_a_session_a_page_load_goes_to_the_portal_and_anything_else_hears_401() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "policy": "one_factor"}]}),
    )
    .await;
    let portal = format!(
        "http://tessera.test/login?rd={}",
        escaped(&format!("{APP}/wiki?page=1"))
    );
    let page = Visit {
        uri: "/wiki?page=1",
        ..PAGE
    };

    let answer = traefik(&app, page).await;
    assert_eq!(answer.status(), 302);
    assert_eq!(location_of(&answer), portal);
    let form = traefik(
        &app,
        Visit {
            method: "POST",
            ..page
        },
    )
    .await;
    assert_eq!(form.status(), 303, "a form's POST goes on with a GET");
    assert_eq!(location_of(&form), portal);
    let api = traefik(
        &app,
        Visit {
            page: false,
            ..page
        },
    )
    .await;
    assert_eq!(api.status(), 401);
    assert_eq!(header(&api, "location"), None);
    let xhr = no_redirects()
        .get(app.url("/api/authz/forward-auth"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "app.example.com")
        .header("X-Forwarded-Uri", "/wiki")
        .header("Accept", "text/html")
        .header("X-Requested-With", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(xhr.status(), 401);

    // nginx passes on only 2xx, 401 and 403: its recipe sends a 401 with a Location on.
    let answer = nginx(&app, page).await;
    assert_eq!(answer.status(), 401);
    assert_eq!(location_of(&answer), portal);
    let api = nginx(
        &app,
        Visit {
            page: false,
            ..page
        },
    )
    .await;
    assert_eq!(api.status(), 401);
    assert_eq!(header(&api, "location"), None);
}

fn location_of(response: &reqwest::Response) -> String {
    header(response, "location").unwrap_or_default()
}

#[tokio::test]
async fn a_denial_is_403_and_a_signed_in_person_s_is_audited_with_its_rule() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"defaultPolicy": "one_factor", "rules": [
            {"domain": ["app.example.com"], "path": ["^/admin(/|$)"], "subject": ["group:admins"], "policy": "one_factor"},
            {"domain": ["app.example.com"], "path": ["^/admin(/|$)"], "policy": "deny"}
        ]}),
    )
    .await;
    let admin = Visit {
        uri: "/admin/users?token=secret",
        ..PAGE
    };
    let anonymous = traefik(&app, admin).await;
    assert_eq!(
        anonymous.status(),
        302,
        "who it is decides: the person logs in first"
    );
    let (_, session, ann) = signed_in(&app, "ann", json!({})).await;
    let visit = Visit {
        session: Some(&session),
        ..admin
    };
    for answer in [traefik(&app, visit).await, nginx(&app, visit).await] {
        assert_eq!(answer.status(), 403);
        assert_eq!(header(&answer, "remote-user"), None);
    }
    let told = app.audit("event=forward_auth.deny").await;
    assert_eq!(told.len(), 2, "{told:?}");
    assert_eq!(told[0]["target"], ann);
    assert_eq!(
        told[0]["details"],
        json!({"host": "app.example.com", "path": "/admin/users", "rule": 1}),
        "the path without its query, which may carry a secret"
    );
    assert_eq!(told[0]["ipAddress"], "203.0.113.7", "{:?}", told[0]);

    let closed = traefik(&app, Visit { uri: "/", ..PAGE }).await;
    assert_eq!(closed.status(), 302);
    rules_are(&app, json!({})).await;
    let refused = traefik(&app, Visit { uri: "/", ..PAGE }).await;
    assert_eq!(refused.status(), 403, "the default policy is deny");
    assert_eq!(
        app.audit("event=forward_auth.deny").await.len(),
        2,
        "an anonymous refusal is not audited"
    );
}

#[tokio::test]
async fn a_peer_that_is_no_trusted_proxy_is_refused_whatever_its_headers_say() {
    let app = spawn_app().await;
    rules_are(&app, json!({"defaultPolicy": "bypass"})).await;
    for answer in [traefik(&app, PAGE).await, nginx(&app, PAGE).await] {
        assert_eq!(answer.status(), 403);
        assert_eq!(header(&answer, "remote-user"), None);
        let said = answer.text().await.unwrap();
        assert!(said.contains("add this proxy's address"), "{said}");
        assert!(said.contains("trusted_proxies"), "{said}");
    }
}

#[tokio::test]
async fn headers_that_do_not_read_are_a_400_that_names_them() {
    let app = behind_a_proxy().await;
    rules_are(&app, json!({"defaultPolicy": "bypass"})).await;
    let ask = |pairs: Vec<(&'static str, &'static str)>, path: &'static str| {
        let mut request = no_redirects().get(app.url(path));
        for (name, value) in pairs {
            request = request.header(name, value);
        }
        async move {
            let answer = request.send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    let traefik_headers = |skip: &str, odd: Option<(&'static str, &'static str)>| {
        let mut pairs: Vec<(&'static str, &'static str)> = [
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "app.example.com"),
            ("X-Forwarded-Uri", "/"),
        ]
        .into_iter()
        .filter(|(name, _)| *name != skip)
        .collect();
        pairs.extend(odd);
        pairs
    };
    for (pairs, said) in [
        (
            traefik_headers("X-Forwarded-Host", None),
            "X-Forwarded-Host is missing",
        ),
        (
            traefik_headers("X-Forwarded-Proto", Some(("X-Forwarded-Proto", "gopher"))),
            "X-Forwarded-Proto is \"gopher\"",
        ),
        (
            traefik_headers("X-Forwarded-Uri", Some(("X-Forwarded-Uri", "wiki"))),
            "X-Forwarded-Uri is \"wiki\"",
        ),
        (
            traefik_headers("X-Forwarded-Method", Some(("X-Forwarded-Method", "G(ET"))),
            "is not an HTTP method",
        ),
    ] {
        let (status, text) = ask(pairs, "/api/authz/forward-auth").await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(said), "{said}: {text}");
    }
    for (pairs, said) in [
        (
            vec![("X-Original-Method", "GET")],
            "X-Original-URL is missing",
        ),
        (
            vec![
                ("X-Original-Method", "GET"),
                ("X-Original-URL", "/relative"),
            ],
            "is not an absolute URL",
        ),
    ] {
        let (status, text) = ask(pairs, "/api/authz/auth-request").await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(said), "{said}: {text}");
    }
}

#[tokio::test]
async fn a_change_of_the_rules_applies_at_once_and_a_bad_one_changes_nothing() {
    let app = behind_a_proxy().await;
    let node_b = app.another_node().await;
    rules_are(&app, json!({"defaultPolicy": "bypass"})).await;
    assert_eq!(traefik(&app, PAGE).await.status(), 200);
    assert_eq!(traefik(&node_b, PAGE).await.status(), 200);

    let (status, body) = put_rules(
        &app,
        json!({"rules": [{"networks": ["10.0.0/8"], "policy": "deny"}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let error = &body["fieldErrors"]["accessRules.rules[0].networks[0]"][0];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("rules[0].networks[0]: \"10.0.0/8\" is not a network (CIDR"),
        "{body}"
    );
    assert_eq!(traefik(&app, PAGE).await.status(), 200, "nothing changed");

    let deny = json!({"defaultPolicy": "bypass",
                      "rules": [{"domain": ["app.example.com"], "policy": "deny"}]});
    rules_are(&app, deny.clone()).await;
    assert_eq!(
        traefik(&app, PAGE).await.status(),
        403,
        "this node: at once"
    );
    let read = app
        .with_key(Method::GET, "/api/system/access-rules")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(read["accessRules"], deny);
    // Another node reads the document again once its copy is a second old.
    let mut seen = 0;
    for _ in 0..50 {
        seen = traefik(&node_b, PAGE).await.status().as_u16();
        if seen == 403 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 403, "the other node applies the change too");
}

#[tokio::test]
async fn the_portal_sends_the_browser_back_to_the_site_after_the_login() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "policy": "one_factor"}]}),
    )
    .await;
    app.create_user("ann", json!({})).await;
    let back = format!("{APP}/wiki?page=1&x=a+b");
    let mut browser = Browser::new();
    let page = browser
        .get(&app, &format!("/login?rd={}", escaped(&back)))
        .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains("will not be sent back"), "{html}");
    assert!(browser.cookie("tessera_return").is_some());
    let logged_in = browser
        .post(
            &app,
            "/login",
            &[
                ("csrf", &csrf_in(&html)),
                ("username", "ann"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&logged_in), "/");
    let home = browser.get(&app, "/").await;
    assert_eq!(location(&home), "/forward-auth/continue");
    let to = way_back(browser.get(&app, "/forward-auth/continue").await).await;
    assert_eq!(to, back);
    assert!(
        browser.cookie("tessera_return").is_none(),
        "the way back is spent"
    );
    assert_eq!(
        location(&browser.get(&app, "/").await),
        "",
        "then the home page is the home page"
    );

    // Signed in already: straight there.
    let again = browser
        .get(&app, &format!("/login?rd={}", escaped(&back)))
        .await;
    assert_eq!(again.status(), 303);
    assert_eq!(location(&again), back);
}

#[tokio::test]
async fn the_portal_sends_a_browser_back_nowhere_else() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "policy": "one_factor"}]}),
    )
    .await;
    let (mut signed_in_browser, _, _) = signed_in(&app, "ann", json!({})).await;
    for evil in [
        "https://evil.example/",
        "//evil.example",
        "https://app.example.com.evil.example/",
        "https://app.example.com@evil.example/",
        "javascript:alert(document.cookie)",
        "http://app.example.com/",
        "/admin/users",
    ] {
        let mut browser = Browser::new();
        let page = browser
            .get(&app, &format!("/login?rd={}", escaped(evil)))
            .await;
        assert_eq!(page.status(), 200, "{evil}");
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("you will not be sent back to the address you came from"),
            "{evil}"
        );
        assert!(browser.cookie("tessera_return").is_none(), "{evil}");
        let signed = signed_in_browser
            .get(&app, &format!("/login?rd={}", escaped(evil)))
            .await;
        assert_eq!(location(&signed), "/", "{evil}");
    }
}

#[tokio::test]
async fn plain_http_is_a_way_back_only_for_a_domain_the_configuration_allows() {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = TrustedProxies::parse(["127.0.0.1"]).unwrap();
        config.forward_auth.allow_http_domains = vec!["*.lan".into()];
    })
    .await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["*.lan", "app.example.com"], "policy": "one_factor"}]}),
    )
    .await;
    let (mut browser, _, _) = signed_in(&app, "ann", json!({})).await;
    let lan = browser
        .get(&app, &format!("/login?rd={}", escaped("http://wiki.lan/")))
        .await;
    assert_eq!(location(&lan), "http://wiki.lan/");
    let app_http = browser
        .get(
            &app,
            &format!("/login?rd={}", escaped("http://app.example.com/")),
        )
        .await;
    assert_eq!(location(&app_http), "/");
}

#[tokio::test]
async fn a_two_factor_rule_asks_a_one_factor_session_for_a_code_then_lets_it_through() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "policy": "two_factor"}]}),
    )
    .await;
    let (mut browser, session, ann) = signed_in(&app, "ann", json!({})).await;
    // The authenticator comes after this login: the session has one factor.
    let (totp, _) = app.enroll_authenticator(&ann).await;
    let visit = Visit {
        uri: "/vault",
        session: Some(&session),
        ..PAGE
    };
    let step_up = format!(
        "/forward-auth/step-up?rd={}",
        escaped(&format!("{APP}/vault"))
    );

    let answer = traefik(&app, visit).await;
    assert_eq!(answer.status(), 302);
    assert_eq!(
        location_of(&answer),
        format!("http://tessera.test{step_up}")
    );
    assert_eq!(
        traefik(
            &app,
            Visit {
                page: false,
                ..visit
            }
        )
        .await
        .status(),
        401
    );
    let answer = nginx(&app, visit).await;
    assert_eq!(answer.status(), 401);
    assert_eq!(
        location_of(&answer),
        format!("http://tessera.test{step_up}")
    );

    let page = browser.get(&app, &step_up).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("app.example.com asks for your second factor"),
        "{html}"
    );
    assert!(
        !html.contains("name=\"password\""),
        "the code, not the password"
    );
    let wrong = browser
        .post(
            &app,
            "/forward-auth/step-up",
            &[("csrf", &csrf_in(&html)), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(
        traefik(&app, visit).await.status(),
        302,
        "a wrong code proves nothing"
    );

    let proved = browser
        .post(
            &app,
            "/forward-auth/step-up",
            &[("csrf", &csrf_in(&html)), ("code", &oathtool(&totp, 30))],
        )
        .await;
    assert_eq!(location(&proved), "/forward-auth/continue");
    let to = way_back(browser.get(&app, "/forward-auth/continue").await).await;
    assert_eq!(to, format!("{APP}/vault"));
    let through = traefik(&app, visit).await;
    assert_eq!(through.status(), 200);
    assert_eq!(header(&through, "remote-user").as_deref(), Some("ann"));
    assert_eq!(
        browser.cookie("tessera_session"),
        Some(session.as_str()),
        "the same session, stepped up"
    );
    let told = app.audit("event=login.step_up").await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["details"]["site"], "app.example.com");

    // Two factors now: the step-up page sends the browser straight back.
    let straight = browser.get(&app, &step_up).await;
    assert_eq!(location(&straight), format!("{APP}/vault"));
}

#[tokio::test]
async fn the_step_up_page_refuses_a_way_back_elsewhere() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "policy": "two_factor"}]}),
    )
    .await;
    let (mut browser, _, _) = signed_in(&app, "ann", json!({})).await;
    let page = browser
        .get(
            &app,
            &format!(
                "/forward-auth/step-up?rd={}",
                escaped("https://evil.example/")
            ),
        )
        .await;
    assert_eq!(page.status(), 400);
    assert!(browser.cookie("tessera_return").is_none());
    let mut stranger = Browser::new();
    let to_login = stranger
        .get(
            &app,
            &format!("/forward-auth/step-up?rd={}", escaped(&format!("{APP}/"))),
        )
        .await;
    assert_eq!(
        location(&to_login),
        format!("/login?rd={}", escaped(&format!("{APP}/")))
    );
}

#[tokio::test]
async fn the_command_line_reads_and_replaces_the_rules_and_names_a_bad_rule_s_field() {
    let cli = crate::helpers::Cli::new().await;
    let shown: Value =
        serde_json::from_str(&cli.ok(&["settings", "get", "access_rules"], "")).unwrap();
    assert_eq!(
        shown["access_rules"],
        json!({"defaultPolicy": "deny", "rules": []})
    );
    let refused = cli.fails(
        &["settings", "set", "access-rules"],
        r#"{"rules": [{"policy": "bypass"}, {"subject": ["bob"], "policy": "deny"}]}"#,
    );
    assert!(
        refused.contains("rules[1].subject[0]: \"bob\" is not a subject"),
        "{refused}"
    );
    cli.ok(
        &["settings", "set", "access_rules"],
        r#"{"defaultPolicy": "one_factor", "rules": [{"domain": ["*.example.com"], "policy": "two_factor"}]}"#,
    );
    let shown: Value =
        serde_json::from_str(&cli.ok(&["settings", "get", "access-rules"], "")).unwrap();
    assert_eq!(shown["access-rules"]["rules"][0]["policy"], "two_factor");
}

#[tokio::test]
async fn check_config_names_a_bad_entry_of_the_forward_auth_section() {
    let cli = crate::helpers::Cli::new().await;
    let checked = cli
        .command()
        .arg("check-config")
        .env("TESSERA_FORWARD_AUTH__ALLOW_HTTP_DOMAINS", "wiki.lan, *")
        .output()
        .unwrap();
    assert!(!checked.status.success());
    let said = String::from_utf8(checked.stderr).unwrap();
    assert!(
        said.contains("forward_auth.allow_http_domains[1]: \"*\" is not a domain"),
        "{said}"
    );
}
