//! The two-factor policies at login: a required policy makes a user enrol with the twoFactorId;
//! policies per login type, for administrators and by the user's flag; every-login trust; trusted
//! computers listed, revoked, and read from a cookie. The helpers are two_factor.rs's.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, oathtool, spawn_app};
use crate::two_factor::user_with_authenticator;

#[tokio::test]
async fn a_required_policy_makes_a_user_enrol_during_login_with_the_two_factor_id() {
    let app = spawn_app().await;
    app.create_user("oli", json!({})).await;
    app.put_two_factor_settings(json!({"apiLoginPolicy": "required"}))
        .await;

    let (status, challenge) = app
        .login_json(json!({"loginId": "oli", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242);
    assert_eq!(challenge["methods"], json!([]));
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();

    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let enabled = app
        .post_json(
            "/api/user/two-factor",
            &json!({"twoFactorId": two_factor_id, "method": "authenticator",
                    "code": oathtool(&secret, 0), "secretBase32Encoded": secret}),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    let enabled: Value = enabled.json().await.unwrap();
    assert_eq!(enabled["recoveryCodes"].as_array().unwrap().len(), 10);
    let code = enabled["code"].as_str().unwrap();
    let done = app.finish_two_factor(two_factor_id, code, json!({})).await;
    assert_eq!(done.status(), 200);

    // With a method enrolled, a twoFactorId cannot add another: the method must be used.
    let (_, challenge) = app
        .login_json(json!({"loginId": "oli", "password": PASSWORD}))
        .await;
    let other = tessera::otp::TotpSecret::generate().to_base32();
    let refused = app
        .post_json(
            "/api/user/two-factor",
            &json!({"twoFactorId": challenge["twoFactorId"], "code": oathtool(&other, 0), "secretBase32Encoded": other}),
        )
        .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn policies_per_login_type_admins_and_the_user_flag_apply_at_the_next_login() {
    let app = spawn_app().await;
    app.create_user("pat", json!({"roles": ["admin"]})).await;
    app.create_user("quinn", json!({})).await;
    app.create_user("rae", json!({"twoFactorRequired": true}))
        .await;

    let status = |login: &'static str| {
        let app = &app;
        async move {
            app.login_json(json!({"loginId": login, "password": PASSWORD}))
                .await
                .0
        }
    };
    // By default an administrator needs a second factor; nobody else does.
    assert_eq!(status("pat").await, 242);
    assert_eq!(status("quinn").await, 200);
    assert_eq!(
        status("rae").await,
        242,
        "the per-user flag asks for enrolment"
    );

    app.put_two_factor_settings(json!({"apiLoginPolicy": "enabled"}))
        .await;
    assert_eq!(status("pat").await, 200);
    assert_eq!(status("quinn").await, 200);

    app.put_two_factor_settings(json!({"apiLoginPolicy": "disabled"}))
        .await;
    assert_eq!(status("rae").await, 200, "disabled never challenges");

    let settings: Value = app
        .with_key(Method::GET, "/api/system/two-factor")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settings["twoFactor"]["apiLoginPolicy"], "disabled");
    assert_eq!(
        settings["twoFactor"]["webLoginPolicy"],
        "required_for_admins"
    );
    assert_eq!(app.audit("event=settings.change").await.len(), 2);

    let bad = app
        .with_key(Method::PUT, "/api/system/two-factor")
        .json(&json!({"twoFactor": {"maxCodeAttempts": 0, "apiLoginPolicy": "sometimes"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = app
        .with_key(Method::PUT, "/api/system/two-factor")
        .json(&json!({"twoFactor": {"maxCodeAttempts": 0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let errors: Value = bad.json().await.unwrap();
    assert!(
        errors["fieldErrors"]["maxCodeAttempts"].is_array(),
        "{errors}"
    );
}

#[tokio::test]
async fn every_login_policy_issues_no_trust_and_honours_none() {
    let app = spawn_app().await;
    let (_, secret, recovery) = user_with_authenticator(&app, "sal").await;
    let login_with_trust = |trust: String| {
        app.login_json(json!({"loginId": "sal", "password": PASSWORD, "twoFactorTrustId": trust}))
    };
    let challenge = app.start_two_factor("sal").await;
    let done = app
        .finish_two_factor(
            &challenge,
            &oathtool(&secret, 30),
            json!({"trustComputer": true}),
        )
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    let first = done["twoFactorTrustId"]
        .as_str()
        .expect("a trust token while computers may be trusted")
        .to_owned();
    // While the policy allows it, the trust spares a login (and comes back renewed)...
    let (status, spared) = login_with_trust(first).await;
    assert_eq!(status, 200, "{spared}");
    let trust = spared["twoFactorTrustId"]
        .as_str()
        .expect("the renewed trust token")
        .to_owned();

    // ...and once every login needs a second factor, that live token spares nothing...
    app.put_two_factor_settings(json!({"trustLevel": "every_login"}))
        .await;
    let (status, body) = login_with_trust(trust).await;
    assert_eq!(status, 242, "{body}");
    // ...and a login that asks for trust gets in without a token.
    let challenge = app.start_two_factor("sal").await;
    let done = app
        .finish_two_factor(&challenge, &recovery[0], json!({"trustComputer": true}))
        .await;
    assert_eq!(done.status(), 200, "the recovery code finished the login");
    let done: Value = done.json().await.unwrap();
    assert!(done["token"].is_string(), "{done}");
    assert!(done.get("twoFactorTrustId").is_none(), "{done}");
}

#[tokio::test]
async fn trusted_computers_are_listed_and_revoked_by_the_user_or_an_admin() {
    let app = spawn_app().await;
    let (id, _, recovery) = user_with_authenticator(&app, "tia").await;
    let mut trusts = Vec::new();
    let mut token = String::new();
    for code in &recovery[..2] {
        let challenge = app.start_two_factor("tia").await;
        let done: Value = app
            .client
            .post(app.url("/api/two-factor/login"))
            .header("User-Agent", "Firefox/140")
            .json(&json!({"twoFactorId": challenge, "code": code, "trustComputer": true}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        trusts.push(done["twoFactorTrustId"].as_str().unwrap().to_owned());
        token = done["token"].as_str().unwrap().to_owned();
    }
    let listed: Value = app
        .client
        .get(app.url("/api/user/two-factor/trust"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed["trusts"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["userAgent"], "Firefox/140");
    assert_eq!(listed[0]["ipAddress"], "127.0.0.1");
    assert!(
        !listed
            .iter()
            .any(|t| trusts.contains(&t["id"].as_str().unwrap().to_owned()))
    );

    // The status API says whether a trust id still spares the challenge.
    let status = |trust: String| {
        app.with_key(
            Method::GET,
            &format!("/api/two-factor/status/{trust}?userId={id}"),
        )
        .send()
    };
    assert_eq!(status(trusts[0].clone()).await.unwrap().status(), 200);
    assert_eq!(status("bogus".into()).await.unwrap().status(), 242);

    // The user forgets one computer...
    let one = listed.iter().find(|t| t["id"].is_string()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .client
        .delete(app.url(&format!("/api/user/two-factor/trust?trustId={one}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let left: Value = app
        .with_key(Method::GET, &format!("/api/user/two-factor/trust/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(left["trusts"].as_array().unwrap().len(), 1);
    // ...and the admin the rest.
    let all = app
        .with_key(Method::DELETE, &format!("/api/user/two-factor/trust/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 200);
    for trust in &trusts {
        let (status, _) = app
            .login_json(json!({"loginId": "tia", "password": PASSWORD, "twoFactorTrustId": trust}))
            .await;
        assert_eq!(status, 242);
    }
    assert_eq!(app.audit("event=two_factor.trust_revoke").await.len(), 2);
    assert_eq!(app.audit("event=two_factor.trust_grant").await.len(), 2);
}

#[tokio::test]
async fn a_trust_id_from_a_cookie_works_like_the_body_field() {
    let app = spawn_app().await;
    let (_, _, recovery) = user_with_authenticator(&app, "uma").await;
    let challenge = app.start_two_factor("uma").await;
    let done: Value = app
        .finish_two_factor(&challenge, &recovery[0], json!({"trustComputer": true}))
        .await
        .json()
        .await
        .unwrap();
    let trust = done["twoFactorTrustId"].as_str().unwrap();
    let response = app
        .client
        .post(app.url("/api/login"))
        .header("Cookie", format!("other=1; tessera_trust={trust}"))
        .json(&json!({"loginId": "uma", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
