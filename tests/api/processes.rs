//! Several `tessera serve` processes on different loopback ports sharing one database and one
//! set of key files, as an operator runs them behind a load balancer: every flow works with its
//! requests spread over them, and every race of `races.rs` keeps its exactly-once results.
//! On PostgreSQL (`TESSERA_TEST_DATABASE_URL`) and on one SQLite file in WAL mode, where the
//! processes wait for each other's write lock (`busy_timeout`) rather than fail.

use std::process::{Child, Stdio};

use serde_json::{Value, json};

use crate::helpers::{Cli, PASSWORD, TestApp, oathtool};
use crate::{races, races_methods};

/// The URL the nodes share: tokens name it as their issuer, so one node's token is valid on all.
const PUBLIC_URL: &str = "http://tessera.test";

/// Running `tessera serve` processes, each seen as a [`TestApp`] (its `core` is an in-process
/// handle on the same database, for the few checks that read it). Killed when dropped, so a
/// failing test leaves no server behind.
struct Cluster {
    nodes: Vec<TestApp>,
    servers: Vec<Child>,
    _cli: Cli,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

/// Starts `count` servers on one fresh database.
async fn cluster(count: usize) -> Cluster {
    let cli = Cli::new().await;
    let data_dir = cli.dir.path().join("data");
    let mut config = crate::helpers::test_config(&cli.dir).await;
    config.database_url = Some(cli.database_url.clone());
    config.data_dir = data_dir;
    config.public_url = Some(PUBLIC_URL.into());
    // Opened before any server starts: the key files and the schema exist once, and the
    // servers load them instead of racing to create them.
    let core = tessera::app::open_core(&config)
        .await
        .expect("the database opens");
    let api_key = core
        .accounts
        .create_api_key(
            "processes",
            tessera::audit::Actor::System,
            tessera::clock::Instant::now(),
        )
        .await
        .expect("an API key")
        .key;
    let mut servers = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..count {
        let (server, address, _) =
            cli.serve_with(Stdio::null(), &[("TESSERA_PUBLIC_URL", PUBLIC_URL)]);
        servers.push(server);
        nodes.push(TestApp {
            address,
            metrics_address: None,
            client: reqwest::Client::new(),
            core: core.clone(),
            api_key: api_key.clone(),
            config: config.clone(),
            data_dir: tempfile::tempdir().expect("a temporary directory"),
        });
    }
    let addresses: std::collections::BTreeSet<&str> =
        nodes.iter().map(|n| n.address.as_str()).collect();
    assert_eq!(addresses.len(), count, "each server on its own port");
    Cluster {
        nodes,
        servers,
        _cli: cli,
    }
}

/// A user's whole life spread over three processes: created on A, enrolled through B, password
/// on C, code on A, token checked on B, logged out on C and then refused on A; a policy set on
/// one process applies on the others; the send limits are one budget for all of them.
#[tokio::test]
async fn three_serve_processes_on_one_database_serve_one_login_across_them() {
    let cluster = cluster(3).await;
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!("three nodes")
    };

    let user = a.create_user("ann", json!({})).await;
    let id = user["id"].as_str().unwrap();
    let (secret, _) = b.enroll_authenticator(id).await;
    let challenge = c.start_two_factor("ann").await;
    let done = a
        .finish_two_factor(&challenge, &oathtool(&secret, 30), json!({}))
        .await;
    assert_eq!(done.status(), 200, "a challenge of C finishes on A");
    let token = done.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let validate = |node: &TestApp| {
        node.client
            .get(node.url("/api/jwt/validate"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(validate(b).await.unwrap().status(), 200, "A's token on B");
    let logout = c
        .client
        .post(c.url("/api/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    assert_eq!(
        validate(a).await.unwrap().status(),
        401,
        "a logout on C ends the session on A"
    );
    let again = b.start_two_factor("ann").await;
    assert_eq!(
        c.finish_two_factor(&again, &oathtool(&secret, 30), json!({}))
            .await
            .status(),
        421,
        "the code spent on A is spent on C"
    );

    b.put_two_factor_settings(json!({"apiLoginPolicy": "required"}))
        .await;
    c.create_user("bo", json!({})).await;
    for node in [a, c] {
        let (status, _) = node
            .login_json(json!({"loginId": "bo", "password": PASSWORD}))
            .await;
        assert_eq!(
            status, 242,
            "the policy set on B applies on {}",
            node.address
        );
    }

    let cy = a.create_user("cy", json!({})).await;
    let cy = cy["id"].as_str().unwrap();
    let delivery: Value = a
        .with_key(reqwest::Method::GET, "/api/system/delivery")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let limit = delivery["delivery"]["fraudGuard"]["perDestination"]["max"]
        .as_u64()
        .unwrap() as usize;
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for i in 0..=limit {
            let node = &cluster.nodes[i % 3];
            statuses.push(
                node.send_enrollment(cy, "sms", "+13035551212")
                    .await
                    .status()
                    .as_u16(),
            );
        }
        statuses
    };
    let mut expected = vec![200; limit];
    expected.push(429);
    assert_eq!(
        statuses, expected,
        "the sends of all three processes count against one limit"
    );
    eprintln!(
        "processes: 3 serve processes on one database: login across them, logout, policy and send limit ({limit}) shared"
    );
}

/// The one-time races across three processes: one TOTP code, one login's SMS code, one recovery
/// code and one Verify API code, each submitted 100 times at once over the processes, succeed
/// exactly once.
#[tokio::test]
async fn codes_raced_across_three_serve_processes_succeed_exactly_once() {
    let cluster = cluster(3).await;
    races::same_totp_code_succeeds_once(&cluster.nodes, "process").await;
    races::same_sms_code_is_approved_once(&cluster.nodes, "process").await;
    races::same_recovery_code_is_used_once(&cluster.nodes, "process").await;
    races::same_verify_code_is_approved_once(&cluster.nodes, "process").await;
}

/// Sends and changes of methods raced across three processes: the send limit holds, the
/// methods end as the answers said, and enrolments during login add one method.
#[tokio::test]
async fn sends_and_method_changes_raced_across_three_serve_processes_stay_consistent() {
    let cluster = cluster(3).await;
    races::concurrent_sends_stay_within_the_send_limit(&cluster.nodes, "process").await;
    races_methods::concurrent_enables_and_disables_end_consistent(&cluster.nodes, "process").await;
    races::enrolments_during_login_at_once_add_one_method(&cluster.nodes, "process").await;
}
