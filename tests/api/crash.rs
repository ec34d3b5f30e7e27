//! Crash safety: the real `tessera serve`, killed with SIGKILL at seeded-random moments under a
//! mixed load, restarts on the same database with every write it acknowledged and delivers
//! every message it accepted, twice only where a kill cut an attempt short.
//!
//! The seed is printed; `TESSERA_CRASH_SEED=<n>` replays a run's kill moments.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{Cli, PASSWORD, oathtool_at};

/// SIGKILLs in one run; the server starts once more than this.
const KILLS: usize = 5;
/// Concurrent clients, each with at most one request in flight.
const CLIENTS: usize = 6;
/// The delivery time-out the test sets. A claim's lease is this plus 5 s, so a message cut
/// short by a kill is sent again about 8 s after its claim.
const TIMEOUT_SECONDS: u64 = 3;
/// The delivery worker holds one claim at a time (`deliver_due` claims, attempts, then claims
/// the next); each client request that sends a code holds at most one more.
const CLAIMS_IN_FLIGHT: usize = CLIENTS + 1;

/// One POST the test's webhook receiver got.
struct Delivery {
    id: String,
    to: String,
    body: String,
    at: std::time::Instant,
}

/// The SMS gateway: a loopback webhook that records every delivery and always answers 200.
#[derive(Clone, Default)]
struct Gateway {
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl Gateway {
    async fn start(&self) -> String {
        let deliveries = self.deliveries.clone();
        let hook = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(payload): axum::Json<Value>| {
                let deliveries = deliveries.clone();
                async move {
                    let field = |name: &str| payload[name].as_str().unwrap_or_default().to_owned();
                    deliveries.lock().unwrap().push(Delivery {
                        id: field("id"),
                        to: field("to"),
                        body: field("body"),
                        at: std::time::Instant::now(),
                    });
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, hook).await });
        url
    }

    /// Ids of the messages delivered to `to` so far.
    fn ids_to(&self, to: &str) -> HashSet<String> {
        let deliveries = self.deliveries.lock().unwrap();
        deliveries
            .iter()
            .filter(|d| d.to == to)
            .map(|d| d.id.clone())
            .collect()
    }

    /// The code of a message to `to` that is not one of `seen`, once it arrives; `None` when
    /// the server was killed first.
    async fn code_for(
        &self,
        to: &str,
        seen: &HashSet<String>,
        stopped: &AtomicBool,
    ) -> Option<String> {
        for _ in 0..250 {
            let found = self
                .deliveries
                .lock()
                .unwrap()
                .iter()
                .find(|d| d.to == to && !seen.contains(&d.id))
                .map(|d| d.body.chars().filter(char::is_ascii_digit).collect());
            if found.is_some() {
                return found;
            }
            if stopped.load(Ordering::SeqCst) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("a code sent to {to} with a 200 did not arrive in 5 s while the server ran");
    }
}

#[derive(Debug, Clone)]
struct User {
    username: String,
    id: String,
    authenticator: bool,
    phone: Option<String>,
}

#[derive(Debug, Clone)]
struct Login {
    username: String,
    token: String,
    /// For authenticator logins: the code and its time step, to replay after the restart.
    totp: Option<(String, i64)>,
}

/// What the server answered with a 2xx.
#[derive(Debug, Default)]
struct Acknowledged {
    users: Vec<User>,
    logins: Vec<Login>,
    /// The destination of each code send answered 200: one message each.
    sends: Vec<String>,
}

impl Acknowledged {
    fn extend(&mut self, other: Acknowledged) {
        self.users.extend(other.users);
        self.logins.extend(other.logins);
        self.sends.extend(other.sends);
    }

