//! The `tessera` command line: the server, and the operator's commands that script it.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::accounts::AccountError;
use crate::app;
use crate::audit::Actor;
use crate::clock::Instant;
use crate::config::Config;
use crate::core::Core;
use crate::telemetry;

mod groups;
mod oidc;
mod oidc_keys;
mod serve;
mod settings;
mod users;

use groups::{GroupCommand, group_command};
use oidc::{OidcCommand, oidc_command};
use settings::{SettingsCommand, settings_command};
use users::{UserCommand, user_command};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Tessera: a self-hosted login server with two-factor authentication",
    long_about = "Tessera: a self-hosted login server with two-factor authentication.\n\n\
        Configuration comes from built-in defaults, then the TOML file given with --config, \
        then TESSERA_* environment variables (TESSERA_LISTEN, TESSERA_DATABASE_URL, \
        TESSERA_ARGON2__MEMORY_KIB, ...). With no configuration at all, `tessera serve` keeps \
        its data in ./tessera-data (SQLite) and listens on 127.0.0.1:8080."
)]
pub struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "TESSERA_CONFIG_FILE", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (creating the data directory, database, keys and a first administrator
    /// as needed).
    Serve,
    /// Check the configuration and print it (secrets hidden), without starting anything.
    CheckConfig,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage groups and their members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Manage API keys (for `Authorization: <key>` on the management API).
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage accounts of the Twilio-compatible Verify API (`/v2/`).
    #[command(subcommand, name = "verify-account")]
    VerifyAccount(VerifyAccountCommand),
    /// Read or change the settings kept in the database (two_factor, delivery, welcome,
    /// accounts, notices, access_rules).
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Manage OpenID Connect clients (`tessera oidc client create|list|show|rotate-secret|delete`)
    /// and signing keys (`tessera oidc keys list|rotate|retire`).
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Import users from a JSON or CSV file: all rows or none; users already present are left
    /// as they are, so running it twice changes nothing.
    Import {
        file: PathBuf,
        /// json or csv; by default, the file's extension.
        #[arg(long)]
        format: Option<String>,
    },
    /// Export every user (no secrets) as JSON or CSV, in the import's shape, to standard output.
    Export {
        #[arg(long, default_value = "json")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
enum VerifyAccountCommand {
    /// Create an account; its Account SID and Auth Token are printed once.
    Create {
        #[arg(long)]
        name: String,
    },
    /// Create an API key (SK…) of an account; its secret is printed once.
    Key {
        /// The Account SID (AC…).
        #[arg(long)]
        account: String,
        #[arg(long)]
        name: String,
    },
    /// List the accounts.
    List,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key; it is printed once and stored only as a hash.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by its id.
    Revoke { id: String },
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_logs(config.log_format, &config.log_level);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(async_workers(config.database_url().is_sqlite(), cores))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Threads of the async runtime. On SQLite the database work runs on the SQLite thread and
/// password hashing on its pool: the async side only parses requests and hands work off, and a
/// worker per core spent more on waking the other (and preempting a hash) than it saved. On
/// PostgreSQL the database protocol itself runs on the workers: one per core (figures in
/// BENCHMARKS.md, "Why the constants are what they are").
fn async_workers(on_sqlite: bool, cores: usize) -> usize {
    if on_sqlite {
        (cores / 2).max(1)
    } else {
        cores.max(1)
    }
}

async fn dispatch(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve::serve(config).await,
        Command::CheckConfig => {
            if let Some(path) = &config.forward_auth.access_rules_file {
                crate::access_rules::rules_file::load(path).map_err(anyhow::Error::msg)?;
            }
            print!("{}", config.to_redacted_toml());
            println!("# configuration is valid");
            Ok(())
        }
        Command::Migrate => {
            let core = app::open_core(&config).await?;
            println!("database is up to date ({:?})", config.database_url());
            core.store.close().await;
            Ok(())
        }
        Command::User(command) => {
            let core = app::open_core(&config).await?;
            let result = user_command(&core, command).await;
            core.store.close().await;
            result
        }
        Command::Group(command) => {
            let core = app::open_core(&config).await?;
            let result = group_command(&core, command).await;
            core.store.close().await;
            result
        }
        Command::ApiKey(command) => {
            let core = app::open_core(&config).await?;
            let result = api_key_command(&core, command).await;
            core.store.close().await;
            result
        }
        Command::Import { file, format } => {
            let format = match format.as_deref() {
                Some(name) => parse_format(name)?,
                None => crate::import::Format::of_path(&file).with_context(|| {
                    format!("{}: say --format json or --format csv", file.display())
                })?,
            };
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let core = app::open_core(&config).await?;
            let started = std::time::Instant::now();
            let result = core
                .import
                .import_users(
                    format,
                    &text,
                    Actor::Cli,
                    &Default::default(),
                    Instant::now(),
                )
                .await;
            core.store.close().await;
            match result {
                Ok(report) => {
                    println!(
                        "imported {} users ({} already present, left unchanged) in {:.1} s",
                        report.created,
                        report.unchanged,
                        started.elapsed().as_secs_f64()
                    );
                    Ok(())
                }
                Err(crate::import::ImportError::Rows(rows)) => {
                    for row in rows.iter().take(50) {
                        eprintln!("line {}: {}", row.line, row.message);
                    }
                    bail!("{} rows are refused; nothing was imported", rows.len())
                }
                Err(crate::import::ImportError::Internal(e)) => Err(e),
            }
        }
        Command::Export { format } => {
            let format = parse_format(&format)?;
            let core = app::open_core(&config).await?;
            let result = core.import.export_users(format).await;
            core.store.close().await;
            print!("{}", result?);
            Ok(())
        }
        Command::VerifyAccount(VerifyAccountCommand::Key { account, name }) => {
            let core = app::open_core(&config).await?;
            let result = core
                .verify
                .create_verify_api_key(&account, &name, Actor::Cli, Instant::now())
                .await;
            core.store.close().await;
            let (sid, secret) = result?;
            println!("API key SID: {sid}");
            println!("Secret:      {secret}");
            println!("The secret is shown only now. SDKs take (key SID, secret, account SID).");
            Ok(())
        }
        Command::VerifyAccount(VerifyAccountCommand::List) => {
            let core = app::open_core(&config).await?;
            let result = core.store.verify().verify_accounts().await;
            core.store.close().await;
            for (sid, name, _) in result? {
                println!("{sid}  {name}");
            }
            Ok(())
        }
        Command::VerifyAccount(VerifyAccountCommand::Create { name }) => {
            let core = app::open_core(&config).await?;
            let result = core
                .verify
                .create_verify_account(&name, Actor::Cli, Instant::now())
                .await;
            core.store.close().await;
            let (sid, token) = result?;
            println!("Account SID: {sid}");
            println!("Auth Token:  {token}");
            println!(
                "The token is shown only now. Point a Twilio SDK at this server's /v2/ with these."
            );
            Ok(())
        }
        Command::Settings(command) => {
            let core = app::open_core(&config).await?;
            let result = settings_command(&core, command).await;
            core.store.close().await;
            result
        }
        Command::Oidc(command) => {
            let core = app::open_core(&config).await?;
            let result = oidc_command(&core, command).await;
            core.store.close().await;
            result
        }
    }
}

async fn api_key_command(core: &Core, command: ApiKeyCommand) -> anyhow::Result<()> {
    let now = Instant::now();
    match command {
        ApiKeyCommand::Create { name } => {
            let issued = core
                .accounts
                .create_api_key(&name, Actor::Cli, now)
                .await
                .map_err(describe)?;
            println!("API key {} created. The key, shown only now:", issued.id);
            println!("{}", issued.key);
        }
        ApiKeyCommand::List => {
            println!("{:<12}  {:<8}  {:<13}  name", "id", "state", "created");
            for key in core.accounts.api_keys().await.map_err(describe)? {
                println!(
                    "{:<12}  {:<8}  {:<13}  {}",
                    key.id,
                    if key.revoked_instant.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    key.insert_instant,
                    key.name
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            core.accounts
                .revoke_api_key(&id, Actor::Cli, now)
                .await
                .map_err(describe)?;
            println!("API key {id} revoked");
        }
    }
    Ok(())
}

fn parse_format(name: &str) -> anyhow::Result<crate::import::Format> {
    match name {
        "json" => Ok(crate::import::Format::Json),
        "csv" => Ok(crate::import::Format::Csv),
        other => bail!("unknown format {other:?}; use json or csv"),
    }
}

/// A password from a prompt on a terminal (asked twice), or the first line of standard input.
fn read_password(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt)?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

/// Account errors as one line for the terminal.
fn describe(error: AccountError) -> anyhow::Error {
    match error {
        AccountError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field.trim_start_matches("user."), f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::Error::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::async_workers;

    #[test]
    fn on_sqlite_the_async_side_gets_one_worker_per_two_cores() {
        assert_eq!(async_workers(true, 1), 1);
        assert_eq!(async_workers(true, 2), 1);
        assert_eq!(async_workers(true, 3), 1);
        assert_eq!(async_workers(true, 8), 4);
    }

    #[test]
    fn on_postgresql_the_async_side_gets_one_worker_per_core() {
        assert_eq!(async_workers(false, 1), 1);
        assert_eq!(async_workers(false, 2), 2);
        assert_eq!(async_workers(false, 8), 8);
    }
}
