//! The welcome step changes the account, so it comes only after the whole login: a password
//! alone, waiting for its second factor, can neither fill the profile nor accept the terms.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app};
use crate::web::{Browser, location};

async fn profile(app: &TestApp, id: &str) -> Value {
    app.with_key(reqwest::Method::GET, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["user"]
        .clone()
}

#[tokio::test]
async fn a_password_alone_cannot_answer_the_welcome_step_and_the_full_login_is_sent_to_it() {
    let app = spawn_app().await;
    let saved = app
        .with_key(reqwest::Method::PUT, "/api/system/welcome")
        .json(
            &json!({"welcome": {"termsVersion": 1, "termsText": "Be kind.",
                                   "profileFields": ["email"]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let user = app.create_user("wes", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let (secret, _) = app.enroll_authenticator(id).await;

    let mut browser = Browser::new();
    let after_password = browser.log_in(&app, "wes", PASSWORD).await;
    assert_eq!(location(&after_password), "/login/code");
    assert_eq!(
        location(&browser.get(&app, "/welcome").await),
        "/login",
        "no welcome form before the code"
    );
    let csrf = browser.csrf(&app).await;
    let answered = browser
        .post(
            &app,
            "/welcome",
            &[
                ("csrf", &csrf),
                ("email", "thief@example.com"),
                ("terms_version", "1"),
                ("accept", "on"),
            ],
        )
        .await;
    assert_eq!(location(&answered), "/login");
    let unchanged = profile(&app, id).await;
    assert!(
        unchanged.get("email").is_none_or(Value::is_null),
        "{unchanged}"
    );
    assert!(
        unchanged
            .get("termsVersionAccepted")
            .is_none_or(Value::is_null),
        "{unchanged}"
    );

    // With the code, the login is complete, and the home page asks for the welcome step.
    let csrf = browser.csrf(&app).await;
    let done = browser
        .post(
            &app,
            "/login/code",
            &[("csrf", &csrf), ("code", &oathtool(&secret, 30))],
        )
        .await;
    assert_eq!(location(&done), "/");
    assert_eq!(location(&browser.get(&app, "/").await), "/welcome");
    let csrf = browser.csrf(&app).await;
    let answered = browser
        .post(
            &app,
            "/welcome",
            &[
                ("csrf", &csrf),
                ("email", "wes@example.com"),
                ("terms_version", "1"),
                ("accept", "on"),
            ],
        )
        .await;
    assert_eq!(location(&answered), "/");
    let welcomed = profile(&app, id).await;
    assert_eq!(welcomed["email"], "wes@example.com");
    assert_eq!(welcomed["termsVersionAccepted"], 1);
}

/// The welcome form's answers, the terms accepted or not.
fn welcome_form<'a>(
    csrf: &'a str,
    full_name: &'a str,
    email: &'a str,
    phone: &'a str,
    accept: bool,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("full_name", full_name),
        ("email", email),
        ("mobile_phone", phone),
        ("terms_version", "1"),
    ];
    if accept {
        form.push(("accept", "on"));
    }
    form
}

/// The text of the element with this id, up to its closing tag.
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start + id.len() + 6..];
    rest[..rest.find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn the_welcome_step_says_what_is_missing_or_refused_in_full_sentences() {
    let app = spawn_app().await;
    let saved = app
        .with_key(reqwest::Method::PUT, "/api/system/welcome")
        .json(
            &json!({"welcome": {"termsVersion": 1, "termsText": "Be kind.",
                                   "profileFields": ["fullName", "email", "mobilePhone"]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    app.create_user("ida", json!({"email": "ida@example.com"}))
        .await;
    app.create_user("val", json!({})).await;
    let mut browser = Browser::new();
    browser.log_in(&app, "val", PASSWORD).await;
    assert_eq!(location(&browser.get(&app, "/").await), "/welcome");
    // Nothing given: each field and the terms say what to do.
    let csrf = browser.csrf(&app).await;
    let page = browser
        .post(&app, "/welcome", &welcome_form(&csrf, "", "", "", false))
        .await;
    assert_eq!(page.status(), 422);
    let html = page.text().await.unwrap();
    for sentence in [
        "Enter your full name.",
        "Enter your email address.",
        "Enter your mobile phone number, with its country code.",
        "Accept the terms of use to go on.",
    ] {
        assert!(html.contains(sentence), "{sentence} not in {html}");
    }

    // A number without its country code, then an address another user has: the refusals
    // of the profile's rules, as sentences.
    let form = welcome_form(&csrf, "Val Vance", "val@example.com", "303 555 0100", true);
    let html = browser
        .post(&app, "/welcome", &form)
        .await
        .text()
        .await
        .unwrap();
    let refusal = text_of(&html, "mobile_phone-error");
    assert!(
        refusal.starts_with(char::is_uppercase) && refusal.ends_with('.'),
        "{refusal}"
    );
    let form = welcome_form(
        &csrf,
        "Val Vance",
        "ida@example.com",
        "+1 303 555 0100",
        true,
    );
    let html = browser
        .post(&app, "/welcome", &form)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        text_of(&html, "email-error"),
        "Another user already has this email."
    );
}

/// The welcome home gives after enrolment (and its invitation to set up an app instead of
/// texts) waits through the welcome step instead of being lost.
#[tokio::test]
async fn the_invitation_after_enrolment_waits_through_the_welcome_step() {
    let app = spawn_app().await;
    let saved = app
        .with_key(reqwest::Method::PUT, "/api/system/welcome")
        .json(&json!({"welcome": {"termsVersion": 1, "termsText": "Be kind."}}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    // The code goes out with the login, so the browser only types it.
    app.put_two_factor_settings(json!({"sendCodeOnLogin": "preferred"}))
        .await;
    let user = app.create_user("tex", json!({})).await;
    app.enroll_sms(user["id"].as_str().unwrap(), "+13035550144")
        .await;

    let mut browser = Browser::new();
    let code_page = location(&browser.log_in(&app, "tex", PASSWORD).await);
    let method = code_page
        .split("method=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("the code page names the method the code went to")
        .to_owned();
    let page = browser.get(&app, &code_page).await.text().await.unwrap();
    let code = app.code_sent_to("+13035550144").await;
    let done = browser
        .post(
            &app,
            "/login/code",
            &[
                ("csrf", &crate::web::csrf_in(&page)),
                ("method", &method),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(location(&done), "/");

    let welcomed = browser.get(&app, "/?welcome=1").await;
    assert_eq!(location(&welcomed), "/welcome?invited=1");
    let form = browser
        .get(&app, "/welcome?invited=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(form.contains(r#"name="invited" value="1""#), "{form}");
    let answered = browser
        .post(
            &app,
            "/welcome",
            &[
                ("csrf", &crate::web::csrf_in(&form)),
                ("terms_version", "1"),
                ("accept", "1"),
                ("invited", "1"),
            ],
        )
        .await;
    assert_eq!(location(&answered), "/?welcome=1");
    let home = browser.get(&app, "/?welcome=1").await.text().await.unwrap();
    assert!(home.contains("Configure authenticator app"), "{home}");
}
