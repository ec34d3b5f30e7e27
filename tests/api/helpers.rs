//! `spawn_app()`: a real Tessera on a free loopback port with a fresh database — a SQLite file
//! in a temporary directory, or, when `TESSERA_TEST_DATABASE_URL` is set, a fresh schema of that
//! PostgreSQL database.

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
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
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

/// Each run leaves its schemas behind (a test cannot clean up after itself once its server
/// runs detached); the first test of the next run drops them.
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
        for schema in schemas {
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
    let core = application.core().clone();
    tokio::spawn(application.run_until(std::future::pending()));
    let api_key = core
        .create_api_key("tests", Actor::System, Instant::now())
        .await
        .expect("an API key")
        .key;
    TestApp {
        address,
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

    /// Creates a user through the API and returns its JSON.
    pub async fn create_user(&self, username: &str, extra: Value) -> Value {
        let mut user = json!({"username": username, "password": PASSWORD});
        if let (Some(user), Some(extra)) = (user.as_object_mut(), extra.as_object()) {
            user.extend(extra.clone());
        }
        let response = self
            .with_key(reqwest::Method::POST, "/api/user")
            .json(&json!({ "user": user }))
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
