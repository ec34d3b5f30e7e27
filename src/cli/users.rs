//! `tessera user …`: the operator's commands on users (list, show, create, passwords, phones,
//! access codes, activation).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::{describe, read_password};
use crate::accounts::{Field, NewEmail, UserFields};
use crate::audit::Actor;
use crate::clock::Instant;
use crate::core::Core;
use crate::domain::{LoginId, Password, User};

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Create a user. The password is read from standard input (or asked for on a terminal).
    Create(CreateUser),
    /// List users.
    List {
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Show one user, by username or email.
    Show { login_id: String },
    /// Email a user (or, with --never-logged-in, everyone with an address who never logged in)
    /// a link, valid 7 days, to choose their password.
    Invite {
        #[arg(required_unless_present = "never_logged_in")]
        login_id: Option<String>,
        #[arg(long, conflicts_with = "login_id")]
        never_logged_in: bool,
    },
    /// Set a user's password, read from standard input (or asked for on a terminal). Ends the
    /// user's sessions.
    SetPassword {
        login_id: String,
        /// The password is temporary: the next login with it asks for one of the user's own.
        #[arg(long)]
        temporary: bool,
    },
    /// Set (or with --clear, remove) a user's mobile phone number.
    SetPhone {
        login_id: String,
        /// The number with its country code, such as +1 303 555 1212.
        #[arg(required_unless_present = "clear")]
        phone: Option<String>,
        #[arg(long, conflicts_with = "phone")]
        clear: bool,
    },
    /// Disable a user: logins are refused and sessions end.
    Disable { login_id: String },
    /// Enable a disabled user.
    Enable { login_id: String },
    /// Require (or with --off, stop requiring) a second factor from a user.
    #[command(name = "require-2fa")]
    Require2fa {
        login_id: String,
        #[arg(long)]
        off: bool,
    },
    /// Remove every second factor and recovery code of a user and forget their trusted
    /// computers (a lost phone).
    #[command(name = "reset-2fa")]
    Reset2fa {
        login_id: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Issue a one-time access code for a user who lost their second factor (printed once:
    /// with their password it lets them in once within 24 hours, and they enrol a new method);
    /// or with --revoke, revoke their unused one.
    #[command(name = "access-code")]
    AccessCode {
        login_id: String,
        /// Why, for the audit log.
        #[arg(long, required_unless_present = "revoke")]
        reason: Option<String>,
        #[arg(long, conflicts_with = "reason")]
        revoke: bool,
    },
}

#[derive(Debug, Args)]
pub(super) struct CreateUser {
    #[arg(long)]
    username: String,
    #[arg(long)]
    email: Option<String>,
    /// The address is known to be the user's: verified at once. Without it, a link to verify
    /// it is sent, and until it is opened the address is no login id.
    #[arg(long, requires = "email")]
    email_verified: bool,
    /// Mobile phone with country code, such as +1 303 555 1212.
    #[arg(long)]
    phone: Option<String>,
    /// Full name.
    #[arg(long)]
    name: Option<String>,
    /// Give the user the admin role.
    #[arg(long)]
    admin: bool,
}

pub(super) async fn user_command(core: &Core, command: UserCommand) -> anyhow::Result<()> {
    let now = Instant::now();
    let origin = Default::default();
    match command {
        UserCommand::Create(args) => {
            let password = read_password("Password for the new user: ")?;
            let new_email = if args.email_verified {
                NewEmail::Verified
            } else {
                NewEmail::Unverified
            };
            let fields = UserFields {
                username: Field::Value(args.username),
                email: args.email.map_or(Field::Absent, Field::Value),
                mobile_phone: args.phone.map_or(Field::Absent, Field::Value),
                full_name: args.name.map_or(Field::Absent, Field::Value),
                roles: Field::Value(if args.admin {
                    vec!["admin".into()]
                } else {
                    vec![]
                }),
                password: Field::Value(password),
                ..UserFields::default()
            };
            let user = core
                .addresses
                .create_user(None, &fields, new_email, Actor::Cli, &origin, now)
                .await
                .map_err(describe)?;
            println!("created user {} ({})", user.username, user.id);
            if let Some(address) = user.email_awaiting_verification() {
                println!(
                    "a link to verify {address} was sent to it; until it is opened, the address \
                     is no login id"
                );
            }
        }
        UserCommand::List { limit, offset } => {
            let users = core.store.users().users(limit, offset).await?;
            println!(
                "{:<36}  {:<24}  {:<30}  {:<8}  roles",
                "id", "username", "email", "active"
            );
            for user in users {
                println!(
                    "{:<36}  {:<24}  {:<30}  {:<8}  {}",
                    user.id,
                    user.username,
                    user.email
                        .as_ref()
                        .map(|e| e.to_string())
                        .unwrap_or_default(),
                    if user.active { "yes" } else { "no" },
                    user.roles.names().join(",")
                );
            }
        }
        UserCommand::Show { login_id } => {
            let user = find(core, &login_id).await?;
            print_user(&user);
        }
        UserCommand::Invite {
            login_id,
            never_logged_in,
        } => {
            let invited = match (login_id, never_logged_in) {
                (Some(login_id), _) => {
                    let user = find(core, &login_id).await?;
                    core.recovery
                        .invite(&[user.id], Actor::Cli, &origin, now)
                        .await
                }
                (None, _) => {
                    core.recovery
                        .invite_never_logged_in(Actor::Cli, &origin, now)
                        .await
                }
            }
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            for name in &invited.sent {
                println!("invited {name}");
            }
            for (name, why) in &invited.skipped {
                println!("not invited {name}: {why}");
            }
        }
        UserCommand::SetPassword {
            login_id,
            temporary,
        } => {
            let user = find(core, &login_id).await?;
            let raw = read_password(&format!("New password for {}: ", user.username))?;
            let password =
                Password::new_choice(&raw).map_err(|e| anyhow::anyhow!("password: {e}"))?;
            core.accounts
                .set_password(user.id, &password, temporary, Actor::Cli, &origin, now)
                .await
                .map_err(describe)?;
            let must_change = if temporary {
                "; the next login with it asks for a password of their own"
            } else {
                ""
            };
            println!(
                "password of {} changed; their sessions have ended{must_change}",
                user.username
            );
        }
        UserCommand::SetPhone {
            login_id,
            phone,
            clear,
        } => {
            let user = find(core, &login_id).await?;
            let fields = UserFields {
                mobile_phone: match (phone, clear) {
                    (_, true) => Field::Null,
                    (Some(phone), false) => Field::Value(phone),
                    (None, false) => bail!("give a phone number or --clear"),
                },
                ..UserFields::default()
            };
            let user = core
                .accounts
                .update_user(
                    user.id,
                    &fields,
                    NewEmail::Unverified,
                    Actor::Cli,
                    &origin,
                    now,
                )
                .await
                .map_err(describe)?;
            match &user.mobile_phone {
                Some(phone) => println!("phone of {} is now {}", user.username, phone.e164()),
                None => println!("phone of {} removed", user.username),
            }
        }
        UserCommand::Require2fa { login_id, off } => {
            let user = find(core, &login_id).await?;
            let fields = UserFields {
                two_factor_required: Field::Value(!off),
                ..UserFields::default()
            };
            core.accounts
                .update_user(
                    user.id,
                    &fields,
                    NewEmail::Unverified,
                    Actor::Cli,
                    &origin,
                    now,
                )
                .await
                .map_err(describe)?;
            println!(
                "{} {} use a second factor",
                user.username,
                if off { "no longer has to" } else { "must now" }
            );
        }
        UserCommand::Reset2fa { login_id, reason } => {
            let user = find(core, &login_id).await?;
            let removed = core
                .admin
                .reset_two_factor(user.id, &reason, Actor::Cli, &origin, now)
                .await
                .map_err(describe)?;
            println!(
                "{}: {} second factors removed ({} methods, {} security keys or passkeys), trusted computers forgotten",
                user.username,
                removed.methods + removed.keys,
                removed.methods,
                removed.keys
            );
        }
        UserCommand::AccessCode {
            login_id,
            reason,
            revoke,
        } => {
            let user = find(core, &login_id).await?;
            if revoke {
                let revoked = core
                    .admin
                    .revoke_access_code(user.id, Actor::Cli, &origin, now)
                    .await
                    .map_err(describe)?;
                match revoked {
                    0 => println!("{} has no unused access code", user.username),
                    _ => println!("the access code of {} is revoked", user.username),
                }
                return Ok(());
            }
            let issued = core
                .admin
                .issue_access_code(
                    user.id,
                    reason.as_deref().unwrap_or_default(),
                    Actor::Cli,
                    &origin,
                    now,
                )
                .await
                .map_err(describe)?;
            println!(
                "one-time access code for {} (shown once; works once until {}):\n  {}",
                user.username,
                issued.expires_at.iso8601(),
                issued.code.display()
            );
        }
        UserCommand::Disable { login_id } => set_active(core, &login_id, false).await?,
        UserCommand::Enable { login_id } => set_active(core, &login_id, true).await?,
    }
    Ok(())
}

async fn set_active(core: &Core, login_id: &str, active: bool) -> anyhow::Result<()> {
    let user = find(core, login_id).await?;
    let fields = UserFields {
        active: Field::Value(active),
        ..UserFields::default()
    };
    core.accounts
        .update_user(
            user.id,
            &fields,
            NewEmail::Unverified,
            Actor::Cli,
            &Default::default(),
            Instant::now(),
        )
        .await
        .map_err(describe)?;
    println!(
        "{} is {}",
        user.username,
        if active {
            "enabled"
        } else {
            "disabled; their sessions have ended"
        }
    );
    Ok(())
}

async fn find(core: &Core, raw: &str) -> anyhow::Result<User> {
    let login_id = LoginId::parse(raw).map_err(|e| anyhow::anyhow!("{raw:?}: {e}"))?;
    core.accounts
        .find_user(&login_id)
        .await
        .map_err(describe)?
        .with_context(|| format!("no user {raw:?}"))
}

fn print_user(user: &User) {
    println!("id:                  {}", user.id);
    println!("username:            {}", user.username);
    println!(
        "email:               {}",
        user.email
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default()
    );
    if user.email.is_some() {
        println!(
            "email verified:      {}",
            if user.verified_email().is_some() {
                "yes"
            } else {
                "no"
            }
        );
    }
    if let Some(pending) = &user.pending_email {
        println!("new email (waiting): {pending}");
    }
    println!(
        "full name:           {}",
        user.full_name
            .as_ref()
            .map(|n| n.as_str())
            .unwrap_or_default()
    );
    println!(
        "mobile phone:        {}",
        user.mobile_phone
            .as_ref()
            .map(|p| p.e164())
            .unwrap_or_default()
    );
    println!("roles:               {}", user.roles.names().join(", "));
    println!("active:              {}", user.active);
    println!("temporary password:  {}", user.password_change_required);
    println!("two-factor required: {}", user.two_factor_required);
    println!("created (epoch ms):  {}", user.created_at.millis());
    println!(
        "last login:          {}",
        user.last_login_at
            .map(|i| i.millis().to_string())
            .unwrap_or_else(|| "never".into())
    );
}
