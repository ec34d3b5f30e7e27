//! Groups and their members: the API in FusionAuth's shapes, races, the two-factor settings by
//! group, the CLI, import and export.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Cli, PASSWORD, TestApp, all_at_once, spawn_app, tally};

/// Sends `body` with the API key; the status and the JSON (`Null` for an empty body).
async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.with_key(method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn create_group(app: &TestApp, name: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        "/api/group",
        Some(json!({"group": {"name": name}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["group"]["id"].as_str().unwrap().to_owned()
}

async fn add(app: &TestApp, group: &str, users: &[&str]) -> (u16, Value) {
    let members: Vec<Value> = users.iter().map(|u| json!({"userId": u})).collect();
    call(
        app,
        Method::POST,
        "/api/group/member",
        Some(json!({"members": {group: members}})),
    )
    .await
}

async fn member_ids(app: &TestApp, group: &str) -> Vec<String> {
    let (status, body) = call(
        app,
        Method::GET,
        &format!("/api/group/member/search?groupId={group}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let members = body["members"].as_array().unwrap();
    assert_eq!(body["total"], members.len(), "{body}");
    members
        .iter()
        .map(|m| m["userId"].as_str().unwrap().to_owned())
        .collect()
}

fn id_of(user: &Value) -> &str {
    user["id"].as_str().unwrap()
}

#[tokio::test]
async fn groups_are_created_listed_read_renamed_and_deleted() {
    let app = spawn_app().await;
    let (status, created) = call(
        &app,
        Method::POST,
        "/api/group",
        Some(json!({"group": {"name": "  Sales  EMEA ", "description": "Sellers in Europe"}})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let group = &created["group"];
    assert_eq!(group["name"], "Sales EMEA", "trimmed, its spaces made one");
    assert_eq!(group["description"], "Sellers in Europe");
    assert!(group["insertInstant"].as_i64().unwrap() > 0);
    let id = group["id"].as_str().unwrap().to_owned();

    let chosen = "8a1f0c5e-9d7b-4c3a-a2e1-5b6c7d8e9f00";
    let (status, with_id) = call(
        &app,
        Method::POST,
        &format!("/api/group/{chosen}"),
        Some(json!({"group": {"name": "Admins"}})),
    )
    .await;
    assert_eq!(status, 200, "{with_id}");
    assert_eq!(with_id["group"]["id"], chosen);

    let (_, listed) = call(&app, Method::GET, "/api/group", None).await;
    let names: Vec<&str> = listed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Admins", "Sales EMEA"], "by name");

    let (status, renamed) = call(
        &app,
        Method::PUT,
        &format!("/api/group/{id}"),
        Some(json!({"group": {"name": "Sales Europe"}})),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["group"]["name"], "Sales Europe");
    assert!(
        renamed["group"].get("description").is_none(),
        "PUT replaces: a description left out is cleared"
    );
    let (_, read) = call(&app, Method::GET, &format!("/api/group/{id}"), None).await;
    assert_eq!(read["group"]["name"], "Sales Europe");

    let (status, _) = call(&app, Method::DELETE, &format!("/api/group/{id}"), None).await;
    assert_eq!(status, 200);
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = call(&app, method, &format!("/api/group/{id}"), None).await;
        assert_eq!(status, 404);
    }
    let (status, _) = call(
        &app,
        Method::PUT,
        &format!("/api/group/{id}"),
        Some(json!({"group": {"name": "Ghosts"}})),
    )
    .await;
    assert_eq!(status, 404);

    let kinds: Vec<String> = app
        .audit("")
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .filter(|e| e.starts_with("group."))
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "group.create").count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&"group.update".to_owned()));
    assert!(kinds.contains(&"group.delete".to_owned()));
}

#[tokio::test]
async fn a_name_taken_in_any_case_and_refused_fields_are_named() {
    let app = spawn_app().await;
    let sales = create_group(&app, "Sales").await;
    create_group(&app, "Support").await;
    for name in ["SALES", "sales", " Ｓａｌｅｓ "] {
        let (status, body) = call(
            &app,
            Method::POST,
            "/api/group",
            Some(json!({"group": {"name": name}})),
        )
        .await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(
            body["fieldErrors"]["group.name"][0]["code"], "[duplicate]group.name",
            "{body}"
        );
    }
    let (status, body) = call(
        &app,
        Method::PUT,
        &format!("/api/group/{sales}"),
        Some(json!({"group": {"name": "support"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["group.name"][0]["code"],
        "[duplicate]group.name"
    );
    let (status, _) = call(
        &app,
        Method::PUT,
        &format!("/api/group/{sales}"),
        Some(json!({"group": {"name": "SALES"}})),
    )
    .await;
    assert_eq!(status, 200, "a group may change the case of its own name");

    let refusals = [
        (json!({"group": {"name": "  "}}), "[blank]group.name"),
        (json!({"group": {}}), "[blank]group.name"),
        (
            json!({"group": {"name": "a\u{200b}b"}}),
            "[invalid]group.name",
        ),
        (
            json!({"group": {"name": "x".repeat(101)}}),
            "[tooLong]group.name",
        ),
        (
            json!({"group": {"name": "Ops", "roles": {}}}),
            "[unknown]group.roles",
        ),
    ];
    for (body, code) in refusals {
        let (status, answer) = call(&app, Method::POST, "/api/group", Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        let codes: Vec<&str> = answer["fieldErrors"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|errors| errors.as_array().unwrap())
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, [code], "{answer}");
    }
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/group/{sales}"),
        Some(json!({"group": {"name": "Another"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["fieldErrors"]["groupId"][0]["code"],
        "[duplicate]groupId"
    );
    let (status, _) = call(&app, Method::GET, "/api/group/not-a-uuid", None).await;
    assert_eq!(status, 400);
    let (_, listed) = call(&app, Method::GET, "/api/group", None).await;
    assert_eq!(listed["groups"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn members_are_added_searched_shown_on_the_user_and_removed() {
    let app = spawn_app().await;
    let (ann, bob) = (
        app.create_user("ann", json!({})).await,
        app.create_user("bob", json!({})).await,
    );
    let (ann, bob) = (id_of(&ann), id_of(&bob));
    let ops = create_group(&app, "Ops").await;
    let dev = create_group(&app, "Dev").await;

    let (status, added) = add(&app, &ops, &[ann, bob]).await;
    assert_eq!(status, 200, "{added}");
    let members = added["members"][&ops].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["userId"], ann);
    assert!(members[0]["insertInstant"].as_i64().unwrap() > 0);
    let (status, again) = add(&app, &ops, &[ann]).await;
    assert_eq!(status, 200, "adding a member again is no error");
    assert_eq!(
        again["members"][&ops][0]["insertInstant"],
        members[0]["insertInstant"]
    );
    add(&app, &dev, &[ann]).await;

    let mut found = member_ids(&app, &ops).await;
    found.sort();
    let mut both = vec![ann.to_owned(), bob.to_owned()];
    both.sort();
    assert_eq!(found, both);
    let (_, of_ann) = call(
        &app,
        Method::GET,
        &format!("/api/group/member/search?userId={ann}"),
        None,
    )
    .await;
    assert_eq!(of_ann["total"], 2);

    let (_, user) = call(&app, Method::GET, &format!("/api/user/{ann}"), None).await;
    let memberships = user["user"]["memberships"].as_array().unwrap();
    let groups: Vec<&str> = memberships
        .iter()
        .map(|m| m["groupId"].as_str().unwrap())
        .collect();
    assert_eq!(groups, [dev.as_str(), ops.as_str()], "by the group's name");
    assert!(memberships[0]["insertInstant"].as_i64().unwrap() > 0);

    // FusionAuth's two ways: a body of ids by group, or one membership by parameters.
    let (status, removed) = call(
        &app,
        Method::DELETE,
        "/api/group/member",
        Some(json!({"members": {&ops: [bob]}})),
    )
    .await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["members"][&ops][0]["userId"], bob);
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/group/member?groupId={dev}&userId={ann}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(member_ids(&app, &ops).await, [ann]);
    assert!(member_ids(&app, &dev).await.is_empty());
    let (_, user) = call(&app, Method::GET, &format!("/api/user/{bob}"), None).await;
    assert_eq!(user["user"]["memberships"], json!([]));

    let added_events = app.audit("event=group.member_add").await;
    assert_eq!(added_events.len(), 3, "one per membership made");
    assert_eq!(
        added_events.iter().filter(|e| e["target"] == ann).count(),
        2,
        "each names its member"
    );
    assert_eq!(app.audit("event=group.member_remove").await.len(), 2);
    assert_eq!(
        app.audit(&format!("userId={bob}&event=group.member_remove"))
            .await
            .len(),
        1,
        "a member's own log shows it"
    );
}

#[tokio::test]
async fn a_members_request_naming_one_unknown_user_or_group_adds_nobody() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", json!({})).await;
    let ops = create_group(&app, "Ops").await;
    let dev = create_group(&app, "Dev").await;
    let nobody = "00000000-0000-4000-8000-000000000000";

    let (status, body) = add(&app, &ops, &[id_of(&ann), nobody]).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["generalErrors"][0]["message"]
            .as_str()
            .unwrap()
            .contains(nobody),
        "{body}"
    );
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/group/member",
        Some(json!({"members": {&dev: [{"userId": id_of(&ann)}], nobody: [{"userId": id_of(&ann)}]}})),
    )
    .await;
    assert_eq!(status, 404, "an unknown group");
    assert!(member_ids(&app, &ops).await.is_empty());
    assert!(member_ids(&app, &dev).await.is_empty());
    assert!(app.audit("event=group.member_add").await.is_empty());

    let (status, body) = call(
        &app,
        Method::POST,
        "/api/group/member",
        Some(json!({"members": {&ops: [{"userId": "nope"}]}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["fieldErrors"]["userId"][0]["code"], "[invalid]userId");
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/api/group/member?groupId={nobody}&userId={}", id_of(&ann)),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deleting_a_user_or_a_group_ends_their_memberships() {
    let app = spawn_app().await;
    let (ann, bob) = (
        app.create_user("ann", json!({})).await,
        app.create_user("bob", json!({})).await,
    );
    let (ann, bob) = (id_of(&ann), id_of(&bob));
    let ops = create_group(&app, "Ops").await;
    let dev = create_group(&app, "Dev").await;
    add(&app, &ops, &[ann, bob]).await;
    add(&app, &dev, &[ann, bob]).await;

    let (status, _) = call(&app, Method::DELETE, &format!("/api/user/{bob}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(member_ids(&app, &ops).await, [ann]);
    assert_eq!(member_ids(&app, &dev).await, [ann]);

    let (status, _) = call(&app, Method::DELETE, &format!("/api/group/{dev}"), None).await;
    assert_eq!(status, 200);
    let (_, search) = call(
        &app,
        Method::GET,
        &format!("/api/group/member/search?userId={ann}"),
        None,
    )
    .await;
    assert_eq!(search["total"], 1);
    assert_eq!(search["members"][0]["groupId"], ops.as_str());
    let deleted = app.audit("event=group.delete").await;
    assert_eq!(deleted[0]["details"]["members"], 1, "{deleted:?}");
}

#[tokio::test]
async fn members_of_a_group_the_two_factor_settings_name_must_use_a_second_factor() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", json!({})).await;
    app.create_user("bob", json!({})).await;
    let staff = create_group(&app, "Staff").await;
    add(&app, &staff, &[id_of(&ann)]).await;
    let status = |login: &'static str| {
        let app = &app;
        async move {
            app.login_json(json!({"loginId": login, "password": PASSWORD}))
                .await
        }
    };
    assert_eq!(status("ann").await.0, 200, "no rule names the group yet");

    let (refused, body) = call(
        &app,
        Method::PUT,
        "/api/system/two-factor",
        Some(json!({"twoFactor": {"requiredForGroups": ["00000000-0000-4000-8000-000000000000"]}})),
    )
    .await;
    assert_eq!(refused, 400, "{body}");
    assert_eq!(
        body["fieldErrors"]["requiredForGroups"][0]["code"],
        "[invalid]requiredForGroups"
    );
    app.put_two_factor_settings(json!({"requiredForGroups": [staff]}))
        .await;
    let (code, answer) = status("ann").await;
    assert_eq!(code, 242, "a member without a method must enrol: {answer}");
    assert!(answer["twoFactorId"].is_string());
    assert_eq!(status("bob").await.0, 200, "no member, no second factor");

    // The same rule as the per-user flag: with a method, the member is asked for its code.
    app.enroll_authenticator(id_of(&ann)).await;
    let (code, answer) = status("ann").await;
    assert_eq!(code, 242);
    assert_eq!(answer["methods"][0]["method"], "authenticator", "{answer}");

    // The group cannot go while the settings name it; nothing is deleted.
    let (code, body) = call(&app, Method::DELETE, &format!("/api/group/{staff}"), None).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["generalErrors"][0]["code"], "[inUse]requiredForGroups");
    assert_eq!(member_ids(&app, &staff).await, [id_of(&ann)]);
    app.put_two_factor_settings(json!({"requiredForGroups": []}))
        .await;
    let (code, _) = call(&app, Method::DELETE, &format!("/api/group/{staff}"), None).await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn the_same_member_added_twenty_times_at_once_is_one_membership() {
    let app = std::sync::Arc::new(spawn_app().await);
    let ann = app.create_user("ann", json!({})).await;
    let ann = id_of(&ann).to_owned();
    let ops = create_group(&app, "Ops").await;
    let requests = (0..20)
        .map(|_| {
            let (app, ann, ops) = (app.clone(), ann.clone(), ops.clone());
            async move { add(&app, &ops, &[&ann]).await.0 }
        })
        .collect();
    let statuses = all_at_once(requests).await;
    assert_eq!(tally(&statuses), "20×200");
    assert_eq!(member_ids(&app, &ops).await, [ann]);
    assert_eq!(app.audit("event=group.member_add").await.len(), 1);
}

#[tokio::test]
async fn the_same_name_created_twenty_times_at_once_is_one_group() {
    let app = std::sync::Arc::new(spawn_app().await);
    let requests = (0..20)
        .map(|i| {
            let app = app.clone();
            // The same name, as different hands type it.
            let name = if i % 2 == 0 { "On-Call" } else { "on-call" };
            async move {
                call(
                    &app,
                    Method::POST,
                    "/api/group",
                    Some(json!({"group": {"name": name}})),
                )
                .await
                .0
            }
        })
        .collect();
    let statuses = all_at_once(requests).await;
    assert_eq!(tally(&statuses), "1×200, 19×400");
    let (_, listed) = call(&app, Method::GET, "/api/group", None).await;
    assert_eq!(listed["groups"].as_array().unwrap().len(), 1);
    assert_eq!(app.audit("event=group.create").await.len(), 1);
}

#[tokio::test]
async fn operators_manage_groups_and_members_from_the_command_line() {
    let cli = Cli::new().await;
    cli.ok(
        &["user", "create", "--username", "ops", "--admin"],
        "a long enough password\n",
    );
    let created = cli.ok(
        &[
            "group",
            "create",
            "On-call",
            "--description",
            "Who answers pages",
        ],
        "",
    );
    assert!(created.contains("created group On-call"), "{created}");
    let taken = cli.fails(&["group", "create", "ON-CALL"], "");
    assert!(
        taken.contains("another group already has this name"),
        "{taken}"
    );

    cli.ok(&["group", "add-member", "on-call", "ops"], "");
    let members = cli.ok(&["group", "members", "On-call"], "");
    assert!(members.contains("ops"), "{members}");
    let listed = cli.ok(&["group", "list"], "");
    assert!(listed.contains("1 members  On-call"), "{listed}");
    let id = listed.split_whitespace().next().unwrap().to_owned();
    let missing = cli.fails(&["group", "add-member", &id, "nobody"], "");
    assert!(missing.contains("no such user"), "{missing}");

    cli.ok(&["group", "remove-member", &id, "ops"], "");
    assert!(cli.ok(&["group", "members", &id], "").trim().is_empty());
    let again = cli.fails(&["group", "remove-member", &id, "ops"], "");
    assert!(again.contains("no member"), "{again}");
    cli.ok(&["group", "delete", "on-call"], "");
    assert!(cli.ok(&["group", "list"], "").trim().is_empty());
    assert!(
        cli.fails(&["group", "delete", "on-call"], "")
            .contains("no such group")
    );
}

#[tokio::test]
async fn groups_travel_with_an_import_and_an_export() {
    let app = spawn_app().await;
    create_group(&app, "Sales").await;
    let json_users = json!({"users": [
        {"username": "ann", "groups": ["sales", "Ops"]},
        {"username": "bob", "groups": ["OPS"]},
    ]});
    let response = app
        .with_key(Method::POST, "/api/user/import")
        .json(&json_users)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .with_key(Method::POST, "/api/user/import")
        .header("Content-Type", "text/csv")
        .body("username,groups\ncy,Ops;Field team\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bad = app
        .with_key(Method::POST, "/api/user/import")
        .header("Content-Type", "text/csv")
        .body("username,groups\ndee,a\u{200b}b\n")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "a bad group name refuses the row");

    let (_, listed) = call(&app, Method::GET, "/api/group", None).await;
    let names: Vec<&str> = listed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Field team", "Ops", "Sales"],
        "missing groups are made once, by the name first written"
    );
    assert_eq!(app.audit("event=group.create").await.len(), 3);

    let csv = app
        .with_key(Method::GET, "/api/user/export?format=csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",groups"), "{csv}");
    assert!(csv.contains("Ops;Sales"), "{csv}");
    assert!(csv.contains("Field team;Ops"), "{csv}");
    let exported: Value = app
        .with_key(Method::GET, "/api/user/export")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // Into an empty server: the same users in the same groups.
    let other = spawn_app().await;
    let response = other
        .with_key(Method::POST, "/api/user/import")
        .header("Content-Type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let again: Value = other
        .with_key(Method::GET, "/api/user/export")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let groups_of = |export: &Value| -> Vec<(String, Value)> {
        let mut users: Vec<(String, Value)> = export["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["username"].as_str().unwrap().to_owned(),
                    u.get("groups").cloned().unwrap_or(json!([])),
                )
            })
            .collect();
        users.sort_by(|a, b| a.0.cmp(&b.0));
        users
    };
    assert_eq!(groups_of(&again), groups_of(&exported));
    assert!(
        groups_of(&exported)
            .iter()
            .any(|(name, groups)| name == "ann" && *groups == json!(["Ops", "Sales"]))
    );
}
