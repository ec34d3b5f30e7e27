//! Who reaches an application: a client that names groups admits only their members and tells
//! it their groups; a third-party application is allowed once by the person, and asked again
//! for more; after a login, the way back to the client. The helpers are oidc.rs's.

use serde_json::{Value, json};
use tessera::audit::{Actor, Origin};
use tessera::clock::Instant;
use tessera::oidc::ClientSettings;

use crate::helpers::{PASSWORD, spawn_app};
use crate::oidc::{
    REDIRECT, authorize_path, client, code_form, param, trade, urlencode, userinfo, way_back,
};
use crate::web::{Browser, location};

#[tokio::test]
async fn a_client_that_names_groups_admits_their_members_and_tells_it_their_groups() {
    let app = spawn_app().await;
    let created: Value = app
        .with_key(reqwest::Method::POST, "/api/group")
        .json(&json!({"group": {"name": "staff"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let staff = created["group"]["id"].as_str().unwrap().to_owned();
    let jo = app.create_user("jo", json!({})).await;
    app.create_user("kim", json!({})).await;
    let added = app
        .with_key(reqwest::Method::POST, "/api/group/member")
        .json(&json!({"members": {staff.clone(): [{"userId": jo["id"]}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let settings = ClientSettings {
        client_id: Some("intranet".into()),
        name: "Intranet".into(),
        confidential: true,
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![],
        scopes: None,
        allowed_groups: vec!["staff".into()],
        requires_second_factor: false,
        first_party: true,
        access_token_seconds: None,
        id_token_seconds: None,
        refresh_token_seconds: None,
        id_token_signed_response_alg: None,
    };
    let (view, secret) = app
        .core
        .oidc
        .create_client(&settings, Actor::Cli, &Origin::default(), Instant::now())
        .await
        .unwrap();
    assert_eq!(view.allowed_groups, vec![staff.clone()]);
    let path = format!(
        "/oauth2/authorize?response_type=code&client_id=intranet&redirect_uri={}\
         &scope=openid%20groups&state=g",
        urlencode(REDIRECT)
    );

    let mut member = Browser::new();
    member.get(&app, &path).await;
    member.log_in(&app, "jo", PASSWORD).await;
    member.get(&app, "/").await;
    let back = way_back(member.get(&app, "/oauth2/continue").await).await;
    let code = param(&back, "code").expect("a member gets a code");
    let (status, tokens) = trade(
        &app,
        "intranet",
        Some(&secret.as_ref().unwrap().0),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let keys = app.core.oidc.keys().await.unwrap();
    let id_token = keys.verify(tokens["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(id_token["groups"], json!(["staff"]));
    let (_, claims) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["groups"], json!(["staff"]));
    let member_secret = secret.unwrap().0;

    let mut stranger = Browser::new();
    stranger.get(&app, &path).await;
    stranger.log_in(&app, "kim", PASSWORD).await;
    stranger.get(&app, "/").await;
    let refused = way_back(stranger.get(&app, "/oauth2/continue").await).await;
    assert_eq!(param(&refused, "error").as_deref(), Some("access_denied"));
    assert!(!app.audit("event=oidc.access_refused").await.is_empty());

    // Taken out of the group, the member loses the application at its next refresh.
    let removed = app
        .with_key(
            reqwest::Method::DELETE,
            &format!(
                "/api/group/member?groupId={staff}&userId={}",
                jo["id"].as_str().unwrap()
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let (status, body) = trade(
        &app,
        "intranet",
        Some(&member_secret),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, _) = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 401, "the grant is revoked");
}

/// A browser holds the redirects that follow a form's POST to the form page's
/// Content-Security-Policy `form-action`: Tessera's pages say `'self'`, so a chain from the login
/// form's POST (`/login/code` → `/` → `/oauth2/continue`) that ended in a redirect to the
/// client's origin was blocked by Chromium (found with Apache's mod_auth_openidc,
/// e2e/tests/oidc-apache.test.mjs). The way back is a page that moves on by itself.
#[tokio::test]
async fn after_a_login_the_way_back_to_the_client_is_a_page_that_the_forms_csp_does_not_hold() {
    let app = spawn_app().await;
    let secret = client(&app, "wiki", false).await.unwrap();
    app.create_user("eve", json!({})).await;
    let mut browser = Browser::new();
    let asked = browser.get(&app, &authorize_path("wiki", "")).await;
    assert_eq!(location(&asked), "/login");
    let login = browser.get(&app, "/login").await;
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self'"), "{csp}");
    let logged_in = browser.log_in(&app, "eve", PASSWORD).await;
    assert_eq!(location(&logged_in), "/");
    let home = browser.get(&app, "/").await;
    assert_eq!(location(&home), "/oauth2/continue", "same origin: allowed");

    let back = browser.get(&app, "/oauth2/continue").await;
    let cleared = back
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().contains("tessera_authorize=;"));
    assert!(cleared, "the waiting request is forgotten");
    assert!(
        back.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let to = way_back(back).await;
    assert!(to.starts_with(&format!("{REDIRECT}?code=")), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("st4te"));
    let code = param(&to, "code").unwrap();
    let (status, tokens) = trade(&app, "wiki", Some(&secret), &code_form(&code)).await;
    assert_eq!(status, 200, "{tokens}");
    // A browser already signed in is still answered by a redirect: no form came before it.
    let again = browser.get(&app, &authorize_path("wiki", "")).await;
    assert!(location(&again).starts_with(REDIRECT));
}

#[tokio::test]
async fn a_third_party_application_is_allowed_once_by_the_person_and_asked_again_for_more() {
    let app = spawn_app().await;
    let settings = ClientSettings {
        client_id: Some("partner".into()),
        name: "Partner Tool".into(),
        confidential: true,
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![],
        scopes: None,
        allowed_groups: vec![],
        requires_second_factor: false,
        first_party: false,
        access_token_seconds: None,
        id_token_seconds: None,
        refresh_token_seconds: None,
        id_token_signed_response_alg: None,
    };
    app.core
        .oidc
        .create_client(&settings, Actor::Cli, &Origin::default(), Instant::now())
        .await
        .unwrap();
    app.create_user("lea", json!({})).await;
    let mut browser = Browser::new();
    let asked = browser.get(&app, &authorize_path("partner", "")).await;
    assert_eq!(location(&asked), "/login");
    browser.log_in(&app, "lea", PASSWORD).await;
    browser.get(&app, "/").await;
    let question = browser.get(&app, "/oauth2/continue").await;
    assert_eq!(location(&question), "/oauth2/consent");
    let page = browser.get(&app, "/oauth2/consent").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Allow Partner Tool?"), "{html}");
    assert!(html.contains("Your email address"), "{html}");
    let csrf = crate::web::csrf_in(&html);

    let denied = browser
        .post(
            &app,
            "/oauth2/consent",
            &[("csrf", &csrf), ("answer", "deny")],
        )
        .await;
    let back = way_back(denied).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));

    // Asked again, allowed: a code; the next sign-in is not asked.
    let again = browser.get(&app, &authorize_path("partner", "")).await;
    assert_eq!(location(&again), "/oauth2/consent");
    let csrf = crate::web::csrf_in(
        &browser
            .get(&app, "/oauth2/consent")
            .await
            .text()
            .await
            .unwrap(),
    );
    let allowed = browser
        .post(
            &app,
            "/oauth2/consent",
            &[("csrf", &csrf), ("answer", "allow")],
        )
        .await;
    assert!(param(&way_back(allowed).await, "code").is_some());
    let straight = browser.get(&app, &authorize_path("partner", "")).await;
    assert!(
        location(&straight).starts_with(REDIRECT),
        "allowed once, not asked again"
    );

    // More than was allowed, or prompt=consent, asks again; prompt=none says so.
    let more = browser
        .get(&app, &authorize_path("partner", "&prompt=consent"))
        .await;
    assert_eq!(location(&more), "/oauth2/consent");
    let silent = browser
        .get(
            &app,
            &format!(
                "/oauth2/authorize?response_type=code&client_id=partner&redirect_uri={}\
                 &scope=openid%20groups&prompt=none",
                urlencode(REDIRECT)
            ),
        )
        .await;
    assert_eq!(
        param(&location(&silent), "error").as_deref(),
        Some("consent_required")
    );
    assert!(!app.audit("event=oidc.consent_grant").await.is_empty());
}
