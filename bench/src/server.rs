//! The server under test: a `tessera serve` process on loopback with its own data directory and
//! database (a SQLite file, or a fresh PostgreSQL schema dropped at the end), seeded through
//! `tessera import`. Its CPU time and peak RSS are read from /proc, which is why it runs as a
//! separate process rather than inside the generator.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// `tessera import` takes at most this many rows per file.
const IMPORT_CHUNK: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite (WAL, synchronous=NORMAL)",
            Backend::Postgres => "PostgreSQL (defaults)",
        }
    }
}

/// A database of its own for one scenario, and the directory beside it; both go on drop.
pub struct Workspace {
    pub dir: PathBuf,
    pub database_url: String,
    postgres: Option<(String, String)>,
}

impl Workspace {
    pub async fn create(backend: Backend, postgres_url: &str, name: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "tessera-bench-{name}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        let (database_url, postgres) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.join("tessera.db").display()),
                None,
            ),
            Backend::Postgres => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                run_postgres(postgres_url, &format!("CREATE SCHEMA {schema}")).await?;
                let separator = if postgres_url.contains('?') { '&' } else { '?' };
                (
                    format!("{postgres_url}{separator}options=-c%20search_path%3D{schema}"),
                    Some((postgres_url.to_owned(), schema)),
                )
            }
        };
        Ok(Self {
            dir,
            database_url,
            postgres,
        })
    }

    /// After a bulk import, PostgreSQL's autovacuum would soon vacuum and analyze the new rows
    /// in the background, in the middle of the measurement (a million users: seconds of CPU
    /// and I/O on the same machine). Doing it now, on the users table of this schema only,
    /// keeps it out of the measured phase. Likewise the kernel would write the import's dirty
    /// pages back (hundreds of MB for a million users) while the server is measured: `sync`
    /// does it now.
    pub async fn settle_after_import(&self) -> anyhow::Result<()> {
        if self.postgres.is_some() {
            run_postgres(&self.database_url, "VACUUM (ANALYZE) users").await?;
        }
        let synced =
            tokio::task::spawn_blocking(|| std::process::Command::new("sync").status()).await??;
        anyhow::ensure!(synced.success(), "sync failed: {synced}");
        Ok(())
    }

    /// Removes the directory and drops the schema (with every user the scenario seeded).
    pub async fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((url, schema)) = &self.postgres
            && let Err(e) = run_postgres(url, &format!("DROP SCHEMA {schema} CASCADE")).await
        {
            eprintln!("warning: could not drop schema {schema}: {e:#}");
        }
    }
}

async fn run_postgres(url: &str, statement: &str) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {url}"))?;
    sqlx::query(statement).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// How the server is configured: the Argon2id cost and a few settings through `TESSERA_*`.
#[derive(Clone)]
pub struct ServerSettings {
    pub argon2: tessera::config::Argon2Config,
    /// SMS scenarios turn the fraud guard off: it would (rightly) stop a flood of codes to one
    /// client IP after 30, and the scenario measures the delivery pipeline, not the guard.
    pub fraud_guard: bool,
    /// The flood turns the password guard's limits per address off: its guessers stand for a
    /// botnet of many addresses, each guess costing a hash, where from one address the guard
    /// would refuse them unhashed after a hundred.
    pub password_guard: bool,
    /// forward-auth asks as a reverse proxy on loopback, which the server must trust.
    pub trusted_loopback_proxy: bool,
}

pub struct Server {
    child: Child,
    pub base_url: String,
    pub ready: Duration,
    clock_ticks_per_second: f64,
}

/// The release binary of `tessera`, built now if needed (a no-op when it is up to date).
pub fn server_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the bench crate sits inside the tessera workspace")?
        .to_owned();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "tessera",
            "--bin",
            "tessera",
        ])
        .current_dir(&root)
        .status()
        .context("cannot run cargo to build the server")?;
    if !status.success() {
        bail!("building the tessera server failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release").join("tessera"))
}

fn environment(
    workspace: &Workspace,
    settings: &ServerSettings,
    listen: &str,
) -> Vec<(String, String)> {
    let mut environment = vec![
        ("TESSERA_LISTEN".into(), listen.into()),
        (
            "TESSERA_DATA_DIR".into(),
            workspace.dir.display().to_string(),
        ),
        (
            "TESSERA_DATABASE_URL".into(),
            workspace.database_url.clone(),
        ),
        ("TESSERA_LOG_LEVEL".into(), "warn".into()),
        (
            "TESSERA_ARGON2__MEMORY_KIB".into(),
            settings.argon2.memory_kib.to_string(),
        ),
        (
            "TESSERA_ARGON2__ITERATIONS".into(),
            settings.argon2.iterations.to_string(),
        ),
        (
            "TESSERA_ARGON2__PARALLELISM".into(),
            settings.argon2.parallelism.to_string(),
        ),
        (
            "TESSERA_DELIVERY__FRAUD_GUARD__ENABLED".into(),
            settings.fraud_guard.to_string(),
        ),
        // sms-roundtrip reads the outbox as a person trying Tessera on their own machine would.
        ("TESSERA_DELIVERY__OUTBOX_PUBLIC".into(), "true".into()),
    ];
    if settings.trusted_loopback_proxy {
        environment.push(("TESSERA_TRUSTED_PROXIES".into(), "127.0.0.1".into()));
    }
    if !settings.password_guard {
        for limit in ["PER_IP", "PER_ACCOUNT_AND_IP"] {
            environment.push((
                format!("TESSERA_PASSWORD_GUARD__{limit}__MAX"),
                i64::MAX.to_string(),
            ));
            environment.push((
                format!("TESSERA_PASSWORD_GUARD__{limit}__WINDOW_SECONDS"),
                "900".into(),
            ));
        }
    }
    environment
}

