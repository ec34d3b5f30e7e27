//! `spawn_app()`: a real Tessera on a free loopback port with a fresh database — a SQLite file
//! in a temporary directory, or, when `TESSERA_TEST_DATABASE_URL` is set, a fresh schema of that
//! PostgreSQL database.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};
use sqlx::Connection;
use tempfile::TempDir;
use tessera::app::Application;
use tessera::audit::Actor;
use tessera::clock::Instant;
use tessera::config::Config;
use tessera::core::Core;

pub const PASSWORD: &str = "correct horse battery";

#[allow(dead_code)] // Not every test reads every part.
pub struct TestApp {
    pub address: String,
    /// `http://…` of the metrics-only listener, when `metrics.listen` asks for one.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub core: Core,
    pub api_key: String,
    pub config: Config,
    pub data_dir: TempDir,
}

/// A database URL for one test: its own SQLite file, or its own PostgreSQL schema.
pub async fn fresh_database_url(data_dir: &std::path::Path) -> String {
    match std::env::var("TESSERA_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("t_{}_{}", unix_seconds(), uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&base)
                .await
                .expect("TESSERA_TEST_DATABASE_URL must reach PostgreSQL");
            drop_schemas_of_earlier_runs(&base).await;
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await
                .expect("create a test schema");
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}options=-c%20search_path%3D{schema}")
        }
        _ => format!("sqlite://{}", data_dir.join("tessera.db").display()),
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Each run leaves its schemas behind (a test cannot clean up after itself once its server
/// runs detached); the first test of a later run drops those more than two hours old, so that
/// runs sharing the database at the same time leave each other's schemas alone.
async fn drop_schemas_of_earlier_runs(base: &str) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let mut conn = sqlx::PgConnection::connect(base).await.expect("PostgreSQL");
        let schemas: Vec<String> = sqlx::query_scalar(
            "SELECT schema_name::text FROM information_schema.schemata WHERE schema_name LIKE 't\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list schemas");
        let cutoff = unix_seconds().saturating_sub(2 * 3600);
        for schema in schemas {
            // `t_<seconds>_<uuid>`; older names without the time count as old.
            let made = schema
                .split('_')
                .nth(1)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            if made > cutoff {
                continue;
            }
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await
                .expect("drop an old schema");
        }
    })
    .await;
}

/// The configuration tests run with: cheap Argon2 parameters (the real ones are exercised by the
/// benchmark), everything else at its default.
pub async fn test_config(data_dir: &TempDir) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        public_url: Some("http://tessera.test".into()),
        database_url: Some(fresh_database_url(data_dir.path()).await),
        data_dir: data_dir.path().to_owned(),
        argon2: tessera::config::Argon2Config {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 4,
        },
        database: tessera::config::DatabaseConfig { max_connections: 8 },
        ..Config::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_logs();
    let data_dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = test_config(&data_dir).await;
    adjust(&mut config);
    let application = Application::build(&config).await.expect("the app builds");
    let address = format!("http://{}", application.local_addr());
    let metrics_address = application.metrics_addr().map(|a| format!("http://{a}"));
    let core = application.core().clone();
    tokio::spawn(application.run_until(std::future::pending()));
    let api_key = core
        .accounts
        .create_api_key("tests", Actor::System, Instant::now())
        .await
        .expect("an API key")
        .key;
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::new(),
        core,
        api_key,
        config,
        data_dir,
    }
}

fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tessera::telemetry::init_logs(tessera::config::LogFormat::Text, "warn");
    });
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// A request with the test API key.
    pub fn with_key(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Authorization", &self.api_key)
    }

    /// Creates a user through the API and returns its JSON. An email address in `extra` is
    /// vouched for (`skipVerification`): verified at once, as an administrator who knows it
    /// sets it (tests/api/email_verification.rs sets addresses that await their link).
    pub async fn create_user(&self, username: &str, extra: Value) -> Value {
        let mut user = json!({"username": username, "password": PASSWORD});
        if let (Some(user), Some(extra)) = (user.as_object_mut(), extra.as_object()) {
            user.extend(extra.clone());
        }
        let response = self
            .with_key(reqwest::Method::POST, "/api/user")
            .json(&json!({ "user": user, "skipVerification": true }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200, "creating {username}");
        response.json::<Value>().await.expect("JSON")["user"].clone()
    }

    pub async fn login(&self, login_id: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/login",
            &json!({"loginId": login_id, "password": password}),
        )
        .await
    }

    pub async fn audit(&self, query: &str) -> Vec<Value> {
        let response = self
            .with_key(
                reqwest::Method::GET,
                &format!("/api/system/audit-log?{query}"),
            )
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("JSON");
        body["auditLogs"].as_array().cloned().unwrap_or_default()
    }
}

/// The authenticator app in these tests: the real `oathtool` (Debian package `oathtool`), asked
/// for the code of now + `offset_seconds`.
pub fn oathtool(secret_base32: &str, offset_seconds: i64) -> String {
    oathtool_at(
        secret_base32,
        tessera::clock::Instant::now().seconds() + offset_seconds,
    )
}

