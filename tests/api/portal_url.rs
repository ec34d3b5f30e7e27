//! Where forward-auth sends a browser to log in: `forward_auth.portal_url`, else the public
//! URL, else the address the server listens on, with the port it was given for port 0.

use serde_json::json;
use tessera::proxies::TrustedProxies;

use crate::forward_auth::{header, no_redirects, rules_are};
use crate::helpers::{TestApp, spawn_app_with};

/// Traefik's question about a page load of `https://app.example.com/wiki`, without a session.
async fn page_load(app: &TestApp) -> reqwest::Response {
    no_redirects()
        .get(app.url("/api/authz/forward-auth"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "app.example.com")
        .header("X-Forwarded-Uri", "/wiki")
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
}

async fn portal_of(adjust: impl FnOnce(&mut tessera::config::Config)) -> (TestApp, String) {
    let app = spawn_app_with(|config| {
        config.trusted_proxies = TrustedProxies::parse(["127.0.0.1", "::1"]).unwrap();
        adjust(config);
    })
    .await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "policy": "one_factor"}]}),
    )
    .await;
    let answer = page_load(&app).await;
    assert_eq!(answer.status(), 302);
    let location = header(&answer, "location").unwrap();
    let portal = location
        .split_once("/login?rd=")
        .map(|(portal, _)| portal.to_owned())
        .unwrap_or_else(|| panic!("not the login: {location}"));
    (app, portal)
}

#[tokio::test]
async fn without_a_public_url_the_portal_is_where_the_server_listens_with_its_real_port() {
    // Listening on port 0 (as the browser tests do), the configuration alone says `:0`.
    let (app, portal) = portal_of(|config| config.public_url = None).await;
    assert_eq!(portal, app.address);
    assert!(!portal.ends_with(":0"), "{portal}");
}

#[tokio::test]
async fn the_portal_is_the_public_url_unless_the_configuration_names_another() {
    let (_, portal) = portal_of(|_| {}).await;
    assert_eq!(portal, "http://tessera.test");
    let (_, portal) = portal_of(|config| {
        config.forward_auth.portal_url = Some("https://login.tessera.test/".into());
    })
    .await;
    assert_eq!(portal, "https://login.tessera.test");
}