    fn writes(&self) -> usize {
        self.users.len()
            + self.users.iter().filter(|u| u.authenticator).count()
            + self.users.iter().filter(|u| u.phone.is_some()).count()
            + self.logins.len()
            + self.sends.len()
    }
}

/// One client's view of the server during one round.
struct Load {
    http: reqwest::Client,
    url: String,
    key: String,
    gateway: Gateway,
    round: usize,
    stopped: Arc<AtomicBool>,
    phones: Arc<AtomicUsize>,
    /// Rounds of one client (a user made, enrolled, logged in, codes sent) that this server
    /// acknowledged to the end: a kill waits for the first.
    completed: Arc<AtomicUsize>,
}

/// A transport error: the server is gone, and the request's outcome is unknown.
#[derive(Debug)]
struct Gone;

impl Load {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Value,
        with_key: bool,
    ) -> Result<(u16, Value), Gone> {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if with_key {
            request = request.header("Authorization", &self.key);
        }
        let response = request.json(&body).send().await.map_err(|_| Gone)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|_| Gone)?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// As `call`, where anything but `expected` is a bug (a kill shows as `Gone`, never as a
    /// status).
    async fn expect(
        &self,
        expected: u16,
        method: Method,
        path: &str,
        body: Value,
        with_key: bool,
    ) -> Result<Value, Gone> {
        let (status, answer) = self.call(method, path, body.clone(), with_key).await?;
        assert_eq!(status, expected, "{path} {body}: {answer}");
        Ok(answer)
    }

    async fn start_login(&self, username: &str) -> Result<Value, Gone> {
        self.expect(
            242,
            Method::POST,
            "/api/login",
            json!({"loginId": username, "password": PASSWORD}),
            false,
        )
        .await
    }

