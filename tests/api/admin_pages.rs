//! The admin console's actions that cannot be undone ask first: a reset of two-factor and the
//! end of all of a user's sessions happen only when the question's own form answers it, with
//! the page's CSRF token. Anything else, an old form or a forged one, does nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::web::{Browser, location};

/// A server whose administrator `boss` is signed in on the pages, and a user `bob`.
async fn console() -> (TestApp, Browser, String, String) {
    let app = spawn_app().await;
    // An administrator with the password alone, as a server that chose so allows.
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled", "apiLoginPolicy": "enabled"}))
        .await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    let bob = app.create_user("bob", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut admin = Browser::new();
    admin.log_in(&app, "boss", PASSWORD).await;
    let csrf = admin.csrf(&app).await;
    (app, admin, bob, csrf)
}

/// A page's text as a reader sees it: askama writes an apostrophe as `&#39;`.
async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap().replace("&#39;", "'")
}

async fn validates(app: &TestApp, token: &str) -> bool {
    app.client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        == StatusCode::OK
}

#[tokio::test]
async fn a_two_factor_reset_is_asked_first_and_done_only_when_confirmed() {
    let (app, mut admin, bob, csrf) = console().await;
    app.enroll_authenticator(&bob).await;
    let path = format!("/admin/users/{bob}/reset-2fa");

    let question = admin.get(&app, &path).await;
    assert_eq!(question.status(), 200);
    let html = text(question).await;
    assert!(html.contains("Reset bob's two-factor?"), "{html}");
    assert!(html.contains("Authenticator app (Phone)"), "{html}");

    // The old form of the user page, a forged answer, an empty one: asked again, nothing done.
    for answer in [None, Some("no"), Some("")] {
        let mut form = vec![("csrf", csrf.as_str()), ("reason", "lost phone")];
        if let Some(answer) = answer {
            form.push(("confirm", answer));
        }
        let response = admin.post(&app, &path, &form).await;
        assert_eq!(response.status(), 200, "{answer:?}");
        let html = text(response).await;
        assert!(html.contains("Reset bob's two-factor?"), "{answer:?}");
        assert!(html.contains("value=\"lost phone\""), "the reason is kept");
        assert_eq!(app.methods_of(&bob).await.len(), 1, "{answer:?}");
    }
    assert!(app.audit("event=two_factor.reset").await.is_empty());

    // Confirmed without a reason: the question again, with why.
    let response = admin
        .post(
            &app,
            &path,
            &[("csrf", &csrf), ("reason", ""), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("say why"));
    assert_eq!(app.methods_of(&bob).await.len(), 1);

    // Confirmed with the page's token: done.
    let response = admin
        .post(
            &app,
            &path,
            &[
                ("csrf", &csrf),
                ("reason", "lost phone"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(
        location(&response),
        format!("/admin/users/{bob}?notice=reset")
    );
    assert!(app.methods_of(&bob).await.is_empty());
    let resets = app.audit("event=two_factor.reset").await;
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0]["details"]["reason"], "lost phone");

    // The audit log names both users and says it in a sentence, the details as text.
    let log = text(admin.get(&app, "/admin/audit?event=two_factor.reset").await).await;
    assert!(
        log.contains("boss reset bob's two-factor: lost phone"),
        "{log}"
    );
    assert!(log.contains("reason: lost phone"), "{log}");
    assert!(!log.contains("user:"), "no user is named by id: {log}");
}

#[tokio::test]
async fn ending_all_sessions_is_asked_first_and_done_only_when_confirmed() {
    let (app, mut admin, bob, csrf) = console().await;
    let login: Value = app.login("bob", PASSWORD).await.json().await.unwrap();
    let token = login["token"].as_str().unwrap();
    let path = format!("/admin/users/{bob}/revoke-sessions");

    let html = text(admin.get(&app, &path).await).await;
    assert!(html.contains("End all of bob's sessions?"), "{html}");

    for answer in [None, Some("no")] {
        let mut form = vec![("csrf", csrf.as_str())];
        if let Some(answer) = answer {
            form.push(("confirm", answer));
        }
        let response = admin.post(&app, &path, &form).await;
        assert_eq!(response.status(), 200, "{answer:?}");
        assert!(
            validates(&app, token).await,
            "{answer:?}: bob is still logged in"
        );
    }

    // A form from elsewhere, without the page's token, is refused before anything.
    let forged = admin
        .post(&app, &path, &[("csrf", "forged"), ("confirm", "yes")])
        .await;
    assert_eq!(forged.status(), 403);
    assert!(validates(&app, token).await);

    let response = admin
        .post(&app, &path, &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(
        location(&response),
        format!("/admin/users/{bob}?notice=sessions")
    );
    assert!(
        !validates(&app, token).await,
        "bob is logged out everywhere"
    );
}

/// What the user page says of `user`'s phone: its "Verified phone" line, and the profile's
/// number when the page shows it apart.
async fn phone_lines(app: &TestApp, admin: &mut Browser, user: &str) -> (String, Option<String>) {
    let html = text(admin.get(app, &format!("/admin/users/{user}")).await).await;
    let line = |id: &str| {
        let start = html.find(&format!("<p id=\"{id}\">"))? + id.len() + 9;
        Some(html[start..][..html[start..].find("</p>")?].to_owned())
    };
    (
        line("verified-phone").expect("a verified phone line"),
        line("profile-phone"),
    )
}

#[tokio::test]
async fn the_verified_phone_is_a_number_a_phone_method_holds_and_a_reset_leaves_it_unverified() {
    let (app, mut admin, _bob, csrf) = console().await;
    let ray = app
        .create_user("ray", json!({"mobilePhone": "+13035550177"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let profile = "Profile phone: +13035550177, not verified (no phone method sends codes to it)";

    // Typed into the profile, confirmed by no code: shown, but not as verified.
    assert_eq!(
        phone_lines(&app, &mut admin, &ray).await,
        ("Verified phone: none".into(), Some(profile.into()))
    );

    // A text method confirmed by a code on that number: now codes go there.
    app.enroll_sms(&ray, "+13035550177").await;
    assert_eq!(
        phone_lines(&app, &mut admin, &ray).await,
        ("Verified phone: +13035550177".into(), None)
    );

    // An administrator resets the second factor: the profile keeps the number, no method holds
    // it, and the page no longer calls it verified.
    let reset = admin
        .post(
            &app,
            &format!("/admin/users/{ray}/reset-2fa"),
            &[
                ("csrf", &csrf),
                ("reason", "lost phone"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(location(&reset), format!("/admin/users/{ray}?notice=reset"));
    assert_eq!(
        phone_lines(&app, &mut admin, &ray).await,
        ("Verified phone: none".into(), Some(profile.into()))
    );

    // The API says the same in its own fields: the profile's mobilePhone, and no method.
    let user: Value = app
        .with_key(reqwest::Method::GET, &format!("/api/user/{ray}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["user"]["mobilePhone"], "+13035550177", "{user}");
    assert_eq!(user["user"]["twoFactor"]["methods"], json!([]), "{user}");
}

/// An application named in the address that is not registered is a page that says so, for its
/// page, its deletion question and each of its forms, and changes nothing.
#[tokio::test]
async fn an_unknown_application_in_the_console_is_not_found() {
    let (app, mut admin, _, csrf) = console().await;
    for path in ["/admin/clients/nope", "/admin/clients/nope/delete"] {
        let page = admin.get(&app, path).await;
        assert_eq!(page.status(), 404, "{path}");
        assert!(page.text().await.unwrap().contains("No such application."));
    }
    let edit = [
        ("csrf", csrf.as_str()),
        ("name", "Nope"),
        ("redirect_uris", "https://nope.example/cb"),
    ];
    let saved = admin.post(&app, "/admin/clients/nope", &edit).await;
    assert_eq!(saved.status(), 404);
    let rotated = admin
        .post(&app, "/admin/clients/nope/secret", &[("csrf", &csrf)])
        .await;
    assert_eq!(rotated.status(), 404);
    assert!(app.core.oidc.clients().await.unwrap().is_empty());
}
