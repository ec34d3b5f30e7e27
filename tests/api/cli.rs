//! The `tessera` binary as an operator uses it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::helpers::Cli;

#[tokio::test]
async fn help_documents_every_command() {
    let cli = Cli::new().await;
    let help = cli.ok(&["--help"], "");
    for command in ["serve", "check-config", "migrate", "user", "api-key"] {
        assert!(help.contains(command), "{command}");
    }
    let user_help = cli.ok(&["user", "--help"], "");
    for command in [
        "create",
        "list",
        "show",
        "set-password",
        "set-phone",
        "disable",
        "enable",
    ] {
        assert!(user_help.contains(command), "{command}");
    }
}

#[tokio::test]
async fn serve_creates_the_first_admin_prints_its_password_once_and_stops_on_sigterm() {
    let cli = Cli::new().await;
    let start = || {
        cli.command()
            .arg("serve")
            .env("TESSERA_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut server = start();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut url = None;
    let mut password = None;
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.strip_prefix("Log in at ") {
            url = rest
                .split_whitespace()
                .next()
                .map(|u| u.trim_end_matches("/login").to_owned());
        }
        if let Some(rest) = line.trim().strip_prefix("password: ") {
            password = Some(rest.to_owned());
            break;
        }
    }
    let (url, password) = (
        url.expect("the URL is printed"),
        password.expect("the password is printed"),
    );

    let client = reqwest::Client::new();
    let response = client
        .post(format!("{url}/api/login"))
        .json(&serde_json::json!({"loginId": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    // The printed password is right but temporary: the first login asks for one of one's own.
    assert_eq!(response.status(), 203);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["changePasswordReason"], "Administrative", "{body}");
    let link = body["changePasswordId"].as_str().unwrap();
    let own = "the administrator's own passphrase";
    let response = client
        .post(format!("{url}/api/user/change-password/{link}"))
        .json(&serde_json::json!({"password": own}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .post(format!("{url}/api/login"))
        .json(&serde_json::json!({"loginId": "admin", "password": own}))
        .send()
        .await
        .unwrap();
    // The administrator must now enrol a second factor.
    assert_eq!(response.status(), 242);
    let body: Value = response.json().await.unwrap();
    assert!(body["twoFactorId"].is_string(), "{body}");

    let stop = |child: &mut std::process::Child| {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap()
    };
    assert!(stop(&mut server).success(), "a graceful stop exits 0");

    let signing_key = std::fs::read(cli.dir.path().join("data/signing.key")).unwrap();
    let mut second = start();
    let mut output = String::new();
    let mut lines = BufReader::new(second.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        output.push_str(&line);
        if line.starts_with("Log in at") {
            break;
        }
    }
    stop(&mut second);
    assert!(
        !output.contains("password:"),
        "the password is shown only on the first start"
    );
    assert_eq!(
        std::fs::read(cli.dir.path().join("data/signing.key")).unwrap(),
        signing_key
    );
}

#[tokio::test]
async fn users_are_managed_from_the_command_line_with_passwords_on_stdin() {
    let cli = Cli::new().await;
    let created = cli.ok(
        &[
            "user",
            "create",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--phone",
            "+44 20 7946 0958",
            "--admin",
        ],
        "a long enough password\n",
    );
    assert!(created.contains("created user ops"), "{created}");

    let shown = cli.ok(&["user", "show", "ops@example.com"], "");
    assert!(shown.contains("+442079460958"), "{shown}");
    assert!(shown.contains("admin, user"), "{shown}");

    let listed = cli.ok(&["user", "list"], "");
    assert!(listed.contains("ops@example.com"));

    cli.ok(&["user", "set-phone", "ops", "+1 303 555 1212"], "");
    assert!(
        cli.ok(&["user", "show", "ops"], "")
            .contains("+13035551212")
    );
    let refused = cli.fails(&["user", "set-phone", "ops", "12345"], "");
    assert!(refused.contains("mobilePhone"), "{refused}");
    cli.ok(&["user", "set-phone", "ops", "--clear"], "");

    // The only administrator cannot be disabled; with a second one, it can.
    assert!(
        cli.fails(&["user", "disable", "ops"], "")
            .contains("administrator must remain")
    );
    cli.ok(
        &["user", "create", "--username", "chief", "--admin"],
        "another long password\n",
    );
    cli.ok(&["user", "disable", "ops"], "");
    assert!(
        cli.ok(&["user", "show", "ops"], "")
            .contains("active:              false")
    );
    cli.ok(&["user", "enable", "ops"], "");

    cli.ok(&["user", "set-password", "ops"], "another long password\n");
    assert!(
        cli.ok(&["user", "show", "ops"], "")
            .contains("temporary password:  false")
    );
    cli.ok(
        &["user", "set-password", "ops", "--temporary"],
        "a temporary long password\n",
    );
    assert!(
        cli.ok(&["user", "show", "ops"], "")
            .contains("temporary password:  true")
    );
    assert!(
        cli.ok(&["user", "invite", "ops"], "")
            .contains("invited ops")
    );
    let short = cli.fails(&["user", "set-password", "ops"], "short\n");
    assert!(short.contains("at least 8"), "{short}");
    let empty = cli.fails(&["user", "create", "--username", "x"], "");
    assert!(empty.contains("no password"), "{empty}");
    let missing = cli.fails(&["user", "show", "nobody"], "");
    assert!(missing.contains("no user"), "{missing}");
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_without_the_key_and_revoked() {
    let cli = Cli::new().await;
    let created = cli.ok(&["api-key", "create", "--name", "deploy"], "");
    let id = created.split_whitespace().nth(2).unwrap().to_owned();
    let key = created.lines().nth(1).unwrap().trim().to_owned();
    assert!(key.len() >= 40);

    let listed = cli.ok(&["api-key", "list"], "");
    assert!(listed.contains("deploy") && listed.contains(&id) && listed.contains("active"));
    assert!(!listed.contains(&key));

    cli.ok(&["api-key", "revoke", &id], "");
    assert!(cli.ok(&["api-key", "list"], "").contains("revoked"));
    assert!(
        cli.fails(&["api-key", "revoke", &id], "")
            .contains("no such API key")
    );
}

#[tokio::test]
async fn bad_configuration_stops_with_one_line_naming_the_problem() {
    let cli = Cli::new().await;
    let unknown = cli.run(&["check-config"], "");
    assert!(unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("configuration is valid"));

    let typo = cli
        .command()
        .arg("check-config")
        .env("TESSERA_LISTN", "x")
        .output()
        .unwrap();
    assert!(!typo.status.success());
    let stderr = String::from_utf8(typo.stderr).unwrap();
    assert!(stderr.contains("listn"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let config_file = cli.dir.path().join("tessera.toml");
    std::fs::write(&config_file, "listen = 8080\n").unwrap();
    let wrong_type = cli
        .command()
        .args(["--config", config_file.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert!(!wrong_type.status.success());

    // Each start listens on a port of its own, so that only the fault under test can stop it.
    let unreachable = cli
        .command()
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    let stderr = String::from_utf8(unreachable.stderr).unwrap();
    assert!(stderr.contains("cannot open database"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let blocked = cli.dir.path().join("a-file");
    std::fs::write(&blocked, "").unwrap();
    let unwritable = cli
        .command()
        .arg("serve")
        .env("TESSERA_LISTEN", "127.0.0.1:0")
        .env("TESSERA_DATA_DIR", blocked.join("data"))
        .output()
        .unwrap();
    assert!(!unwritable.status.success());
    let stderr = String::from_utf8(unwritable.stderr).unwrap();
    assert!(stderr.contains("cannot create data directory"), "{stderr}");
}

#[tokio::test]
async fn operators_require_and_reset_second_factors_and_edit_settings_from_the_command_line() {
    let cli = Cli::new().await;
    cli.ok(
        &["user", "create", "--username", "eve"],
        "a long enough password\n",
    );
    assert!(
        cli.ok(&["user", "require-2fa", "eve"], "")
            .contains("must now")
    );
    assert!(
        cli.ok(&["user", "show", "eve"], "")
            .contains("two-factor required: true")
    );
    cli.ok(&["user", "require-2fa", "eve", "--off"], "");
    assert!(
        cli.ok(&["user", "show", "eve"], "")
            .contains("two-factor required: false")
    );
    let reset = cli.ok(
        &["user", "reset-2fa", "eve", "--reason", "lost her phone"],
        "",
    );
    assert!(reset.contains("0 second factors removed"), "{reset}");
    assert!(
        cli.fails(&["user", "reset-2fa", "eve", "--reason", ""], "")
            .contains("reason")
    );

    let shown = cli.ok(&["settings", "get", "two_factor"], "");
    let parsed: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(
        parsed["two_factor"]["webLoginPolicy"],
        "required_for_admins"
    );
    cli.ok(
        &["settings", "set", "two_factor"],
        r#"{"webLoginPolicy": "required", "trustDays": 7}"#,
    );
    let shown: serde_json::Value =
        serde_json::from_str(&cli.ok(&["settings", "get", "two_factor"], "")).unwrap();
    assert_eq!(shown["two_factor"]["webLoginPolicy"], "required");
    assert_eq!(shown["two_factor"]["trustDays"], 7);
    assert!(
        cli.fails(&["settings", "set", "two_factor"], r#"{"trustDays": 0}"#)
            .contains("trustDays")
    );
    assert!(
        cli.fails(&["settings", "set", "two_factor"], "not json")
            .contains("not valid")
    );
    assert!(
        cli.fails(&["settings", "get", "colours"], "")
            .contains("unknown settings")
    );
    let everything = cli.ok(&["settings", "get"], "");
    assert!(everything.contains("\"delivery\"") && everything.contains("\"welcome\""));
    assert!(everything.contains("\"notices\""));
    cli.ok(
        &["settings", "set", "notices"],
        r#"{"sms": true, "kinds": ["newComputer"]}"#,
    );
    let notices: serde_json::Value =
        serde_json::from_str(&cli.ok(&["settings", "get", "notices"], "")).unwrap();
    assert_eq!(
        notices["notices"]["kinds"],
        serde_json::json!(["newComputer"])
    );
    let refused = cli.fails(
        &["settings", "set", "notices"],
        r#"{"templates": {"newComputer.body": "no link"}}"#,
    );
    assert!(
        refused.contains("\"newComputer.body\"") && refused.contains("{link}"),
        "{refused}"
    );
}

/// Everything the server writes while users enrol, log in with their phones and renew their
/// tokens, at the most talkative log level: it names masked numbers only, and never a password,
/// key, message, code or token.
#[tokio::test]
async fn logs_never_carry_full_phone_numbers_passwords_keys_messages_codes_or_tokens() {
    const PHONE: &str = "+14155550123";
    const NEW_PHONE: &str = "+14155550188";
    const SECRET_PASSWORD: &str = "a very secret passphrase";
    const MAIL_PASSWORD: &str = "the mail server's passphrase";
    const HOOK_SECRET: &str = "the gateway's signing secret";
    let cli = Cli::new().await;
    let created = cli.ok(&["api-key", "create", "--name", "logs"], "");
    let key = created.lines().nth(1).unwrap().trim().to_owned();
    let log_file = cli.dir.path().join("server.log");
    let (mut server, url, printed) = cli.serve_with(
        std::fs::File::create(&log_file).unwrap().into(),
        &[("TESSERA_LOG_LEVEL", "trace")],
    );

    let client = reqwest::Client::new();
    let api = |method: reqwest::Method, path: &str, body: Value| {
        client
            .request(method, format!("{url}{path}"))
            .header("Authorization", &key)
            .json(&body)
            .send()
    };
    let newest_message = || async {
        let outbox: Value = client
            .get(format!("{url}/dev/outbox.json"))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let body = outbox[0]["body"].as_str().unwrap().to_owned();
        let code: String = body.chars().filter(char::is_ascii_digit).collect();
        (body, code)
    };
    let post = reqwest::Method::POST;

    let user: Value = api(
        post.clone(),
        "/api/user",
        json!({"user": {"username": "lou", "password": SECRET_PASSWORD}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = user["user"]["id"].as_str().unwrap().to_owned();
    let sent = api(
        post.clone(),
        "/api/two-factor/send",
        json!({"method": "sms", "mobilePhone": PHONE, "userId": id}),
    )
    .await
    .unwrap();
    assert_eq!(sent.status(), 200);
    let (enrol_message, enrol_code) = newest_message().await;
    let enabled = api(
        post.clone(),
        &format!("/api/user/two-factor/{id}"),
        json!({"method": "sms", "code": enrol_code}),
    )
    .await
    .unwrap();
    assert_eq!(enabled.status(), 200);

    let challenge: Value = api(
        post.clone(),
        "/api/login",
        json!({"loginId": "lou", "password": SECRET_PASSWORD}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap().to_owned();
    let method_id = challenge["methods"][0]["id"].as_str().unwrap().to_owned();
    api(
        post.clone(),
        &format!("/api/two-factor/send/{two_factor_id}"),
        json!({"methodId": method_id}),
    )
    .await
    .unwrap();
    let (login_message, login_code) = newest_message().await;
    let wrong = api(
        post.clone(),
        "/api/two-factor/login",
        json!({"twoFactorId": two_factor_id, "code": "000000"}),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 421);
    let done = api(
        post.clone(),
        "/api/two-factor/login",
        json!({"twoFactorId": two_factor_id, "code": login_code}),
    )
    .await
    .unwrap();
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    let access_token = done["token"].as_str().expect("an access token").to_owned();
    let refresh_token = done["refreshToken"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    // The tokens pass through the server again: one is checked, the other renewed.
    let validated = client
        .get(format!("{url}/api/jwt/validate"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(validated.status(), 200);
    let renewed = client
        .post(format!("{url}/api/jwt/refresh"))
        .json(&json!({"refreshToken": refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
    let renewed: Value = renewed.json().await.unwrap();
    let renewed_access_token = renewed["token"].as_str().expect("a new access token");
    let renewed_refresh_token = renewed["refreshToken"]
        .as_str()
        .expect("a new refresh token");
    let changed = api(
        reqwest::Method::PUT,
        &format!("/api/system/users/{id}/phone"),
        json!({"mobilePhone": NEW_PHONE, "reason": "lost the old phone"}),
    )
    .await
    .unwrap();
    assert_eq!(changed.status(), 200);
    // The senders' secrets, saved and then used by a test message through each sender.
    let smtp = crate::fake_smtp::FakeSmtp::start().await;
    let hook = crate::fake_webhook::FakeWebhook::start().await;
    let saved = api(
        reqwest::Method::PUT,
        "/api/system/delivery",
        json!({"delivery": {
            "smtp": {"host": "127.0.0.1", "port": smtp.port(), "tls": "none",
                     "username": "tessera", "password": MAIL_PASSWORD, "from": "login@example.com"},
            "webhook": {"url": hook.url, "secret": HOOK_SECRET}}}),
    )
    .await
    .unwrap();
    assert_eq!(saved.status(), 200);
    for (sender, to) in [("smtp", "lou@example.com"), ("webhook", NEW_PHONE)] {
        let tested: Value = api(
            post.clone(),
            "/api/system/delivery/test",
            json!({"sender": sender, "to": to}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(tested["delivered"], true, "{sender}: {tested}");
    }
    assert_eq!(
        smtp.received()[0].login.as_ref().map(|(_, p)| p.as_str()),
        Some(MAIL_PASSWORD)
    );
    assert_eq!(hook.received().len(), 1);

    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
    let printed = printed.join().unwrap().join("\n");
    let logs = std::fs::read_to_string(&log_file).unwrap() + &printed;

    assert!(
        logs.contains("two-factor login succeeded") && logs.lines().count() > 20,
        "the log is talkative enough to prove something:\n{logs}"
    );
    assert!(
        logs.contains("•••• 0123"),
        "deliveries are logged with the number masked:\n{logs}"
    );
    // Each value looked for below was captured, so that not finding it means something.
    for code in [&enrol_code, &login_code] {
        assert!(
            code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
            "a code of six digits: {code:?}"
        );
        assert!(
            !holds_the_number(&logs, code),
            "the logs name a code sent ({code})"
        );
    }
    for (token, what) in [
        (access_token.as_str(), "the access token"),
        (renewed_access_token, "the renewed access token"),
        (refresh_token.as_str(), "the refresh token"),
        (renewed_refresh_token, "the renewed refresh token"),
    ] {
        assert!(token.len() >= 20, "{what} was captured: {token:?}");
        assert!(!logs.contains(token), "the logs name {what}");
    }
    for (token, what) in [
        (access_token.as_str(), "the access token"),
        (renewed_access_token, "the renewed access token"),
    ] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            token.split('.').count() == 3 && signature.len() >= 20,
            "{what} is a JWT: {token}"
        );
        assert!(
            !logs.contains(signature),
            "the logs name the signature of {what}"
        );
    }
    for (secret, what) in [
        ("4155550123", "the enrolled phone number"),
        ("4155550188", "the phone number set by the administrator"),
        (SECRET_PASSWORD, "the password"),
        (MAIL_PASSWORD, "the SMTP password"),
        (HOOK_SECRET, "the webhook secret"),
        (key.as_str(), "the API key"),
        (two_factor_id.as_str(), "the twoFactorId"),
        (enrol_message.as_str(), "the enrolment message"),
        (login_message.as_str(), "the login message"),
    ] {
        assert!(!logs.contains(secret), "the logs name {what}");
    }
}

/// Whether `digits` stand in `logs` as a number of their own: not inside a longer number, nor
/// as the fraction of a timestamp or timing (`14:04:00.374891Z`, `elapsed=1.069071ms`), which
/// six digits of a code would match by chance.
fn holds_the_number(logs: &str, digits: &str) -> bool {
    logs.match_indices(digits).any(|(at, _)| {
        let before = logs[..at].chars().next_back();
        let after = logs[at + digits.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// The start banner says who may read the development outbox (administrators, unless
/// `delivery.outbox_public` opens it), and where the metrics are served without a key.
#[tokio::test]
async fn the_banner_says_who_may_read_the_outbox() {
    let cli = Cli::new().await;
    let banner = async |env: &[(&str, &str)]| {
        let (mut server, url, printed) = cli.serve_with(Stdio::null(), env);
        // The banner is written whole before the server answers.
        let mut tries = 0;
        while !reqwest::get(format!("{url}/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            tries += 1;
            assert!(tries < 100, "the server answers");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Cli::signal(&server, "TERM");
        server.wait().unwrap();
        printed.join().unwrap().join("\n")
    };
    let default = banner(&[]).await;
    assert!(default.contains("/dev/outbox"), "{default}");
    assert!(default.contains("for administrators"), "{default}");
    assert!(!default.contains("Metrics"), "{default}");

    let open = banner(&[
        ("TESSERA_DELIVERY__OUTBOX_PUBLIC", "true"),
        ("TESSERA_METRICS__LISTEN", "127.0.0.1:0"),
    ])
    .await;
    assert!(open.contains("open to anyone"), "{open}");
    assert!(
        open.contains("Metrics without a key on this machine: http://127.0.0.1:"),
        "{open}"
    );
}

/// The kids a server publishes at `/oauth2/jwks`.
async fn published_kids(url: &str) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{url}/oauth2/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Asks the server until it publishes `count` keys (it looks at the directory at most once a
/// second); answers them.
async fn until_published(url: &str, count: usize) -> Vec<String> {
    for _ in 0..200 {
        let kids = published_kids(url).await;
        if kids.len() == count {
            return kids;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server never published {count} keys");
}

#[tokio::test]
async fn oidc_keys_are_rotated_and_retired_from_the_command_line_and_a_running_server_follows() {
    let cli = Cli::new().await;
    let listed = cli.ok(&["oidc", "keys", "list"], "");
    assert_eq!(listed.matches(" yes").count(), 2, "{listed}");
    let (mut server, url, _) = cli.serve_with(Stdio::null(), &[]);
    let first = until_published(&url, 2).await;

    let rotated = cli.ok(&["oidc", "keys", "rotate", "--algorithm", "ES256"], "");
    assert!(rotated.contains("sign from now on"), "{rotated}");
    let listed = cli.ok(&["oidc", "keys", "list"], "");
    assert_eq!(listed.lines().filter(|l| l.contains("ES256")).count(), 2);
    assert_eq!(listed.matches(" no").count(), 1, "{listed}");
    let kids = until_published(&url, 3).await;
    assert!(
        first.iter().all(|kid| kids.contains(kid)),
        "the old keys stay"
    );

    let refused = cli.fails(&["oidc", "keys", "retire"], "");
    assert!(refused.contains("nothing was removed"), "{refused}");
    assert!(refused.contains("Retire possible:"), "{refused}");
    assert!(refused.contains("UTC"), "names when: {refused}");
    let unknown = cli.fails(&["oidc", "keys", "retire", "no-such-kid"], "");
    assert!(
        unknown.contains("no key has the id no-such-kid"),
        "{unknown}"
    );
    assert_eq!(published_kids(&url).await.len(), 3);

    let retired = cli.ok(&["oidc", "keys", "retire", "--force"], "");
    assert!(
        retired.contains("retired") && retired.contains("ES256"),
        "{retired}"
    );
    let kids = until_published(&url, 2).await;
    assert!(
        !kids.iter().all(|kid| first.contains(kid)),
        "the old ES256 key is gone"
    );
    assert!(
        cli.ok(&["oidc", "keys", "retire"], "")
            .contains("no key to retire")
    );
    let audit = cli.ok(&["oidc", "keys", "list"], "");
    assert_eq!(audit.matches(" yes").count(), 2);

    Cli::signal(&server, "TERM");
    server.wait().unwrap();
}