/// Seeds users with `tessera import`, in files of at most 200,000 rows (the import's limit).
/// `rows` yields CSV lines after the header.
pub fn import(
    binary: &Path,
    workspace: &Workspace,
    settings: &ServerSettings,
    header: &str,
    total: usize,
    mut row: impl FnMut(usize) -> String,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let file = workspace.dir.join("seed.csv");
    let mut first = 0;
    while first < total {
        let last = (first + IMPORT_CHUNK).min(total);
        let mut text = String::with_capacity((last - first) * 160 + header.len() + 1);
        text.push_str(header);
        text.push('\n');
        for index in first..last {
            text.push_str(&row(index));
            text.push('\n');
        }
        std::fs::write(&file, text)?;
        let output = Command::new(binary)
            .arg("import")
            .arg(&file)
            .envs(environment(workspace, settings, "127.0.0.1:0"))
            .output()
            .context("cannot run tessera import")?;
        if !output.status.success() {
            bail!(
                "tessera import failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        first = last;
    }
    let _ = std::fs::remove_file(&file);
    Ok(started.elapsed())
}

/// Runs `tessera <args>` on the workspace's database and data directory (as an operator
/// would, before the server starts); answers what it printed.
pub fn cli(
    binary: &Path,
    workspace: &Workspace,
    settings: &ServerSettings,
    args: &[&str],
) -> anyhow::Result<String> {
    cli_with_input(binary, workspace, settings, args, "")
}

/// `cli`, with `input` on the command's standard input (`tessera settings set` reads it there).
pub fn cli_with_input(
    binary: &Path,
    workspace: &Workspace,
    settings: &ServerSettings,
    args: &[&str],
    input: &str,
) -> anyhow::Result<String> {
    let mut child = Command::new(binary)
        .args(args)
        .envs(environment(workspace, settings, "127.0.0.1:0"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run tessera")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes())?;
    }
    let output = child.wait_with_output().context("cannot run tessera")?;
    if !output.status.success() {
        bail!(
            "tessera {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Server {
    /// Starts the server, stops it and starts it again: the first start creates the keys and
    /// the administrator, so only the second one is "ready to serve on an existing database",
    /// the figure the budget speaks of.
    pub async fn start_on_existing_database(
        binary: &Path,
        workspace: &Workspace,
        settings: &ServerSettings,
    ) -> anyhow::Result<Self> {
        let first = Self::start(binary, workspace, settings).await?;
        first.stop();
        Self::start(binary, workspace, settings).await
    }

    async fn start(
        binary: &Path,
        workspace: &Workspace,
        settings: &ServerSettings,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(workspace.dir.join("server.log"))?;
        let started = Instant::now();
        let child = Command::new(binary)
            .arg("serve")
            .envs(environment(workspace, settings, &listen))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let base_url = format!("http://{listen}");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let mut server = Self {
            child,
            base_url,
            ready: Duration::ZERO,
            clock_ticks_per_second: clock_ticks_per_second(),
        };
        loop {
            if let Ok(response) = client
                .get(format!("{}/health", server.base_url))
                .send()
                .await
                && response.status() == 200
            {
                server.ready = started.elapsed();
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited ({status}) before it was ready; see {}",
                    workspace.dir.join("server.log").display()
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the server was not ready after 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())) else {
            return f64::NAN;
        };
        // The command name (field 2) may hold spaces; fields after it start with the state.
        let Some((_, after_name)) = stat.rsplit_once(')') else {
            return f64::NAN;
        };
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        match (ticks(11), ticks(12)) {
            (Some(user), Some(system)) => (user + system) / self.clock_ticks_per_second,
            _ => f64::NAN,
        }
    }

    /// Starts the peak-RSS count afresh (Linux: "5" to clear_refs), so the peak read later
    /// belongs to the measured phase rather than to seeding.
    pub fn reset_peak_rss(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    /// VmHWM: the highest resident set size since start or the last reset, in bytes.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// SIGTERM (a graceful stop, as an operator's), then SIGKILL if it does not go in 10 s.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port the kernel just handed out and that nothing holds now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
