//! Access rules kept in a file the configuration names (`forward_auth.access_rules_file`): the
//! decisions follow the file, an edit counts within a second without a restart, an edit that
//! does not read leaves the rules before it, and the API refuses to change them.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tessera::proxies::TrustedProxies;

use crate::forward_auth::no_redirects;
use crate::helpers::{TestApp, spawn_app_with};

const BYPASS: &str =
    "defaultPolicy = \"deny\"\n\n[[rules]]\ndomain = [\"app.example.com\"]\npolicy = \"bypass\"\n";
const DENY: &str =
    "defaultPolicy = \"deny\"\n\n[[rules]]\ndomain = [\"app.example.com\"]\npolicy = \"deny\"\n";

/// Traefik's question about an anonymous page load of `https://app.example.com/`.
async fn decision(app: &TestApp) -> u16 {
    no_redirects()
        .get(app.url("/api/authz/forward-auth"))
        .header("X-Forwarded-Method", "GET")
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "app.example.com")
        .header("X-Forwarded-Uri", "/")
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The decision, asked every 100 ms until it is `wanted` or 3 s have passed.
async fn decision_becomes(app: &TestApp, wanted: u16) -> u16 {
    let started = Instant::now();
    loop {
        let now = decision(app).await;
        if now == wanted || started.elapsed() > Duration::from_secs(3) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_decisions_follow_the_file_and_an_edit_of_it_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access-rules.toml");
    std::fs::write(&file, BYPASS).unwrap();
    let named = file.clone();
    let app = spawn_app_with(move |config| {
        config.trusted_proxies = TrustedProxies::parse(["127.0.0.1", "::1"]).unwrap();
        config.forward_auth.access_rules_file = Some(named);
    })
    .await;
    assert_eq!(decision(&app).await, 200);

    std::fs::write(&file, DENY).unwrap();
    assert_eq!(decision_becomes(&app, 403).await, 403);

    // Half an edit: the rules before stand.
    std::fs::write(
        &file,
        "[[rules]]\nnetworks = [\"10.0.0/8\"]\npolicy = \"bypass\"\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(decision(&app).await, 403);
    std::fs::write(&file, BYPASS).unwrap();
    assert_eq!(decision_becomes(&app, 200).await, 200);

    // The API shows the file's rules and changes nothing.
    let shown: Value = app
        .with_key(Method::GET, "/api/system/access-rules")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown["accessRules"]["rules"][0]["policy"], "bypass",
        "{shown}"
    );
    let refused = app
        .with_key(Method::PUT, "/api/system/access-rules")
        .json(&json!({"accessRules": {"defaultPolicy": "bypass", "rules": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let said: Value = refused.json().await.unwrap();
    assert!(
        said.to_string()
            .contains("access-rules.toml (forward_auth.access_rules_file)"),
        "{said}"
    );
    assert_eq!(decision(&app).await, 200);
}

#[tokio::test]
async fn check_config_names_the_file_the_rule_and_the_field_of_a_problem() {
    let cli = crate::helpers::Cli::new().await;
    let file = cli.dir.path().join("rules.toml");
    std::fs::write(
        &file,
        "[[rules]]\npolicy = \"bypass\"\n\n[[rules]]\nnetworks = [\"10.0.0/8\"]\npolicy = \"deny\"\n",
    )
    .unwrap();
    let checked = cli
        .command()
        .arg("check-config")
        .env("TESSERA_FORWARD_AUTH__ACCESS_RULES_FILE", &file)
        .output()
        .unwrap();
    assert!(!checked.status.success());
    let said = String::from_utf8(checked.stderr).unwrap();
    assert!(
        said.contains(&format!(
            "forward_auth.access_rules_file ({}): rules[1].networks[0]: \"10.0.0/8\" is not a network",
            file.display()
        )),
        "{said}"
    );
    std::fs::write(&file, BYPASS).unwrap();
    let good = cli
        .command()
        .arg("check-config")
        .env("TESSERA_FORWARD_AUTH__ACCESS_RULES_FILE", &file)
        .output()
        .unwrap();
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
}