    /// Creates users and enrols, logs in and sends codes until the server is killed.
    async fn run(&self, client: usize, acknowledged: &mut Acknowledged) -> Result<(), Gone> {
        for n in 0.. {
            if self.stopped.load(Ordering::SeqCst) {
                break;
            }
            let username = format!("crash{}x{client}x{n}", self.round);
            let created = self
                .expect(
                    200,
                    Method::POST,
                    "/api/user",
                    json!({"user": {"username": username, "password": PASSWORD}}),
                    true,
                )
                .await?;
            let id = created["user"]["id"].as_str().unwrap().to_owned();
            acknowledged.users.push(User {
                username: username.clone(),
                id: id.clone(),
                authenticator: false,
                phone: None,
            });
            let index = acknowledged.users.len() - 1;

            let secret = tessera::otp::TotpSecret::generate().to_base32();
            let (code, _) = totp(&secret, 0).await;
            self.expect(
                200,
                Method::POST,
                &format!("/api/user/two-factor/{id}"),
                json!({"method": "authenticator", "secretBase32Encoded": secret, "code": code, "name": "Phone"}),
                true,
            )
            .await?;
            acknowledged.users[index].authenticator = true;

            // The enrolment used this step's code; the login uses the next step's.
            let challenge = self.start_login(&username).await?;
            let (code, step) = totp(&secret, 30).await;
            let done = self
                .expect(
                    200,
                    Method::POST,
                    "/api/two-factor/login",
                    json!({"twoFactorId": challenge["twoFactorId"], "code": code}),
                    false,
                )
                .await?;
            acknowledged.logins.push(Login {
                username: username.clone(),
                token: done["token"].as_str().unwrap().to_owned(),
                totp: Some((code, step)),
            });

            // A phone: a queued enrolment code, then a queued login code.
            let phone = format!("+1303555{:04}", self.phones.fetch_add(1, Ordering::SeqCst));
            let seen = self.gateway.ids_to(&phone);
            self.expect(
                200,
                Method::POST,
                "/api/two-factor/send",
                json!({"method": "sms", "mobilePhone": phone, "userId": id}),
                true,
            )
            .await?;
            acknowledged.sends.push(phone.clone());
            let Some(code) = self.gateway.code_for(&phone, &seen, &self.stopped).await else {
                break;
            };
            self.expect(
                200,
                Method::POST,
                &format!("/api/user/two-factor/{id}"),
                json!({"method": "sms", "mobilePhone": phone, "code": code, "name": "Mobile"}),
                true,
            )
            .await?;
            acknowledged.users[index].phone = Some(phone.clone());

            let challenge = self.start_login(&username).await?;
            let sms =
                challenge["methods"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["method"] == "sms")
                    .unwrap_or_else(|| {
                        panic!("{username} logs in with an sms method: {challenge}")
                    })["id"]
                    .clone();
            let seen = self.gateway.ids_to(&phone);
            self.expect(
                200,
                Method::POST,
                &format!(
                    "/api/two-factor/send/{}",
                    challenge["twoFactorId"].as_str().unwrap()
                ),
                json!({"methodId": sms}),
                false,
            )
            .await?;
            acknowledged.sends.push(phone.clone());
            let Some(code) = self.gateway.code_for(&phone, &seen, &self.stopped).await else {
                break;
            };
            let done = self
                .expect(
                    200,
                    Method::POST,
                    "/api/two-factor/login",
                    json!({"twoFactorId": challenge["twoFactorId"], "code": code}),
                    false,
                )
                .await?;
            acknowledged.logins.push(Login {
                username,
                token: done["token"].as_str().unwrap().to_owned(),
                totp: None,
            });
            self.completed.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// The authenticator's code for now + `offset` seconds, and its time step.
async fn totp(secret: &str, offset: i64) -> (String, i64) {
    let at = tessera::clock::Instant::now().seconds() + offset;
    let secret = secret.to_owned();
    let code = tokio::task::spawn_blocking(move || oathtool_at(&secret, at))
        .await
        .unwrap();
    (code, at.div_euclid(30))
}

/// Every message row's id and status, read from the database itself.
async fn stored_messages(database_url: &str) -> Vec<(String, String)> {
    let query = "SELECT id, status FROM messages";
    if database_url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(database_url).await.unwrap();
        sqlx::query_as(query).fetch_all(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.unwrap();
        sqlx::query_as(query).fetch_all(&mut conn).await.unwrap()
    }
}

/// Under a load of user creation, authenticator enrolment, TOTP and SMS logins and queued SMS
/// codes from concurrent clients, the server is SIGKILLed several times at random moments and
/// restarted on the same database. Afterwards every acknowledged write holds (users and their
/// methods exist, a TOTP code accepted before a kill is refused after it, tokens validate),
/// nothing is half-written (each stored user has exactly one creation event in the audit log),
/// every acknowledged message reaches the gateway, and a message arrives twice only when a kill
/// fell between two of its deliveries (at most one claim per client and one for the worker per
/// kill).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkills_under_load_lose_no_acknowledged_write_and_no_message() {
    let seed: u64 = std::env::var("TESSERA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().r#gen());
    eprintln!("crash: seed {seed} (TESSERA_CRASH_SEED={seed} replays it)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let cli = Cli::new().await;
    let created = cli.ok(&["api-key", "create", "--name", "crash"], "");
    let key = created.lines().nth(1).unwrap().trim().to_owned();
    let gateway = Gateway::default();
    let hook = gateway.start().await;
    let phones = Arc::new(AtomicUsize::new(0));
    let mut acknowledged = Acknowledged::default();
    let mut kills = 0;
    // When each restart began: every delivery by an earlier process came before it (the gateway
    // handles a POST in well under the time a restart takes), every one by a later process after.
    let mut restarts: Vec<std::time::Instant> = Vec::new();
    let mut replays_refused = 0;
    let mut previous_round: Vec<Login> = Vec::new();
    let mut per_round = Vec::new();

    let (mut server, url) = loop {
        let round = kills;
        if round > 0 {
            restarts.push(std::time::Instant::now());
        }
        let log =
            std::fs::File::create(cli.dir.path().join(format!("server-{round}.log"))).unwrap();
        let (mut server, url, _) = cli.serve_with(log.into(), &[]);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        if round == 0 {
            let saved = http
                .put(format!("{url}/api/system/delivery"))
                .header("Authorization", &key)
                .json(
                    &json!({"delivery": {"sender": "webhook", "webhook": {"url": hook},
                    "timeoutSeconds": TIMEOUT_SECONDS, "fraudGuard": {"enabled": false}}}),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
        }

        // The replay state is durable: a code accepted before the kill, still inside its time
        // window, is refused after the restart.
        let load = Load {
            http: http.clone(),
            url: url.clone(),
            key: key.clone(),
            gateway: gateway.clone(),
            round,
            stopped: Arc::default(),
            phones: phones.clone(),
            completed: Arc::default(),
        };
        for login in &previous_round {
            let Some((code, step)) = &login.totp else {
                continue;
            };
            if (tessera::clock::Instant::now().seconds().div_euclid(30) - step).abs() > 1 {
                continue;
            }
            let challenge = load
                .start_login(&login.username)
                .await
                .expect("the restarted server answers");
            let (status, _) = load
                .call(
                    Method::POST,
                    "/api/two-factor/login",
                    json!({"twoFactorId": challenge["twoFactorId"], "code": code}),
                    false,
                )
                .await
                .expect("the restarted server answers");
            assert_eq!(
                status, 421,
                "{}'s code was accepted before the kill and again after the restart",
                login.username
            );
            replays_refused += 1;
        }
        if round == KILLS {
            break (server, url);
        }

        let load = Arc::new(load);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let load = load.clone();
                tokio::spawn(async move {
                    let mut acknowledged = Acknowledged::default();
                    // `Gone` ends the round for this client: the server was killed.
                    let _ = load.run(client, &mut acknowledged).await;
                    acknowledged
                })
            })
            .collect();
        // The kill comes at a random moment after a client's first whole round, so that every
        // round has writes, sends and logins to lose even on a machine slowed by other work.
        let completed = load.completed.clone();
        let first_round = async {
            while completed.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), first_round)
            .await
            .expect("a client finished a round within a minute");
        tokio::time::sleep(Duration::from_millis(rng.gen_range(800..2400))).await;
        Cli::signal(&server, "KILL");
        server.wait().unwrap();
        kills += 1;
        load.stopped.store(true, Ordering::SeqCst);
        let mut this_round = Acknowledged::default();
        for client in clients {
            this_round.extend(client.await.unwrap());
        }
        per_round.push(this_round.writes());
        previous_round = this_round.logins.clone();
        acknowledged.extend(this_round);
    };
    let http = reqwest::Client::new();

    // The queue drains: every stored message is sent, including those whose claim a kill left
    // behind (due again when the lease runs out).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let stored = loop {
        let stored = stored_messages(&cli.database_url).await;
        if stored.iter().all(|(_, status)| status == "sent") || std::time::Instant::now() > deadline
        {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut failures: Vec<String> = Vec::new();
    failures.extend(
        stored
            .iter()
            .filter(|(_, status)| status != "sent")
            .map(|(id, status)| format!("message {id} is still {status}")),
    );

    let mut lost = 0;
    for user in &acknowledged.users {
        let found = http
            .get(format!("{url}/api/user?username={}", user.username))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap();
        if found.status() != 200 {
            lost += 1;
            failures.push(format!("{} was acknowledged, then lost", user.username));
            continue;
        }
        let found: Value = found.json().await.unwrap();
        assert_eq!(found["user"]["id"], user.id.as_str());
        let methods = found["user"]["twoFactor"]["methods"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if user.authenticator && !methods.iter().any(|m| m["method"] == "authenticator") {
            lost += 1;
            failures.push(format!("{}'s authenticator was lost", user.username));
        }
        if let Some(phone) = &user.phone {
            let last4 = &phone[phone.len() - 4..];
            if !methods.iter().any(|m| {
                m["method"] == "sms"
                    && m["mobilePhone"]
                        .as_str()
                        .unwrap_or_default()
                        .ends_with(last4)
            }) {
                lost += 1;
                failures.push(format!("{}'s phone {phone} was lost", user.username));
            }
        }
    }
    for login in &acknowledged.logins {
        let validated = http
            .get(format!("{url}/api/jwt/validate"))
            .bearer_auth(&login.token)
            .send()
            .await
            .unwrap();
        if validated.status() != 200 {
            lost += 1;
            failures.push(format!("{}'s token no longer validates", login.username));
        }
    }

    // Every acknowledged send reached the gateway; a second delivery of one message is only
    // one a kill cut short (delivered, not yet recorded as sent).
    let deliveries: Vec<(String, String, std::time::Instant)> = gateway
        .deliveries
        .lock()
        .unwrap()
        .iter()
        .map(|d| (d.id.clone(), d.to.clone(), d.at))
        .collect();
    let mut by_id: BTreeMap<&str, Vec<std::time::Instant>> = BTreeMap::new();
    let mut ids_to: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
    for (id, to, at) in &deliveries {
        by_id.entry(id).or_default().push(*at);
        ids_to.entry(to).or_default().insert(id);
    }
    let mut sends_to: BTreeMap<&str, usize> = BTreeMap::new();
    for phone in &acknowledged.sends {
        *sends_to.entry(phone).or_default() += 1;
    }
    let mut messages_lost = 0;
    for (phone, sent) in &sends_to {
        let delivered = ids_to.get(phone).map_or(0, HashSet::len);
        if delivered < *sent {
            messages_lost += sent - delivered;
            failures.push(format!(
                "{sent} sends to {phone} acknowledged, {delivered} delivered"
            ));
        }
    }
    let mut again = 0;
    for (id, times) in &by_id {
        for pair in times.windows(2) {
            again += 1;
            if !restarts
                .iter()
                .any(|restart| pair[0] < *restart && *restart < pair[1])
            {
                failures.push(format!(
                    "message {id} was delivered twice by the same server process"
                ));
            }
        }
    }
    let allowed = kills * CLAIMS_IN_FLIGHT;
    if again > allowed {
        failures.push(format!("{again} repeated deliveries, more than {allowed}"));
    }
    let stored_ids: HashSet<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    let delivered_ids: HashSet<&str> = by_id.keys().copied().collect();
    if stored_ids != delivered_ids {
        failures.push(format!(
            "{} messages stored, {} delivered: they differ",
            stored_ids.len(),
            delivered_ids.len()
        ));
    }

    // Nothing half-written: each stored user (acknowledged or not) has exactly one creation
    // event, because the two commit together.
    let mut audited: Vec<String> = Vec::new();
    loop {
        let page: Value = http
            .get(format!(
                "{url}/api/system/audit-log?event=user.create&limit=1000&offset={}",
                audited.len()
            ))
            .header("Authorization", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let events = page["auditLogs"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        audited.extend(
            events
                .iter()
                .map(|event| event["target"].as_str().unwrap().to_owned()),
        );
    }
    Cli::signal(&server, "TERM");
    assert!(server.wait().unwrap().success(), "a graceful stop exits 0");
    let listed = cli.ok(&["user", "list", "--limit", "100000"], "");
    let ids_of = |crash_users: bool| -> Vec<String> {
        listed
            .lines()
            .skip(1)
            .filter(|line| line.contains(" crash") == crash_users)
            .map(|line| line.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    let (mut stored_users, others) = (ids_of(true), ids_of(false));
    // The first administrator was created at the first start; only the load is compared.
    audited.retain(|target| !others.contains(target));
    stored_users.sort();
    audited.sort();
    if audited != stored_users {
        failures.push(format!(
            "{} users stored, {} creation events: not one each",
            stored_users.len(),
            audited.len()
        ));
    }

    let delivered = acknowledged.sends.len() - messages_lost;
    eprintln!(
        "crash: {} SIGKILLs, {} acknowledged writes (per round {per_round:?}), {lost} lost; \
         {} TOTP replays refused after restarts; {} messages acknowledged, {delivered} delivered, \
         {again} delivered twice (≤ {allowed} allowed)",
        kills,
        acknowledged.writes(),
        replays_refused,
        acknowledged.sends.len(),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A run that wrote nothing, sent nothing or replayed nothing would prove nothing.
    assert!(
        per_round.iter().all(|writes| *writes > 0),
        "every round acknowledged writes before its kill: {per_round:?}"
    );
    assert!(!acknowledged.sends.is_empty() && replays_refused > 0);
}
