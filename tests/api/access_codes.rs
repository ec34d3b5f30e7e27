//! Break-glass for a lost phone: an administrator issues a one-time access code for a user (the
//! API, the admin page behind its question, the CLI), shown once, valid 24 hours, audited with
//! why. With their password, the person uses it once in place of a code: an application's
//! login gets its tokens; a login on the pages goes on to enrol a new method, which it cannot
//! skip. A wrong, used, revoked, replaced or expired code is a wrong code, counted like any.

use reqwest::Method;
use serde_json::{Value, json};
use tessera::audit::Actor;
use tessera::clock::Instant;
use tessera::domain::UserId;

use crate::helpers::{Cli, PASSWORD, TestApp, all_at_once, oathtool, spawn_app, tally};
use crate::web::{Browser, csrf_in, location};

const REASON: &str = "lost phone, ID checked at the desk";

/// `POST /api/user/two-factor/access-code/{user}` with `body`: the status and the answer.
async fn issue(app: &TestApp, user: &str, body: Value) -> (u16, Value) {
    let response = app
        .with_key(
            Method::POST,
            &format!("/api/user/two-factor/access-code/{user}"),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A code issued for `user` with a good reason.
async fn issued(app: &TestApp, user: &str) -> String {
    let (status, body) = issue(app, user, json!({"reason": REASON})).await;
    assert_eq!(status, 200, "{body}");
    body["accessCode"].as_str().unwrap().to_owned()
}

async fn revoke(app: &TestApp, user: &str) -> (u16, Value) {
    let response = app
        .with_key(
            Method::DELETE,
            &format!("/api/user/two-factor/access-code/{user}"),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A user with an authenticator app (the phone they lost): their id.
async fn user_with_a_lost_phone(app: &TestApp, name: &str) -> String {
    let id = app.create_user(name, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.enroll_authenticator(&id).await;
    id
}

/// A new login of `name` finished with `code`: the status and the answer.
async fn log_in_with(app: &TestApp, name: &str, code: &str) -> (u16, Value) {
    let challenge = app.start_two_factor(name).await;
    let response = app.finish_two_factor(&challenge, code, json!({})).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The claims of an access token.
async fn claims(app: &TestApp, token: &str) -> Value {
    let response = app
        .client
        .get(app.url("/api/jwt/validate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["jwt"].clone()
}

#[tokio::test]
async fn an_issued_code_lets_the_user_in_once_in_place_of_a_code() {
    let app = spawn_app().await;
    let ann = user_with_a_lost_phone(&app, "ann").await;
    let before = Instant::now().millis();
    let (status, body) = issue(&app, &ann, json!({"reason": REASON})).await;
    assert_eq!(status, 200, "{body}");
    let code = body["accessCode"].as_str().unwrap();
    assert_eq!(code.len(), 23, "four groups of five: {code}");
    let expires = body["expirationInstant"].as_i64().unwrap();
    let day = 24 * 3600 * 1000;
    assert!((before + day..=Instant::now().millis() + day).contains(&expires));

    let (status, login) = log_in_with(&app, "ann", code).await;
    assert_eq!(status, 200, "the normal answer: {login}");
    assert!(login["refreshToken"].is_string());
    assert!(login.get("twoFactorTrustId").is_none());
    let token = login["token"].as_str().unwrap();
    assert_eq!(
        claims(&app, token).await["amr"],
        json!(["pwd", "access_code", "mfa"]),
        "the session says an access code let it in"
    );

    let (status, _) = log_in_with(&app, "ann", code).await;
    assert_eq!(status, 421, "used once, it is a wrong code");
}

#[tokio::test]
async fn the_code_is_read_as_people_type_it() {
    let app = spawn_app().await;
    let bea = user_with_a_lost_phone(&app, "bea").await;
    let code = issued(&app, &bea).await;
    let typed = code.to_lowercase().replace('-', " ");
    assert_eq!(log_in_with(&app, "bea", &typed).await.0, 200);
}

#[tokio::test]
async fn after_an_access_code_the_person_enrols_a_new_method_with_their_session() {
    let app = spawn_app().await;
    let cid = user_with_a_lost_phone(&app, "cid").await;
    let code = issued(&app, &cid).await;
    let (_, login) = log_in_with(&app, "cid", &code).await;
    let secret = tessera::otp::TotpSecret::generate().to_base32();
    let response = app
        .client
        .post(app.url("/api/user/two-factor"))
        .bearer_auth(login["token"].as_str().unwrap())
        .json(
            &json!({"method": "authenticator", "secretBase32Encoded": secret,
                      "code": oathtool(&secret, 0), "name": "New phone"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "a recent login with mfa may enrol");
    assert_eq!(app.methods_of(&cid).await.len(), 2);
}

#[tokio::test]
async fn a_user_without_any_method_where_one_is_required_gets_in_with_the_code() {
    let app = spawn_app().await;
    let dee = app
        .create_user("dee", json!({"twoFactorRequired": true}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = issued(&app, &dee).await;
    let (status, body) = log_in_with(&app, "dee", &code).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_new_code_replaces_the_earlier_one() {
    let app = spawn_app().await;
    let eve = user_with_a_lost_phone(&app, "eve").await;
    let first = issued(&app, &eve).await;
    let second = issued(&app, &eve).await;
    assert_ne!(first, second);
    assert_eq!(log_in_with(&app, "eve", &first).await.0, 421);
    assert_eq!(log_in_with(&app, "eve", &second).await.0, 200);
    let issues = app
        .audit(&format!("userId={eve}&event=two_factor.access_code_issue"))
        .await;
    assert_eq!(issues.len(), 2);
    assert_eq!(issues[0]["details"]["replaced"], true, "the newest first");
    assert!(issues[1]["details"].get("replaced").is_none());
}

#[tokio::test]
async fn a_revoked_code_is_a_wrong_code() {
    let app = spawn_app().await;
    let fay = user_with_a_lost_phone(&app, "fay").await;
    let code = issued(&app, &fay).await;
    assert_eq!(revoke(&app, &fay).await, (200, json!({"count": 1})));
    assert_eq!(log_in_with(&app, "fay", &code).await.0, 421);
    assert_eq!(
        revoke(&app, &fay).await,
        (200, json!({"count": 0})),
        "nothing left to revoke"
    );
    let revoked = app
        .audit(&format!("userId={fay}&event=two_factor.access_code_revoke"))
        .await;
    assert_eq!(revoked.len(), 1, "one revocation, one event");
    let unknown = UserId::new().to_string();
    assert_eq!(revoke(&app, &unknown).await.0, 404);
}

#[tokio::test]
async fn an_expired_code_is_a_wrong_code() {
    let app = spawn_app().await;
    let gus = user_with_a_lost_phone(&app, "gus").await;
    let yesterday = Instant::now().plus_seconds(-(24 * 3600 + 1));
    let issued = app
        .core
        .admin
        .issue_access_code(
            UserId::parse(&gus).unwrap(),
            REASON,
            Actor::System,
            &Default::default(),
            yesterday,
        )
        .await
        .unwrap();
    assert_eq!(
        log_in_with(&app, "gus", &issued.code.display()).await.0,
        421
    );
    let report = app.core.store.sweep_expired(Instant::now()).await.unwrap();
    assert_eq!(report.access_codes, 1, "housekeeping forgets it");
}

#[tokio::test]
async fn wrong_access_codes_count_against_the_accounts_failure_limit() {
    let app = spawn_app().await;
    app.put_two_factor_settings(json!({"failureLimit": 3}))
        .await;
    let hal = user_with_a_lost_phone(&app, "hal").await;
    let code = issued(&app, &hal).await;
    let wrong = tessera::otp::AccessCode::generate().display();
    for _ in 0..3 {
        assert_eq!(log_in_with(&app, "hal", &wrong).await.0, 421);
    }
    let failures = app
        .audit(&format!("userId={hal}&event=two_factor.failure"))
        .await;
    assert_eq!(failures.len(), 3, "each a normal failed code");
    assert!(failures.iter().all(|f| f["details"]["context"] == "login"));
    // Past the limit, the next login is refused before its code is looked at.
    let (status, _) = app
        .login_json(json!({"loginId": "hal", "password": PASSWORD}))
        .await;
    assert_eq!(status, 429);
    app.with_key(Method::POST, &format!("/api/system/users/{hal}/unlock"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        log_in_with(&app, "hal", &code).await.0,
        200,
        "the wrong ones did not spend the right one"
    );
}

#[tokio::test]
async fn the_same_code_used_ten_times_at_once_logs_in_exactly_once() {
    let app = spawn_app().await;
    same_code_ten_times_at_once(&[app]).await;
}

#[tokio::test]
async fn the_same_code_used_ten_times_at_once_over_two_servers_logs_in_exactly_once() {
    let app = spawn_app().await;
    let other = app.another_node().await;
    same_code_ten_times_at_once(&[app, other]).await;
}

/// Ten logins of one user opened on the nodes in turn, finished all at once with one code.
async fn same_code_ten_times_at_once(nodes: &[TestApp]) {
    const BURST: usize = 10;
    let app = &nodes[0];
    // Every guess is checked: what decides is the one-time rule, not the failure limit.
    app.put_two_factor_settings(json!({"failureLimit": 100}))
        .await;
    let ivy = user_with_a_lost_phone(app, "ivy").await;
    let code = issued(app, &ivy).await;
    let mut requests = Vec::new();
    for i in 0..BURST {
        let node = &nodes[i % nodes.len()];
        let challenge = node.start_two_factor("ivy").await;
        let request = node
            .client
            .post(node.url("/api/two-factor/login"))
            .json(&json!({"twoFactorId": challenge, "code": code}));
        requests.push(async move { request.send().await.unwrap().status().as_u16() });
    }
    let statuses = all_at_once(requests).await;
    eprintln!(
        "race: same access code ×{BURST} on {} node(s) → {}",
        nodes.len(),
        tally(&statuses)
    );
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 421).count(), BURST - 1);
    let used = app
        .audit(&format!("userId={ivy}&event=two_factor.access_code_use"))
        .await;
    assert_eq!(used.len(), 1, "{used:?}");
    let logins = app
        .audit(&format!("userId={ivy}&event=login.success"))
        .await;
    let by_code: Vec<_> = logins
        .iter()
        .filter(|l| l["details"]["amr"].to_string().contains("access_code"))
        .collect();
    assert_eq!(by_code.len(), 1, "one session: {logins:?}");
}

#[tokio::test]
async fn issuing_refuses_bad_input_by_name_and_writes_nothing() {
    let app = spawn_app().await;
    let jo = user_with_a_lost_phone(&app, "jo").await;
    let field = |body: &Value, name: &str| body["fieldErrors"][name][0]["code"].clone();

    let (status, body) = issue(&app, &jo, json!({"reason": "  "})).await;
    assert_eq!(
        (status, field(&body, "reason")),
        (400, json!("[blank]reason"))
    );
    let long = "x".repeat(501);
    let (status, body) = issue(&app, &jo, json!({"reason": long})).await;
    assert_eq!(
        (status, field(&body, "reason")),
        (400, json!("[tooLong]reason"))
    );
    let (status, body) = issue(&app, &jo, json!({})).await;
    assert_eq!(status, 400, "no reason: {body}");
    assert!(body["fieldErrors"].get("reason").is_some(), "{body}");
    let (status, body) = issue(&app, &jo, json!({"reason": REASON, "extra": 1})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = issue(&app, &UserId::new().to_string(), json!({"reason": REASON})).await;
    assert_eq!(status, 404);
    let (status, body) = issue(&app, "not-a-user", json!({"reason": REASON})).await;
    assert_eq!(
        (status, field(&body, "userId")),
        (400, json!("[invalid]userId"))
    );

    let response = app
        .with_key(Method::PATCH, &format!("/api/user/{jo}"))
        .json(&json!({"user": {"active": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, body) = issue(&app, &jo, json!({"reason": REASON})).await;
    assert_eq!(
        (status, field(&body, "userId")),
        (400, json!("[inactive]userId"))
    );

    let issues = app
        .audit(&format!("userId={jo}&event=two_factor.access_code_issue"))
        .await;
    assert!(issues.is_empty(), "{issues:?}");
    let live = app
        .core
        .store
        .two_factor()
        .live_access_code(UserId::parse(&jo).unwrap(), Instant::now())
        .await
        .unwrap();
    assert_eq!(live, None);
}

#[tokio::test]
async fn a_code_of_no_shape_is_refused_as_input_and_a_deactivated_user_is_not_let_in() {
    let app = spawn_app().await;
    let kim = user_with_a_lost_phone(&app, "kim").await;
    let code = issued(&app, &kim).await;
    let challenge = app.start_two_factor("kim").await;
    let response = app
        .finish_two_factor(&challenge, &code[..code.len() - 1], json!({}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["fieldErrors"]["code"][0]["code"], "[invalid]code");

    // Deactivated after the code was issued: the login is gone.
    let response = app
        .with_key(Method::PATCH, &format!("/api/user/{kim}"))
        .json(&json!({"user": {"active": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app.finish_two_factor(&challenge, &code, json!({})).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_audit_log_tells_who_issued_the_code_and_why_and_its_use() {
    let app = spawn_app().await;
    let lou = user_with_a_lost_phone(&app, "lou").await;
    let code = issued(&app, &lou).await;
    log_in_with(&app, "lou", &code).await;
    let issue = &app
        .audit(&format!("userId={lou}&event=two_factor.access_code_issue"))
        .await[0];
    assert_eq!(issue["details"]["reason"], REASON);
    assert!(issue["actor"].as_str().unwrap().starts_with("api-key:"));
    let used = &app
        .audit(&format!("userId={lou}&event=two_factor.access_code_use"))
        .await[0];
    assert_eq!(
        used["details"]["accessCodeId"],
        issue["details"]["accessCodeId"]
    );
    assert_eq!(used["details"]["then"], "login");
    assert!(!used.to_string().contains(&code), "never the code itself");
    assert!(!issue.to_string().contains(&code), "never the code itself");
}

// The pages.

/// A signed-in administrator `boss` on the pages (the password alone, as this server allows).
async fn console(app: &TestApp) -> Browser {
    app.put_two_factor_settings(json!({"webLoginPolicy": "enabled", "apiLoginPolicy": "enabled"}))
        .await;
    app.create_user("boss", json!({"roles": ["admin"]})).await;
    let mut admin = Browser::new();
    admin.log_in(app, "boss", PASSWORD).await;
    admin
}

/// A page's text as a reader sees it: askama writes an apostrophe as `&#39;`.
async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap().replace("&#39;", "'")
}

#[tokio::test]
async fn the_admin_page_asks_first_then_shows_the_code_once() {
    let app = spawn_app().await;
    let mut admin = console(&app).await;
    let mo = user_with_a_lost_phone(&app, "mo").await;
    let page = text(admin.get(&app, &format!("/admin/users/{mo}")).await).await;
    assert!(page.contains("Issue a one-time access code…"), "{page}");
    let csrf = csrf_in(&page);
    let path = format!("/admin/users/{mo}/access-code");

    // The user page's form, or any answer but the question's own: the question, nothing done.
    for answer in [None, Some("no")] {
        let mut form = vec![("csrf", csrf.as_str()), ("reason", REASON)];
        if let Some(answer) = answer {
            form.push(("confirm", answer));
        }
        let html = text(admin.post(&app, &path, &form).await).await;
        assert!(
            html.contains("Issue a one-time access code for mo?"),
            "{html}"
        );
        assert!(
            html.contains(&format!("value=\"{REASON}\"")),
            "the reason is kept"
        );
    }
    let response = admin
        .post(
            &app,
            &path,
            &[("csrf", &csrf), ("reason", ""), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("say why"));
    assert!(
        app.audit("event=two_factor.access_code_issue")
            .await
            .is_empty()
    );

    let response = admin
        .post(
            &app,
            &path,
            &[("csrf", &csrf), ("reason", REASON), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = text(response).await;
    assert!(html.contains("Access code for mo"), "{html}");
    let code = html
        .split("<code id=\"access-code\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert_eq!(code.len(), 23, "{code}");

    // The user page says a code waits, never the code; the audit log says who and why.
    let page = text(admin.get(&app, &format!("/admin/users/{mo}")).await).await;
    assert!(page.contains("works once until"), "{page}");
    assert!(!page.contains(&code));
    assert!(page.contains(&format!(
        "boss issued a one-time access code for mo: {REASON}"
    )));

    // Revoked from the page: it no longer works.
    let response = admin
        .post(&app, &format!("{path}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        location(&response),
        format!("/admin/users/{mo}?notice=access-code-revoked")
    );
    assert_eq!(log_in_with(&app, "mo", &code).await.0, 421);
}

#[tokio::test]
async fn on_the_pages_the_code_leads_to_an_enrolment_that_cannot_be_skipped() {
    let app = spawn_app().await;
    let ned = user_with_a_lost_phone(&app, "ned").await;
    let code = issued(&app, &ned).await;
    let mut browser = Browser::new();
    assert_eq!(
        location(&browser.log_in(&app, "ned", PASSWORD).await),
        "/login/code"
    );
    let prompt = text(browser.get(&app, "/login/code?alternatives=1").await).await;
    assert!(prompt.contains("Use an access code from your administrator"));
    let prompt = text(browser.get(&app, "/login/code?access=1").await).await;
    assert!(prompt.contains("Access code"), "{prompt}");
    assert!(
        !prompt.contains("Trust this computer"),
        "no trust by access code"
    );

    let response = browser
        .post(
            &app,
            "/login/code",
            &[
                ("csrf", &csrf_in(&prompt)),
                ("method", ""),
                ("code", &code),
                ("access", "1"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/login/enroll");
    // The login now waits the time an enrolment takes (600 s by default), not a code's 300 s.
    let two_factor_id = browser.cookie("tessera_login").unwrap().to_owned();
    let pending = app
        .core
        .two_factor
        .pending_login(&two_factor_id, Instant::now())
        .await
        .unwrap()
        .expect("the login waits");
    assert!(pending.must_enrol());
    assert!(pending.challenge.expires_at > Instant::now().plus_seconds(590));

    // No session yet: every way round leads back to enrolment or to the login.
    assert_eq!(location(&browser.get(&app, "/").await), "/login");
    assert_eq!(location(&browser.get(&app, "/security").await), "/login");
    assert_eq!(
        location(&browser.get(&app, "/login/code").await),
        "/login/enroll"
    );
    let page = text(browser.get(&app, "/login/enroll").await).await;
    assert!(page.contains("The access code from your administrator is accepted"));

    // A new authenticator, then new recovery codes, then the login completes.
    let setup = text(browser.get(&app, "/login/enroll/authenticator").await).await;
    let key: String = setup
        .split("id=\"manual-key\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .split_whitespace()
        .collect();
    let response = browser
        .post(
            &app,
            "/login/enroll/authenticator",
            &[
                ("csrf", &csrf_in(&setup)),
                ("name", "New phone"),
                ("code", &oathtool(&key, 0)),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let recovery = text(response).await;
    assert_eq!(
        recovery.matches("<li><code>").count(),
        10,
        "a new set of recovery codes"
    );
    let completion = recovery
        .split("name=\"completion\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let response = browser
        .post(
            &app,
            "/login/enroll/finish",
            &[
                ("csrf", &csrf_in(&recovery)),
                ("completion", &completion),
                ("saved", "1"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/?welcome=1");
    assert_eq!(browser.get(&app, "/").await.status(), 200, "signed in");
    assert_eq!(app.methods_of(&ned).await.len(), 2, "the old one stays");

    let logins = app
        .audit(&format!("userId={ned}&event=login.success"))
        .await;
    assert_eq!(
        logins[0]["details"]["amr"],
        json!(["pwd", "access_code", "otp", "mfa"])
    );
    let used = app
        .audit(&format!("userId={ned}&event=two_factor.access_code_use"))
        .await;
    assert_eq!(used[0]["details"]["then"], "enrol");
    assert_eq!(log_in_with(&app, "ned", &code).await.0, 421, "used once");
}

#[tokio::test]
async fn a_wrong_code_on_the_pages_says_so_and_leaves_the_prompt() {
    let app = spawn_app().await;
    let ola = user_with_a_lost_phone(&app, "ola").await;
    issued(&app, &ola).await;
    let mut browser = Browser::new();
    browser.log_in(&app, "ola", PASSWORD).await;
    let prompt = text(browser.get(&app, "/login/code?access=1").await).await;
    let wrong = tessera::otp::AccessCode::generate().display();
    let response = browser
        .post(
            &app,
            "/login/code",
            &[
                ("csrf", &csrf_in(&prompt)),
                ("method", ""),
                ("code", &wrong),
                ("access", "1"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = text(response).await;
    assert!(html.contains("That code is not right"), "{html}");
    assert!(
        html.contains("Access code"),
        "still the access code's prompt"
    );
}

#[tokio::test]
async fn an_operator_issues_a_code_from_the_command_line() {
    let cli = Cli::new().await;
    cli.ok(
        &["user", "create", "--username", "pat"],
        &format!("{PASSWORD}\n"),
    );
    cli.ok(&["user", "require-2fa", "pat"], "");
    let error = cli.fails(&["user", "access-code", "pat", "--reason", ""], "");
    assert!(error.contains("reason"), "{error}");
    let printed = cli.ok(&["user", "access-code", "pat", "--reason", REASON], "");
    let code = printed.lines().last().unwrap().trim().to_owned();
    assert_eq!(code.len(), 23, "{printed}");
    assert!(printed.contains("works once until"), "{printed}");

    let (mut server, url, _) = cli.serve_with(std::process::Stdio::null(), &[]);
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{url}/api/login"))
        .json(&json!({"loginId": "pat", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let finished = client
        .post(format!("{url}/api/two-factor/login"))
        .json(&json!({"twoFactorId": login["twoFactorId"], "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(finished.status(), 200);
    Cli::signal(&server, "TERM");
    server.wait().unwrap();
    let revoked = cli.ok(&["user", "access-code", "pat", "--revoke"], "");
    assert!(revoked.contains("no unused access code"), "{revoked}");
}
