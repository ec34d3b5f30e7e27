//! `tessera settings`: the settings kept in the database, read and replaced as JSON.

use anyhow::bail;
use clap::Subcommand;

use crate::audit::Actor;
use crate::clock::Instant;
use crate::core::Core;

#[derive(Debug, Subcommand)]
pub(super) enum SettingsCommand {
    /// Print settings as JSON (secrets read as "set"); all of them without a key.
    Get { key: Option<String> },
    /// Replace one group of settings with the JSON read from standard input.
    Set { key: String },
}

pub(super) async fn settings_command(core: &Core, command: SettingsCommand) -> anyhow::Result<()> {
    let now = Instant::now();
    let origin = Default::default();
    let show = |key: &str, value: serde_json::Value| -> anyhow::Result<()> {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ key: value }))?
        );
        Ok(())
    };
    match command {
        SettingsCommand::Get { key } => {
            let keys = match key.as_deref() {
                Some(key) => vec![key.to_owned()],
                None => vec![
                    "two_factor".into(),
                    "delivery".into(),
                    "welcome".into(),
                    "accounts".into(),
                    "notices".into(),
                    "access_rules".into(),
                ],
            };
            for key in keys {
                let value = match key.as_str() {
                    "two_factor" => serde_json::to_value(
                        core.two_factor
                            .two_factor_policy()
                            .await
                            .map_err(two_factor_error)?,
                    )?,
                    "delivery" => {
                        serde_json::to_value(core.delivery.delivery_settings().await?.redacted())?
                    }
                    "welcome" => serde_json::to_value(
                        core.welcome
                            .welcome_settings()
                            .await
                            .map_err(two_factor_error)?,
                    )?,
                    "accounts" => serde_json::to_value(core.addresses.account_settings().await?)?,
                    "notices" => serde_json::to_value(core.notices.settings().await?)?,
                    "access_rules" | "access-rules" => {
                        serde_json::to_value(core.forward_auth.access_rules().await?)?
                    }
                    other => bail!("unknown settings {other:?}; they are {KEYS}"),
                };
                show(&key, value)?;
            }
        }
        SettingsCommand::Set { key } => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            let parse_error =
                |e: serde_json::Error| anyhow::anyhow!("{key}: not valid settings: {e}");
            match key.as_str() {
                "two_factor" => {
                    let policy = serde_json::from_str(&text).map_err(parse_error)?;
                    core.two_factor
                        .set_two_factor_policy(&policy, Actor::Cli, &origin, now)
                        .await
                        .map_err(two_factor_error)?;
                }
                "delivery" => {
                    let settings: crate::verify::DeliverySettings =
                        serde_json::from_str(&text).map_err(parse_error)?;
                    core.delivery
                        .change_delivery_settings(
                            crate::delivery_settings::DeliveryChange::Whole(Box::new(settings)),
                            Actor::Cli,
                            &origin,
                            now,
                        )
                        .await
                        .map_err(|error| two_factor_error(error.into()))?;
                }
                "welcome" => {
                    let settings = serde_json::from_str(&text).map_err(parse_error)?;
                    core.welcome
                        .set_welcome_settings(&settings, Actor::Cli, &origin, now)
                        .await
                        .map_err(two_factor_error)?;
                }
                "accounts" => {
                    let settings = serde_json::from_str(&text).map_err(parse_error)?;
                    core.addresses
                        .set_account_settings(settings, Actor::Cli, &origin, now)
                        .await?;
                }
                "notices" => {
                    let settings = serde_json::from_str(&text).map_err(parse_error)?;
                    core.notices
                        .set_settings(&settings, Actor::Cli, &origin, now)
                        .await
                        .map_err(|error| match error {
                            crate::notices::NoticeError::Invalid(fields) => anyhow::anyhow!(
                                "{key}: {}",
                                fields
                                    .iter()
                                    .map(|f| f.message.as_str())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            ),
                            other => other.into(),
                        })?;
                }
                "access_rules" | "access-rules" => {
                    let document = serde_json::from_str(&text).map_err(parse_error)?;
                    core.forward_auth
                        .set_access_rules(&document, Actor::Cli, &origin, now)
                        .await
                        .map_err(|error| match error {
                            crate::forward_auth::ForwardAuthError::Invalid(errors) => {
                                anyhow::anyhow!(
                                    "{key}: {}",
                                    errors
                                        .iter()
                                        .map(ToString::to_string)
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                )
                            }
                            other => other.into(),
                        })?;
                }
                other => bail!("unknown settings {other:?}; they are {KEYS}"),
            }
            println!("{key} saved; it applies to the next login on every node");
        }
    }
    Ok(())
}

/// The settings documents, as the commands name them.
const KEYS: &str = "two_factor, delivery, welcome, accounts, notices and access_rules";

fn two_factor_error(error: crate::two_factor::TwoFactorError) -> anyhow::Error {
    match error {
        crate::two_factor::TwoFactorError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}
