//! Administration through the API and the CLI: who may be demoted, resets with a reason, the
//! phone set on a user's behalf, unlocks, search, the audit log as CSV.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, oathtool, spawn_app};

async fn patch_user(app: &TestApp, id: &str, user: Value) -> reqwest::Response {
    app.with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({ "user": user }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_last_active_administrator_cannot_be_demoted_disabled_or_deleted() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", json!({"roles": ["admin"]})).await;
    let id = boss["id"].as_str().unwrap();
    for change in [json!({"roles": ["user"]}), json!({"active": false})] {
        let response = patch_user(&app, id, change.clone()).await;
        assert_eq!(response.status(), 400, "{change}");
        let errors: Value = response.json().await.unwrap();
        assert_eq!(
            errors["fieldErrors"]["user.roles"][0]["code"],
            "[lastAdmin]user.roles"
        );
    }
    let delete = app
        .with_key(Method::DELETE, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 400);
    let user: Value = app
        .with_key(Method::GET, &format!("/api/user/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        user["user"]["roles"],
        json!(["admin", "user"]),
        "nothing changed"
    );

    app.create_user("deputy", json!({"roles": ["admin"]})).await;
    assert_eq!(
        patch_user(&app, id, json!({"roles": ["user"]}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_reset_removes_every_factor_and_trust_and_is_audited_with_its_reason() {
    let app = spawn_app().await;
    let user = app.create_user("ann", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let (secret, _) = app.enroll_authenticator(id).await;
    let challenge = app.start_two_factor("ann").await;
    let done: Value = app
        .finish_two_factor(
            &challenge,
            &oathtool(&secret, 30),
            json!({"trustComputer": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/system/users/{id}/reset-two-factor");
    let no_reason = app
        .with_key(Method::POST, &path)
        .json(&json!({"reason": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_reason.status(), 400);
    let reset = app
        .with_key(Method::POST, &path)
        .json(&json!({"reason": "lost phone; identity checked at the desk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(reset.json::<Value>().await.unwrap()["count"], 1);
    let (status, _) = app
        .login_json(json!({"loginId": "ann", "password": PASSWORD, "twoFactorTrustId": done["twoFactorTrustId"]}))
        .await;
    assert_eq!(status, 200, "no factor left: the password alone logs in");
    let trusts: Value = app
        .with_key(Method::GET, &format!("/api/user/two-factor/trust/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(trusts["trusts"], json!([]));
    let events = app
        .audit(&format!("userId={id}&event=two_factor.reset"))
        .await;
    assert_eq!(
        events[0]["details"]["reason"],
        "lost phone; identity checked at the desk"
    );
    assert!(events[0]["actor"].as_str().unwrap().starts_with("api-key:"));
    let missing = app
        .with_key(
            Method::POST,
            &format!(
                "/api/system/users/{}/reset-two-factor",
                uuid::Uuid::new_v4()
            ),
        )
        .json(&json!({"reason": "no such user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn an_administrator_sets_the_verified_phone_with_a_reason() {
    let app = spawn_app().await;
    let user = app.create_user("bo", json!({})).await;
    let id = user["id"].as_str().unwrap();
    app.send_enrollment(id, "sms", "+13035551212").await;
    let code = app.code_sent_to("+13035551212").await;
    app.with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&json!({"method": "sms", "code": code}))
        .send()
        .await
        .unwrap();
    let path = format!("/api/system/users/{id}/phone");
    let put = |body: Value| app.with_key(Method::PUT, &path).json(&body).send();
    assert_eq!(
        put(json!({"mobilePhone": "+1 303 555 0199"}))
            .await
            .unwrap()
            .status(),
        400,
        "the reason is required"
    );
    assert_eq!(
        put(json!({"mobilePhone": "555", "reason": "new phone"}))
            .await
            .unwrap()
            .status(),
        400
    );
    let response =
        put(json!({"mobilePhone": "+1 303 555 0199", "reason": "user called from a new phone"}))
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["mobilePhone"], "+13035550199");
    assert_eq!(
        body["user"]["twoFactor"]["methods"][0]["mobilePhone"],
        "+13035550199"
    );
    let events = app
        .audit(&format!("userId={id}&event=user.phone_change"))
        .await;
    assert_eq!(
        events[0]["details"]["reason"],
        "user called from a new phone"
    );
    assert_eq!(events[0]["details"]["to"], "+1 •••• 0199");
    assert!(!serde_json::to_string(&events).unwrap().contains("5550199"));
}

#[tokio::test]
async fn an_unlock_opens_challenges_again_after_too_many_wrong_codes() {
    let app = spawn_app().await;
    let user = app.create_user("cy", json!({})).await;
    let id = user["id"].as_str().unwrap();
    app.enroll_authenticator(id).await;
    for _ in 0..2 {
        let challenge = app.start_two_factor("cy").await;
        for _ in 0..5 {
            app.finish_two_factor(&challenge, "000000", json!({})).await;
        }
    }
    assert_eq!(app.login("cy", PASSWORD).await.status(), 429);
    let unlocked = app
        .with_key(Method::POST, &format!("/api/system/users/{id}/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), 200);
    assert_eq!(app.login("cy", PASSWORD).await.status(), 242);
    assert_eq!(app.audit("event=user.unlock").await.len(), 1);
}

#[tokio::test]
async fn users_are_found_by_username_or_email_prefix_a_page_at_a_time() {
    let app = spawn_app().await;
    for i in 0..12 {
        app.create_user(
            &format!("user{i:02}"),
            json!({"email": format!("person{i:02}@example.com")}),
        )
        .await;
    }
    app.create_user("other", json!({})).await;
    let search = |query: &'static str| {
        app.with_key(Method::GET, &format!("/api/user/search?{query}"))
            .send()
    };
    let page: Value = search("queryString=USER&limit=5&offset=5")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 12);
    let names: Vec<&str> = page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user05", "user06", "user07", "user08", "user09"]);
    let by_email: Value = search("queryString=person1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_email["total"], 2);
    let everyone: Value = search("limit=100").await.unwrap().json().await.unwrap();
    assert_eq!(everyone["total"], 13);
    let tricky: Value = search("queryString=%25")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tricky["total"], 0, "% is a character, not a wildcard");
    assert_eq!(search("limit=0").await.unwrap().status(), 400);
    assert_eq!(search("offset=-1").await.unwrap().status(), 400);
}

#[tokio::test]
async fn the_audit_log_exports_as_csv() {
    let app = spawn_app().await;
    app.create_user("dee", json!({"fullName": "=HYPERLINK(\"x\")"}))
        .await;
    app.login("dee", "wrong password").await;
    let response = app
        .with_key(Method::GET, "/api/system/audit-log/export")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,time,actor,target,event,ip,user_agent,details");
    assert!(lines.iter().any(|l| l.contains(",login.failure,")));
    assert!(lines.iter().any(|l| l.contains(",user.create,")));
}
