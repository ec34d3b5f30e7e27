//! `tessera oidc client …`: the OpenID Connect clients, registered and managed by an operator;
//! `tessera oidc keys …` (`oidc_keys.rs`): the keys that sign their tokens.

use clap::Subcommand;

use crate::audit::Actor;
use crate::clock::Instant;
use crate::core::Core;
use crate::oidc::{ClientSettings, ClientView, OidcError};

use super::oidc_keys::{KeyCommand, key_command};

#[derive(Debug, Subcommand)]
pub(super) enum OidcCommand {
    /// Manage the applications that sign people in through Tessera.
    #[command(subcommand)]
    Client(ClientCommand),
    /// List, rotate and retire the keys that sign ID tokens and access tokens.
    #[command(subcommand)]
    Keys(KeyCommand),
}

#[derive(Debug, Subcommand)]
pub(super) enum ClientCommand {
    /// Register a client; a confidential one's secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// Where the client is answered (exactly); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where the client may send a person after logging out; repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Its id (`grafana`); made when not given.
        #[arg(long)]
        client_id: Option<String>,
        /// A public client (no secret; PKCE required): an app on a phone or in a browser.
        #[arg(long)]
        public: bool,
        /// The scopes it may ask for; all (`openid profile email groups offline_access`) when
        /// none is given.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Only members of this group may sign in (a name or an id); repeat for several.
        #[arg(long = "allowed-group")]
        allowed_groups: Vec<String>,
        /// Its sign-ins need a second factor.
        #[arg(long)]
        requires_second_factor: bool,
        /// The site's own application: no consent is asked.
        #[arg(long)]
        first_party: bool,
        /// The algorithm that signs its ID tokens and access tokens: RS256 (which every
        /// client supports) or ES256.
        #[arg(long, value_name = "RS256|ES256")]
        id_token_alg: Option<String>,
    },
    /// List the clients.
    List,
    /// Show one client as JSON.
    Show { client_id: String },
    /// Give a confidential client a new secret (printed once); the old one stops working.
    RotateSecret { client_id: String },
    /// Remove a client; its codes go with it.
    Delete { client_id: String },
}

pub(super) async fn oidc_command(core: &Core, command: OidcCommand) -> anyhow::Result<()> {
    let command = match command {
        OidcCommand::Client(command) => command,
        OidcCommand::Keys(command) => return key_command(core, command).await,
    };
    let now = Instant::now();
    let origin = Default::default();
    match command {
        ClientCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            client_id,
            public,
            scopes,
            allowed_groups,
            requires_second_factor,
            first_party,
            id_token_alg,
        } => {
            let settings = ClientSettings {
                client_id,
                name,
                confidential: !public,
                redirect_uris,
                post_logout_redirect_uris,
                scopes: (!scopes.is_empty()).then_some(scopes),
                allowed_groups,
                requires_second_factor,
                first_party,
                access_token_seconds: None,
                id_token_seconds: None,
                refresh_token_seconds: None,
                id_token_signed_response_alg: id_token_alg,
            };
            let (client, secret) = core
                .oidc
                .create_client(&settings, Actor::Cli, &origin, now)
                .await
                .map_err(refusal)?;
            println!("{}", serde_json::to_string_pretty(&client)?);
            if let Some(secret) = secret {
                println!("client secret: {}", secret.0);
                println!("The secret is shown only now.");
            }
        }
        ClientCommand::List => {
            for client in core.oidc.clients().await.map_err(refusal)? {
                println!("{}", summary(&client));
            }
        }
        ClientCommand::Show { client_id } => {
            let client = core.oidc.client(&client_id).await.map_err(refusal)?;
            println!("{}", serde_json::to_string_pretty(&client)?);
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = core
                .oidc
                .rotate_client_secret(&client_id, Actor::Cli, &origin, now)
                .await
                .map_err(refusal)?;
            println!("client secret: {}", secret.0);
            println!("The secret is shown only now; the old one no longer works.");
        }
        ClientCommand::Delete { client_id } => {
            core.oidc
                .delete_client(&client_id, Actor::Cli, &origin, now)
                .await
                .map_err(refusal)?;
            println!("client {client_id} removed");
        }
    }
    Ok(())
}

fn summary(client: &ClientView) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        client.client_id,
        client.name,
        if client.confidential {
            "confidential"
        } else {
            "public"
        },
        client.redirect_uris.join(" ")
    )
}

fn refusal(error: OidcError) -> anyhow::Error {
    match error {
        OidcError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        OidcError::Internal(error) => error,
        other => anyhow::anyhow!("{other}"),
    }
}
