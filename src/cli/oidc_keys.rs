//! `tessera oidc keys …`: OpenID Connect's signing keys, listed, rotated and retired by an
//! operator. A running server that reads the same data directory sees a change within a second.

use clap::{Subcommand, ValueEnum};

use crate::audit::Actor;
use crate::clock::Instant;
use crate::core::Core;
use crate::crypto::oidc_keys::{Algorithm, KeyInfo};
use crate::oidc::RetireError;

#[derive(Debug, Subcommand)]
pub(super) enum KeyCommand {
    /// List the keys: id (kid), algorithm, when made, whether it signs.
    List,
    /// Make a new key that signs from now on; the old one stays published so that the tokens
    /// it signed still verify.
    Rotate {
        #[arg(long, value_enum, default_value = "all")]
        algorithm: AlgorithmChoice,
    },
    /// Remove keys that no longer sign, once no token they signed can still be live (the
    /// longest ID or access token lifetime of any client or of the JSON API, after the key was
    /// replaced). All of them when no kid is named; all or none.
    Retire {
        /// The keys to remove (kid); by default every key that no longer signs.
        kids: Vec<String>,
        /// Remove them even if tokens they signed may still be live (those stop verifying).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum AlgorithmChoice {
    #[value(name = "RS256", alias = "rs256")]
    Rs256,
    #[value(name = "ES256", alias = "es256")]
    Es256,
    All,
}

impl AlgorithmChoice {
    fn algorithms(self) -> Vec<Algorithm> {
        match self {
            AlgorithmChoice::Rs256 => vec![Algorithm::Rs256],
            AlgorithmChoice::Es256 => vec![Algorithm::Es256],
            AlgorithmChoice::All => Algorithm::ALL.to_vec(),
        }
    }
}

pub(super) async fn key_command(core: &Core, command: KeyCommand) -> anyhow::Result<()> {
    let now = Instant::now();
    let origin = Default::default();
    match command {
        KeyCommand::List => print_keys(&core.oidc.signing_keys().await?),
        KeyCommand::Rotate { algorithm } => {
            let keys = core
                .oidc
                .rotate_keys(&algorithm.algorithms(), Actor::Cli, &origin, now)
                .await?;
            print_keys(&keys);
            println!(
                "The new keys sign from now on (a running server on this data directory takes \
                 them within a second); the old ones stay published until retired."
            );
        }
        KeyCommand::Retire { kids, force } => {
            match core
                .oidc
                .retire_keys(&kids, force, Actor::Cli, &origin, now)
                .await
            {
                Ok(removed) if removed.is_empty() => println!("no key to retire"),
                Ok(removed) => {
                    for key in removed {
                        println!("retired {} ({})", key.kid, key.algorithm.as_str());
                    }
                }
                Err(error) => return Err(refusal(error)),
            }
        }
    }
    Ok(())
}

fn print_keys(keys: &[KeyInfo]) {
    println!("{:<43}  {:<5}  {:<23}  signs", "kid", "alg", "created");
    for key in keys {
        println!(
            "{:<43}  {:<5}  {:<23}  {}",
            key.kid,
            key.algorithm.as_str(),
            utc(key.created),
            if key.signs() { "yes" } else { "no" }
        );
    }
}

fn refusal(error: RetireError) -> anyhow::Error {
    match error {
        RetireError::TooRecent {
            keys,
            longest_token_seconds,
        } => {
            let each: Vec<String> = keys
                .iter()
                .map(|(kid, at)| format!("{kid} from {}", utc(*at)))
                .collect();
            anyhow::anyhow!(
                "tokens these keys signed may still be live (the longest ID or access token \
                 lives {longest_token_seconds} s): nothing was removed. Retire possible: {}; \
                 --force removes them now, and their tokens stop verifying",
                each.join(", ")
            )
        }
        RetireError::Internal(error) => error.into(),
        other => anyhow::anyhow!("{other}; nothing was removed"),
    }
}

/// Unix seconds as `2026-12-07 14:05:00 UTC`.
fn utc(seconds: i64) -> String {
    crate::clock::Instant::from_millis(seconds.saturating_mul(1000)).utc_text()
}