/// The code `oathtool` gives for the Unix time `at` (in seconds).
pub fn oathtool_at(secret_base32: &str, at: i64) -> String {
    let output = std::process::Command::new("oathtool")
        .args(["--totp", "-b", "--now", &format!("@{at}"), secret_base32])
        .output()
        .expect("oathtool must be installed (apt-get install oathtool)");
    assert!(output.status.success(), "oathtool failed");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

impl TestApp {
    /// Logs in with the password and returns the JSON and the status.
    pub async fn login_json(&self, body: Value) -> (u16, Value) {
        let response = self.post_json("/api/login", &body).await;
        let status = response.status().as_u16();
        let json = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, json)
    }

    /// A login that must stop at the second factor: its `twoFactorId`.
    pub async fn start_two_factor(&self, login_id: &str) -> String {
        let (status, body) = self
            .login_json(json!({"loginId": login_id, "password": PASSWORD}))
            .await;
        assert_eq!(status, 242, "{body}");
        body["twoFactorId"].as_str().unwrap().to_owned()
    }

    pub async fn finish_two_factor(
        &self,
        two_factor_id: &str,
        code: &str,
        extra: Value,
    ) -> reqwest::Response {
        let mut body = json!({"twoFactorId": two_factor_id, "code": code});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.post_json("/api/two-factor/login", &body).await
    }

    /// Sends every `(twoFactorId, code)` to `/api/two-factor/login` at once; the statuses, in no
    /// particular order.
    pub async fn finish_two_factor_concurrently(
        &self,
        submissions: Vec<(String, String)>,
    ) -> Vec<u16> {
        let mut requests = tokio::task::JoinSet::new();
        for (two_factor_id, code) in submissions {
            let (client, url) = (self.client.clone(), self.url("/api/two-factor/login"));
            requests.spawn(async move {
                client
                    .post(url)
                    .json(&json!({"twoFactorId": two_factor_id, "code": code}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            });
        }
        requests.join_all().await
    }

    /// Gives `user_id` its first method, an authenticator, through the API key; returns (secret,
    /// recovery codes). A first method comes with recovery codes: an answer without them fails
    /// here rather than hand the test an empty list to find nothing in.
    pub async fn enroll_authenticator(&self, user_id: &str) -> (String, Vec<String>) {
        let secret = tessera::otp::TotpSecret::generate().to_base32();
        let response = self
            .with_key(
                reqwest::Method::POST,
                &format!("/api/user/two-factor/{user_id}"),
            )
            .json(
                &json!({"method": "authenticator", "secretBase32Encoded": secret,
                          "code": oathtool(&secret, 0), "name": "Phone"}),
            )
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "enrolling an authenticator: {body}");
        let codes: Vec<String> = body["recoveryCodes"]
            .as_array()
            .unwrap_or_else(|| panic!("a first method comes with recovery codes: {body}"))
            .iter()
            .map(|c| c.as_str().expect("a recovery code is text").to_owned())
            .collect();
        assert!(!codes.is_empty(), "no recovery codes: {body}");
        (secret, codes)
    }

    pub async fn put_two_factor_settings(&self, settings: Value) {
        let response = self
            .with_key(reqwest::Method::PUT, "/api/system/two-factor")
            .json(&json!({ "twoFactor": settings }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }
}

impl TestApp {
    /// The development outbox, newest first (read with the API key, as an administrator).
    pub async fn outbox(&self) -> Vec<Value> {
        self.with_key(reqwest::Method::GET, "/dev/outbox.json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The code in the newest outbox message to `to` that carries a code (a voice message
    /// reads it twice). An account email (a security notice) has a subject, and a text that is
    /// not a code (a notice by text) a link: neither is read for a code.
    pub async fn code_sent_to(&self, to: &str) -> String {
        let messages = self.outbox().await;
        let message = messages
            .iter()
            .find(|m| {
                m["to"] == to
                    && m["subject"].is_null()
                    && !m["body"].as_str().unwrap_or_default().contains("http")
            })
            .unwrap_or_else(|| panic!("no message to {to} in {messages:?}"));
        let digits: String = message["body"]
            .as_str()
            .unwrap()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let length = if message["channel"] == "call" {
            digits.len() / 2
        } else {
            digits.len()
        };
        digits[..length].to_owned()
    }

    pub async fn put_delivery_settings(&self, settings: Value) -> reqwest::Response {
        self.with_key(reqwest::Method::PUT, "/api/system/delivery")
            .json(&json!({ "delivery": settings }))
            .send()
            .await
            .unwrap()
    }

    /// Sends an enrolment code through the API key.
    pub async fn send_enrollment(
        &self,
        user_id: &str,
        method: &str,
        destination: &str,
    ) -> reqwest::Response {
        let field = if method == "email" {
            "email"
        } else {
            "mobilePhone"
        };
        self.with_key(reqwest::Method::POST, "/api/two-factor/send")
            .json(&json!({"method": method, field: destination, "userId": user_id}))
            .send()
            .await
            .unwrap()
    }
}

impl TestApp {
    /// A second node: another server on its own port sharing this one's database and keys.
    pub async fn another_node(&self) -> TestApp {
        let config = self.config.clone();
        let application = Application::build(&config)
            .await
            .expect("the second node builds");
        let address = format!("http://{}", application.local_addr());
        let core = application.core().clone();
        tokio::spawn(application.run_until(std::future::pending()));
        TestApp {
            address,
            metrics_address: None,
            client: reqwest::Client::new(),
            core,
            api_key: self.api_key.clone(),
            config,
            // The first node owns the directory; this one only borrows the path.
            data_dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
}

/// Runs every request at the same moment: each waits at one barrier until all are spawned and
/// ready, so the server sees them together rather than in spawning order. The answers come back
/// in the order of `requests`.
pub async fn all_at_once<T, F>(requests: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                request.await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("a request task panicked"));
    }
    answers
}

/// How many answers had each status, as `1×200, 99×421`.
pub fn tally(statuses: &[u16]) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for status in statuses {
        *counts.entry(*status).or_insert(0) += 1;
    }
    counts
        .iter()
        .map(|(status, count)| format!("{count}×{status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl TestApp {
    /// Gives `user_id` an SMS method for `phone` the way a client does: a code sent to the
    /// phone, then enabled with it. Returns the method id.
    pub async fn enroll_sms(&self, user_id: &str, phone: &str) -> String {
        assert_eq!(
            self.send_enrollment(user_id, "sms", phone).await.status(),
            200
        );
        let code = self.code_sent_to(phone).await;
        let response = self
            .with_key(
                reqwest::Method::POST,
                &format!("/api/user/two-factor/{user_id}"),
            )
            .json(&json!({"method": "sms", "mobilePhone": phone, "code": code}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["methodId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The user's methods as the API lists them.
    pub async fn methods_of(&self, user_id: &str) -> Vec<Value> {
        let user: Value = self
            .with_key(reqwest::Method::GET, &format!("/api/user/{user_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        user["user"]["twoFactor"]["methods"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The `tessera` binary run as an operator runs it: its own directory (data directory and
/// SQLite file) and database.
pub struct Cli {
    pub dir: TempDir,
    pub database_url: String,
}

impl Cli {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = fresh_database_url(dir.path()).await;
        Self { dir, database_url }
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("TESSERA_")) {
            command.env_remove(name);
        }
        command
            .current_dir(self.dir.path())
            .env("TESSERA_DATA_DIR", self.dir.path().join("data"))
            .env("TESSERA_DATABASE_URL", &self.database_url)
            .env("TESSERA_ARGON2__MEMORY_KIB", "256")
            .env("TESSERA_ARGON2__ITERATIONS", "1")
            .env("TESSERA_LOG_LEVEL", "warn");
        command
    }

    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn ok(&self, args: &[&str], stdin: &str) -> String {
        let output = self.run(args, stdin);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Starts `tessera serve` on a free port, with its standard error going to `stderr` and
    /// extra environment; returns the process, its base URL (the address it really bound) and
    /// what it prints after that line. Standard output keeps being read so the server never
    /// blocks on a full pipe.
    pub fn serve_with(
        &self,
        stderr: Stdio,
        env: &[(&str, &str)],
    ) -> (
        std::process::Child,
        String,
        std::thread::JoinHandle<Vec<String>>,
    ) {
        let mut server = self
            .command()
            .arg("serve")
            .env("TESSERA_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(server.stdout.take().unwrap()).lines();
        let url = loop {
            let line = stdout.next().expect("the server prints its URL").unwrap();
            // The address really bound, also when a public URL is configured.
            if let Some((_, address)) = line.split_once(" is listening on ") {
                break address.trim().to_owned();
            }
        };
        let printed = std::thread::spawn(move || stdout.map_while(Result::ok).collect());
        (server, url, printed)
    }

    /// Sends `signal` (`KILL`, `TERM`) to a server started by `serve`.
    pub fn signal(server: &std::process::Child, signal: &str) {
        let sent = Command::new("kill")
            .args([format!("-{signal}"), server.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal}");
    }

    pub fn fails(&self, args: &[&str], stdin: &str) -> String {
        let output = self.run(args, stdin);
        assert!(!output.status.success(), "{args:?} should fail");
        String::from_utf8(output.stderr).unwrap()
    }
}

impl TestApp {
    /// The outbox's emails to `to` whose subject starts with `subject`, newest first.
    pub async fn emails_to(&self, to: &str, subject: &str) -> Vec<Value> {
        self.outbox()
            .await
            .into_iter()
            .filter(|m| {
                m["to"] == to
                    && m["subject"]
                        .as_str()
                        .is_some_and(|s| s.starts_with(subject))
            })
            .collect()
    }

    /// Waits for the `count`th email to `to` whose subject starts with `subject` (account
    /// emails may go out in the background) and answers the secret that ends the link to
    /// `path` in the newest, checking that the link leads to the server's public address.
    pub async fn link_emailed_to(
        &self,
        to: &str,
        subject: &str,
        path: &str,
        count: usize,
    ) -> String {
        for _ in 0..100 {
            let emails = self.emails_to(to, subject).await;
            if emails.len() >= count {
                let body = emails[0]["body"].as_str().unwrap();
                let link = body
                    .lines()
                    .find(|line| line.contains(path))
                    .unwrap_or_else(|| panic!("no link to {path} in {body}"));
                assert!(
                    link.starts_with(&format!("{}{path}", self.config.public_url())),
                    "the link leads to this server's public address: {link}"
                );
                return link.rsplit('/').next().unwrap().to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no email “{subject}…” to {to}");
    }
}
