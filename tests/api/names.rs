//! Look-alike names: a name that looks like another is the same name or is
//! refused, on every path that makes or renames a user, and a login finds the one account
//! whatever form its name is typed in.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Cli, PASSWORD, TestApp, spawn_app};

const CAFE_NFC: &str = "caf\u{e9}";
const CAFE_NFD: &str = "cafe\u{301}";

async fn create(app: &TestApp, user: Value) -> (u16, Value) {
    let response = app
        .with_key(Method::POST, "/api/user")
        .json(&json!({ "user": user }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_username_that_looks_like_another_is_refused_or_is_the_same_name() {
    let app = spawn_app().await;
    app.create_user("admin", json!({})).await;
    app.create_user(CAFE_NFC, json!({})).await;
    for (look_alike, code) in [
        ("\u{430}dmin", "[invalid]user.username"),   // Cyrillic а
        ("admin\u{200b}", "[invalid]user.username"), // zero-width space
        ("ad\u{ad}min", "[invalid]user.username"),   // soft hyphen
        ("\u{202e}nimda", "[invalid]user.username"), // right-to-left override
        (
            "\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}",
            "[duplicate]user.username",
        ), // full width
        ("ADMIN", "[duplicate]user.username"),
        (CAFE_NFD, "[duplicate]user.username"),
    ] {
        let (status, body) =
            create(&app, json!({"username": look_alike, "password": PASSWORD})).await;
        assert_eq!(status, 400, "{look_alike:?}: {body}");
        assert_eq!(
            body["fieldErrors"]["user.username"][0]["code"], code,
            "{look_alike:?}: {body}"
        );
    }
    assert_eq!(app.core.store.users().count_users().await.unwrap(), 2);
}

#[tokio::test]
async fn a_full_width_or_decomposed_name_is_kept_in_its_normal_form() {
    let app = spawn_app().await;
    let user = app.create_user("\u{ff21}da_Cafe\u{301}", json!({})).await;
    assert_eq!(user["username"], "Ada_Caf\u{e9}");
}

#[tokio::test]
async fn a_login_finds_the_one_account_whatever_form_its_name_is_typed_in() {
    let app = spawn_app().await;
    app.create_user("admin", json!({})).await;
    app.create_user(
        CAFE_NFC,
        json!({"email": format!("{CAFE_NFC}@b\u{fc}cher.de")}),
    )
    .await;
    for typed in [
        "\u{ff21}\u{ff24}\u{ff2d}\u{ff29}\u{ff2e}",
        "ADMIN",
        CAFE_NFD,
        &format!("{CAFE_NFD}@B\u{fc}cher.de"),
        &format!("{}@xn--bcher-kva.de", CAFE_NFC.to_uppercase()),
    ] {
        let (status, body) = app
            .login_json(json!({"loginId": typed, "password": PASSWORD}))
            .await;
        assert_eq!(status, 200, "{typed:?}: {body}");
    }
    // Invisible and mixed-script login ids find nobody.
    for typed in ["admin\u{200b}", "\u{430}dmin"] {
        let (status, _) = app
            .login_json(json!({"loginId": typed, "password": PASSWORD}))
            .await;
        assert_eq!(status, 404, "{typed:?}");
    }
}

#[tokio::test]
async fn an_email_that_looks_like_another_is_refused_or_is_the_same_address() {
    let app = spawn_app().await;
    app.create_user("ann", json!({"email": "ann@b\u{fc}cher.de"}))
        .await;
    for (i, (look_alike, code)) in [
        ("ann\u{200b}@example.com", "[invalid]user.email"),
        ("\u{202e}ann@example.com", "[invalid]user.email"),
        ("ann@exa\u{ad}mple.com", "[invalid]user.email"),
        ("ANN@xn--bcher-kva.de", "[duplicate]user.email"),
        ("\u{ff41}nn@B\u{fc}cher.de", "[duplicate]user.email"),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = create(
            &app,
            json!({"username": format!("ann{i}"), "email": look_alike, "password": PASSWORD}),
        )
        .await;
        assert_eq!(status, 400, "{look_alike:?}: {body}");
        assert_eq!(
            body["fieldErrors"]["user.email"][0]["code"], code,
            "{look_alike:?}: {body}"
        );
    }
}

#[tokio::test]
async fn a_rename_to_a_look_alike_is_refused() {
    let app = spawn_app().await;
    app.create_user("admin", json!({})).await;
    let bob = app.create_user("bob", json!({})).await;
    let id = bob["id"].as_str().unwrap();
    for (look_alike, code) in [
        ("\u{430}dmin", "[invalid]user.username"),
        ("\u{ff41}dmin", "[duplicate]user.username"),
    ] {
        let response = app
            .with_key(Method::PATCH, &format!("/api/user/{id}"))
            .json(&json!({"user": {"username": look_alike}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{look_alike:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["fieldErrors"]["user.username"][0]["code"], code,
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_password_chosen_in_nfd_logs_in_typed_in_nfc() {
    let app = spawn_app().await;
    app.create_user("ann", json!({"password": format!("{CAFE_NFD} au lait")}))
        .await;
    let (status, body) = app
        .login_json(json!({"loginId": "ann", "password": format!("{CAFE_NFC} au lait")}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_hash_made_from_a_password_as_typed_still_logs_in_and_is_made_again_in_nfc() {
    let app = spawn_app().await;
    // Made before passwords were normalised: from the NFD form the user typed.
    let hash = bcrypt::hash(format!("{CAFE_NFD} au lait"), 4).unwrap();
    let response = app
        .with_key(Method::POST, "/api/user/import")
        .header("Content-Type", "application/json")
        .body(json!({"users": [{"username": "old", "passwordHash": hash}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let (status, _) = app
        .login_json(json!({"loginId": "old", "password": format!("{CAFE_NFC} au lait")}))
        .await;
    assert_eq!(status, 404, "the NFC form is not what was hashed");
    let (status, _) = app
        .login_json(json!({"loginId": "old", "password": format!("{CAFE_NFD} au lait")}))
        .await;
    assert_eq!(status, 200, "typed as it was: found by the second check");
    // That login hashed the normal form: now either form logs in.
    for typed in [CAFE_NFC, CAFE_NFD] {
        let (status, _) = app
            .login_json(json!({"loginId": "old", "password": format!("{typed} au lait")}))
            .await;
        assert_eq!(status, 200, "{typed:?}");
    }
}

#[tokio::test]
async fn an_import_refuses_look_alikes_naming_their_lines() {
    let app = spawn_app().await;
    app.create_user("admin", json!({})).await;
    let csv = "username,email\n\
               \u{430}dmin,\n\
               ad\u{200b}min,\n\
               \u{ff41}dmin,\n\
               carol,carol\u{202e}@example.com\n";
    let response = app
        .with_key(Method::POST, "/api/user/import")
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 400, "{body}");
    let messages: Vec<&str> = body["generalErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    for (message, line) in messages.iter().zip(["line 2:", "line 3:", "line 5:"]) {
        assert!(message.starts_with(line), "{message}");
    }
    assert_eq!(app.core.store.users().count_users().await.unwrap(), 1);
}

#[tokio::test]
async fn the_cli_refuses_a_look_alike_username() {
    let cli = Cli::new().await;
    cli.ok(
        &["user", "create", "--username", "admin", "--admin"],
        "a long enough password\n",
    );
    let refused = cli.fails(
        &["user", "create", "--username", "\u{430}dmin"],
        "a long enough password\n",
    );
    assert!(refused.contains("one script"), "{refused}");
    let refused = cli.fails(
        &["user", "create", "--username", "\u{ff41}dmin"],
        "a long enough password\n",
    );
    assert!(refused.contains("already has this username"), "{refused}");
}

/// Users as the code before the rules stored them: the name as typed, keyed in lowercase (and
/// an address verified, as migration 0023 marks every address it finds).
async fn insert_as_before(app: &TestApp, username: &str, email: Option<&str>) -> String {
    let pool = app.core.store.pool();
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username_key = 'admin'")
            .fetch_one(pool)
            .await
            .unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO users (id, username, username_key, email, email_key, roles, active, \
           password_hash, password_changed_at, created_at, updated_at, email_verified_at) \
         VALUES ($1, $2, $3, $4, $5, 'user', 1, $6, 0, 0, 0, $7)",
    )
    .bind(&id)
    .bind(username)
    .bind(username.to_lowercase())
    .bind(email)
    .bind(email.map(str::to_lowercase))
    .bind(hash)
    .bind(email.map(|_| 0_i64))
    .execute(pool)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn the_migration_keys_old_rows_canonically_and_reports_collisions_without_merging() {
    let app = spawn_app().await;
    let admin = app.create_user("admin", json!({})).await;
    let admin = admin["id"].as_str().unwrap();
    let full_width = insert_as_before(&app, "\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}", None).await;
    let nfd = insert_as_before(&app, CAFE_NFD, None).await;
    let nfc = insert_as_before(&app, CAFE_NFC, None).await;
    let cyrillic = insert_as_before(&app, "\u{430}dmin", None).await;
    let bob = insert_as_before(&app, "\u{ff22}ob", Some("Bob@B\u{fc}cher.de")).await;
    // The database as it was before migration canonical_names; the next start applies it.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE description = 'canonical names'")
        .execute(app.core.store.pool())
        .await
        .unwrap();
    let restarted = app.another_node().await;

    let events = restarted.audit("event=user.name_collision").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let details = &events[0]["details"];
    let mut admins = vec![admin.to_owned(), full_width.clone()];
    admins.sort();
    let mut cafes = vec![nfd.clone(), nfc.clone()];
    cafes.sort();
    let collisions = details["collisions"].as_array().unwrap();
    let ids_of = |key: &str| -> Value {
        collisions
            .iter()
            .find(|c| c["key"] == key)
            .map(|c| c["userIds"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(ids_of("admin"), json!(admins), "{details}");
    assert_eq!(ids_of(CAFE_NFC), json!(cafes), "{details}");
    assert_eq!(
        details["refused"],
        json!([{"field": "username", "userId": cyrillic}])
    );

    // Nothing merged: every row is still there, as it was.
    let users = restarted.core.store.users();
    for (id, name) in [
        (&full_width, "\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}"),
        (&nfd, CAFE_NFD),
        (&nfc, CAFE_NFC),
        (&cyrillic, "\u{430}dmin"),
    ] {
        let user = users
            .user(tessera::domain::UserId::parse(id).unwrap())
            .await
            .unwrap()
            .expect("the row survives");
        assert_eq!(user.username.as_str(), name);
    }
    // A row alone with its canonical names took them: it logs in by them.
    let (status, body) = restarted
        .login_json(json!({"loginId": "bob", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], bob);
    assert_eq!(body["user"]["username"], "Bob");
    let (status, _) = restarted
        .login_json(json!({"loginId": "bob@xn--bcher-kva.de", "password": PASSWORD}))
        .await;
    assert_eq!(status, 200);
    // `admin` is still the account that had that key; the refused name still logs in.
    let (_, body) = restarted
        .login_json(json!({"loginId": "ADMIN", "password": PASSWORD}))
        .await;
    assert_eq!(body["user"]["id"], admin);
    let (_, body) = restarted
        .login_json(json!({"loginId": "\u{430}dmin", "password": PASSWORD}))
        .await;
    assert_eq!(body["user"]["id"], cyrillic.as_str());
}
