//! `tessera group …`: the operator's commands on groups and their members. A group is named by
//! its name (any case) or its id, a user by username or email.

use anyhow::bail;
use clap::Subcommand;

use crate::audit::Actor;
use crate::clock::Instant;
use crate::core::Core;
use crate::groups::{GroupError, GroupFields};

#[derive(Debug, Subcommand)]
pub(super) enum GroupCommand {
    /// Create a group.
    Create {
        name: String,
        /// What the group is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// List the groups with their ids and how many members each has.
    List,
    /// Delete a group and its memberships (refused while the two-factor settings name it).
    Delete { group: String },
    /// Add a user to a group.
    #[command(name = "add-member")]
    AddMember { group: String, user: String },
    /// Remove a user from a group.
    #[command(name = "remove-member")]
    RemoveMember { group: String, user: String },
    /// List a group's members.
    Members { group: String },
}

pub(super) async fn group_command(core: &Core, command: GroupCommand) -> anyhow::Result<()> {
    let now = Instant::now();
    let origin = Default::default();
    let groups = &core.groups;
    match command {
        GroupCommand::Create { name, description } => {
            let fields = GroupFields {
                name: Some(name),
                description,
            };
            let group = groups
                .create(None, &fields, Actor::Cli, &origin, now)
                .await
                .map_err(describe)?;
            println!("created group {} ({})", group.name, group.id);
        }
        GroupCommand::List => {
            for (group, members) in groups.groups().await.map_err(describe)? {
                println!("{}  {:>6} members  {}", group.id, members, group.name);
            }
        }
        GroupCommand::Delete { group } => {
            let found = groups.find(&group).await.map_err(describe)?;
            groups
                .delete(found.id, Actor::Cli, &origin, now)
                .await
                .map_err(describe)?;
            println!("deleted group {}", found.name);
        }
        GroupCommand::AddMember { group, user } => {
            let found = groups.find(&group).await.map_err(describe)?;
            groups
                .add_member_named(found.id, &user, Actor::Cli, &origin, now)
                .await
                .map_err(describe)?;
            println!("{user} is a member of {}", found.name);
        }
        GroupCommand::RemoveMember { group, user } => {
            let found = groups.find(&group).await.map_err(describe)?;
            let removed = groups
                .remove_member_named(found.id, &user, Actor::Cli, &origin, now)
                .await
                .map_err(describe)?;
            if !removed {
                bail!("{user} is no member of {}", found.name);
            }
            println!("removed {user} from {}", found.name);
        }
        GroupCommand::Members { group } => {
            let found = groups.find(&group).await.map_err(describe)?;
            for member in groups.members_of(found.id).await.map_err(describe)? {
                println!("{}  {}", member.user, member.username);
            }
        }
    }
    Ok(())
}

/// Group errors as one line for the terminal.
fn describe(error: GroupError) -> anyhow::Error {
    match error {
        GroupError::Invalid(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field.trim_start_matches("group."), f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        GroupError::GroupNotFound => anyhow::anyhow!("no such group"),
        other => anyhow::Error::from(other),
    }
}
