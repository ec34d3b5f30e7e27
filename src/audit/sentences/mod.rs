//! One sentence per kind of event, naming users as the reader knows them: "alice reset bob's
//! two-factor: lost phone". Every kind has one (a test goes through `EventKind::ALL`).

mod groups;

use serde_json::Value;

use super::EventKind;
use crate::domain::UserId;

/// Someone an event names: the user, when it is one, and what to call them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub user: Option<UserId>,
    pub name: String,
}

impl Party {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            user: None,
            name: name.into(),
        }
    }
}

fn text<'a>(details: &'a Value, key: &str) -> Option<&'a str> {
    details.get(key).and_then(Value::as_str)
}

fn number(details: &Value, key: &str) -> Option<i64> {
    details.get(key).and_then(Value::as_i64)
}

fn flag(details: &Value, key: &str) -> bool {
    details.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The words of a snake_case or camelCase name: `recentFailures` → "recent failures".
pub(super) fn words(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c == '_' {
            out.push(' ');
        } else if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn factor(amr: &str) -> Option<&'static str> {
    match amr {
        "pwd" => Some("a password"),
        "otp" => Some("an authenticator app"),
        "sms" => Some("a text message code"),
        "tel" => Some("a phone call code"),
        "email" => Some("an email code"),
        "rec" => Some("a recovery code"),
        "access_code" => Some("a one-time access code from an administrator"),
        "hwk" => Some("a security key or passkey"),
        "user" => Some("the person's verification by it"),
        "trusted" => Some("a trusted computer"),
        _ => None,
    }
}

fn channel(name: Option<&str>) -> String {
    match name {
        Some("sms") => "by text message".into(),
        Some("call") | Some("voice") => "by phone call".into(),
        Some("email") => "by email".into(),
        Some("whatsapp") => "by WhatsApp".into(),
        Some(other) => format!("by {other}"),
        None => "by message".into(),
    }
}

fn method(kind: Option<&str>) -> &'static str {
    match kind {
        Some("authenticator") => "an authenticator app",
        Some("sms") => "text message codes",
        Some("voice") => "phone call codes",
        Some("email") => "email codes",
        _ => "a two-factor method",
    }
}

/// Where a code was entered, after "a wrong code".
fn context(name: Option<&str>) -> String {
    match name {
        Some("login") => "at login".into(),
        Some("reauthentication") => "to confirm it was them".into(),
        Some("enable") => "to add a method".into(),
        Some("disable") => "to remove a method".into(),
        Some("phone_change") => "to change the phone".into(),
        Some(other) => format!("({})", words(other)),
        None => String::new(),
    }
}

fn login_failure(reason: Option<&str>) -> String {
    match reason {
        Some("wrong_password") => "wrong password".into(),
        Some("unknown_user") => "no such user".into(),
        Some("inactive") => "the account is deactivated".into(),
        Some("throttled") => "too many wrong passwords, the login waits".into(),
        Some("unverified_email") => {
            "the email address typed is not verified yet, so it is no login id".into()
        }
        Some("passkey_refused") => "the passkey's answer was refused".into(),
        Some(other) => words(other),
        None => "no reason recorded".into(),
    }
}

/// What a security notice told of, by its kind's name.
fn notice(kind: Option<&str>) -> &'static str {
    match kind {
        Some("newComputer") => "a login from a computer new to the account",
        Some("passwordChanged") => "a change of password",
        Some("methodAdded") => "a second factor added",
        Some("methodRemoved") => "a second factor removed",
        Some("recoveryCodeUsed") => "a recovery code used to log in",
        Some("recoveryCodesRenewed") => "new recovery codes",
        Some("twoFactorReset") => "an administrator's reset of the second factors",
        Some("accessCodeUsed") => "an administrator's access code used to log in",
        _ => "a security event",
    }
}

/// "1 session", "3 other sessions", "no session".
fn sessions(count: i64, other: &str) -> String {
    match count {
        0 => format!("no {other}session"),
        1 => format!("1 {other}session"),
        n => format!("{n} {other}sessions"),
    }
}

fn settings(key: Option<&str>) -> String {
    match key {
        Some("two_factor") => "the two-factor settings".into(),
        Some("delivery") => "the code delivery settings".into(),
        Some("welcome") => "the terms and welcome settings".into(),
        Some("accounts") => "the account settings".into(),
        Some("notices") => "the security notice settings".into(),
        Some(other) => format!("the {} settings", words(other)),
        None => "the settings".into(),
    }
}

/// The factors an event's `amr` names, in words.
fn factors_of(details: &Value) -> Vec<String> {
    details
        .get("amr")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().and_then(factor))
        .map(str::to_owned)
        .collect()
}

/// `text`, then ": why" when there is a reason.
fn because(text: String, details: &Value) -> String {
    match text_of_reason(details) {
        Some(reason) => format!("{text}: {reason}"),
        None => text,
    }
}

fn text_of_reason(details: &Value) -> Option<&str> {
    text(details, "reason").filter(|r| !r.trim().is_empty())
}

pub fn say(kind: EventKind, actor: &Party, target: Option<&Party>, details: &Value) -> String {
    let someone = Party::named("someone");
    let target_or_actor = target.unwrap_or(actor);
    let own = target.is_none_or(|t| t.user.is_some() && t.user == actor.user);
    let a = &actor.name;
    let t = &target_or_actor.name;
    // "their" when actors act on their own account, else "bob's".
    let whose = if own {
        "their".to_owned()
    } else {
        format!("{t}'s")
    };
    let on = |what: &str| {
        if own {
            format!("{a} {what}")
        } else {
            format!("{a} {what} for {t}")
        }
    };
    match kind {
        EventKind::LoginSuccess => {
            let factors = factors_of(details);
            let mut said = format!("{t} logged in");
            if !factors.is_empty() {
                said.push_str(&format!(" with {}", and_list(&factors)));
            }
            if text(details, "loginType") == Some("api") {
                said.push_str(" through the API");
            }
            said
        }
        EventKind::LoginFailure => {
            let who = match (target, text(details, "loginId")) {
                (Some(user), _) => user.name.clone(),
                (None, Some(login_id)) => format!("“{login_id}”"),
                (None, None) => "someone".into(),
            };
            format!(
                "A login as {who} failed: {}",
                login_failure(text(details, "reason"))
            )
        }
        EventKind::LoginThrottled => match target {
            Some(user) => format!(
                "Logins as {} were held back: too many wrong passwords",
                user.name
            ),
            None => "Logins were held back: too many wrong passwords".into(),
        },
        EventKind::Logout => match (flag(details, "global"), own, target) {
            (_, _, None) => format!("{a} logged out"),
            (true, true, _) => format!("{t} logged out of every session"),
            (true, false, _) => format!("{a} ended all of {t}'s sessions"),
            (false, true, _) => format!("{t} logged out"),
            // Sessions ended by another (or, in older rows, with no actor).
            (false, false, _) if actor.user.is_none() => format!("{t} logged out"),
            (false, false, _) => format!("{a} ended a session of {t}"),
        },
        EventKind::TokenRefresh => format!("{t} renewed a session with its refresh token"),
        EventKind::Reauthenticate => match factors_of(details).as_slice() {
            [] => format!("{t} confirmed it was them before changing security settings"),
            factors => format!(
                "{t} confirmed it was them with {} before changing security settings",
                and_list(factors)
            ),
        },
        EventKind::StepUp => {
            let client = match (text(details, "site"), text(details, "clientId")) {
                (Some(site), _) => format!("the site {site}"),
                (None, Some(client)) => client.to_owned(),
                (None, None) => "an application".to_owned(),
            };
            match factors_of(details).as_slice() {
                [] => format!("{t} proved a second factor for {client}"),
                factors => format!("{t} proved {} for {client}", and_list(factors)),
            }
        }
        EventKind::RefreshTokenReuse => match target {
            Some(user) => format!(
                "A spent refresh token of {}'s came back: its session is ended",
                user.name
            ),
            None => "A spent refresh token came back: its session is ended".into(),
        },
        EventKind::UserCreate => match details.get("emailVerified").and_then(Value::as_bool) {
            Some(true) => format!("{a} created the user {t}, vouching for the email address"),
            Some(false) => format!(
                "{a} created the user {t}, whose email address awaits verification by its link"
            ),
            None => format!("{a} created the user {t}"),
        },
        EventKind::UserUpdate => {
            if let Some(every_login) = details.get("everyLogin").and_then(Value::as_bool) {
                let when = if every_login {
                    "at every login"
                } else {
                    "once per computer"
                };
                return format!("{t} chose to be asked for a second factor {when}");
            }
            let changed: Vec<String> = details
                .get("changed")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(words)
                .collect();
            let said = if changed.is_empty() {
                format!("{a} changed {whose} profile")
            } else {
                format!("{a} changed {whose} profile: {}", and_list(&changed))
            };
            match details.get("emailVerified").and_then(Value::as_bool) {
                Some(true) => format!("{said}, vouching for the email address"),
                Some(false) => format!("{said}; the email address awaits verification"),
                None => said,
            }
        }
        EventKind::UserDelete => format!("{a} deleted the user {t}"),
        EventKind::PasswordChange => {
            let said = if flag(details, "temporary") {
                format!("{a} gave {t} a temporary password")
            } else {
                format!("{a} changed {whose} password")
            };
            match (
                number(details, "sessionsEnded"),
                flag(details, "keptThisSession"),
            ) {
                (Some(ended), true) => format!(
                    "{said}, ending {} and keeping the session it was changed from",
                    sessions(ended, "other ")
                ),
                (Some(ended), false) => format!("{said}, ending {}", sessions(ended, "")),
                (None, _) => said,
            }
        }
        EventKind::PasswordChangeFailure => {
            let why = match text(details, "reason") {
                Some("wrong_current_password") => "the current password was wrong".into(),
                Some("throttled") => {
                    "too many wrong passwords from this address, so it was not checked".into()
                }
                Some(other) => words(other),
                None => "no reason recorded".into(),
            };
            format!("{t}'s password change was refused: {why}")
        }
        EventKind::PasswordResetRequest => match (text(details, "by"), text(details, "to")) {
            (Some("email"), Some(to)) => {
                format!("{t} asked to reset a forgotten password: a link was sent to {to}")
            }
            (Some("sms"), Some(to)) => {
                format!("{t} asked to reset a forgotten password: a code was texted to {to}")
            }
            (Some("sms_code"), _) => {
                format!("{t} proved a texted code and was given a link to reset their password")
            }
            (Some("api"), _) => {
                format!("{a} made a link to reset {t}'s password, for an application to send")
            }
            (Some("none"), _) => format!(
                "{t} asked to reset a forgotten password, but the account has nowhere to send it \
                 (no verified email address, or no phone where codes by text may reset a password)"
            ),
            _ => format!("{t} asked to reset a forgotten password"),
        },
        EventKind::PasswordReset => {
            let said = format!("{t} reset their password by a link");
            match number(details, "sessionsEnded") {
                Some(ended) => format!(
                    "{said}, ending {} and forgetting every trusted computer",
                    sessions(ended, "")
                ),
                None => said,
            }
        }
        EventKind::PasswordResetFailure => {
            let why = match text(details, "reason") {
                Some("link_used") => "the link was used already".into(),
                Some("link_expired") => "the link had expired".into(),
                Some("password_changed_since") => {
                    "the password had changed since the link was sent".into()
                }
                Some(other) => words(other),
                None => "no reason recorded".into(),
            };
            format!("A link to reset {t}'s password was refused: {why}")
        }
        EventKind::UserInvite => match text(details, "to") {
            Some(to) => format!("{a} invited {t} to choose a password: a link was sent to {to}"),
            None => format!("{a} invited {t} to choose a password"),
        },
        EventKind::PasswordChangeRequired => format!(
            "{t} logged in with a temporary password and was asked to choose one of their own"
        ),
        EventKind::EmailVerificationSent => {
            let to = text(details, "to").unwrap_or("the address");
            match text(details, "occasion") {
                Some("change") => format!(
                    "{t} asked to change their email address to {to}: a link to verify it was \
                     sent there"
                ),
                Some("new_address") if own => {
                    format!("{t} gave the email address {to}: a link to verify it was sent there")
                }
                Some("new_address") => format!(
                    "{a} set {t}'s email address to {to}: a link to verify it was sent there"
                ),
                Some("resend") if own => format!("{t} asked for a new link to verify {to}"),
                Some("resend") => format!("{a} sent {t} a new link to verify {to}"),
                Some("api") => format!(
                    "{a} made a link to verify {t}'s email address {to}, for an application to \
                     send"
                ),
                _ => format!("A link to verify {t}'s email address was sent"),
            }
        }
        EventKind::EmailVerified => {
            let to = text(details, "to").unwrap_or("their address");
            match text(details, "by") {
                Some("link") if flag(details, "replaced") => format!(
                    "{t} verified the new email address {to} by its link: it replaces the old one"
                ),
                Some("link") => format!("{t} verified the email address {to} by its link"),
                Some("code") => format!(
                    "{t} verified the email address {to} with the code that set up email codes"
                ),
                Some("invitation") => format!(
                    "{t} verified the email address {to} by choosing a password with the \
                     invitation sent to it"
                ),
                _ => format!("{t}'s email address was verified"),
            }
        }
        EventKind::OidcClientCreate
        | EventKind::OidcClientSecretRotate
        | EventKind::OidcClientDelete
        | EventKind::OidcCodeIssue
        | EventKind::OidcTokenIssue
        | EventKind::OidcCodeReuse
        | EventKind::OidcTokenRefresh
        | EventKind::OidcRefreshReuse
        | EventKind::OidcGrantRevoke
        | EventKind::OidcAccessRefused
        | EventKind::OidcConsentGrant
        | EventKind::OidcClientUpdate
        | EventKind::OidcApplicationRevoke
        | EventKind::OidcKeyRotate
        | EventKind::OidcKeyRetire => oidc::say(kind, a, t, details),
        EventKind::NoticeSent => {
            let told = notice(text(details, "notice"));
            let ways: Vec<String> = [("email", "by email"), ("sms", "by text")]
                .into_iter()
                .filter_map(|(key, way)| {
                    let sent = details.get(key)?;
                    let to = text(sent, "to").unwrap_or("their address");
                    Some(match text(sent, "refused") {
                        Some(why) => format!("{way} to {to}, which was refused ({why})"),
                        None => format!("{way} to {to}"),
                    })
                })
                .collect();
            format!("{t} was told of {told} {}", and_list(&ways))
        }
        EventKind::NoticeDisowned => {
            let told = notice(text(details, "notice"));
            let mut said = format!("{t} said that {told} was not them");
            if let Some(ended) = number(details, "sessionsEnded") {
                said.push_str(&format!(
                    ": {} ended and every trusted computer forgotten",
                    sessions(ended, "")
                ));
            }
            said
        }
        EventKind::EmailVerificationFailure => {
            let why = match text(details, "reason") {
                Some("link_used") => "the link was used already".into(),
                Some("already_verified") => "the address was verified already".into(),
                Some("link_expired") => "the link had expired".into(),
                Some("address_changed_since") => {
                    "the address awaiting verification had changed since the link was sent".into()
                }
                Some("address_taken") => "another account uses the address now".into(),
                Some(other) => words(other),
                None => "no reason recorded".into(),
            };
            format!("A link to verify {t}'s email address was refused: {why}")
        }
        EventKind::PasswordRehash => {
            format!("{t}'s password hash was upgraded to the current parameters")
        }
        EventKind::UserDisable => format!("{a} deactivated {whose} account"),
        EventKind::UserEnable => format!("{a} reactivated {whose} account"),
        // The number of the profile and of any phone method: verified only where a method
        // holds it (an administrator's change of a user without one sets the profile's alone).
        EventKind::PhoneChange => {
            let said = match text(details, "to") {
                Some("none") => format!("{a} removed {whose} phone number"),
                Some(to) => format!("{a} set {whose} phone number to {to}"),
                None => format!("{a} changed {whose} mobile phone"),
            };
            because(said, details)
        }
        EventKind::ApiKeyCreate => match (text(details, "name"), text(details, "apiKeyId")) {
            (Some(name), Some(id)) => format!("{a} created the API key “{name}” ({id})"),
            (Some(name), None) => format!("{a} created the API key “{name}”"),
            (None, id) => format!("{a} created the API key {}", id.unwrap_or_default()),
        },
        EventKind::ApiKeyRevoke => format!(
            "{a} revoked the API key {}",
            text(details, "apiKeyId").unwrap_or_default()
        ),
        EventKind::TwoFactorChallenge => {
            let mut said = format!("{t} was asked for a second factor");
            if text(details, "loginType") == Some("api") {
                said.push_str(" (a login through the API)");
            }
            said
        }
        EventKind::TwoFactorFailure => {
            let code = match text(details, "reason") {
                Some("code_already_used") => "a code already used",
                _ => "a wrong code",
            };
            format!("{t} entered {code} {}", context(text(details, "context")))
                .trim_end()
                .to_owned()
        }
        EventKind::TwoFactorBlocked => {
            let mut said = format!("{t}'s codes are refused unchecked for a while");
            match number(details, "recentFailures") {
                Some(n) => said.push_str(&format!(": {n} wrong codes recently")),
                None => said.push_str(": too many wrong codes recently"),
            }
            said
        }
        EventKind::TwoFactorEnable => on(&format!("added {}", method(text(details, "method")))),
        EventKind::TwoFactorDisable => {
            let how = if flag(details, "all") {
                "every two-factor method"
            } else {
                method(text(details, "method"))
            };
            let said = if own {
                format!("{a} removed {how}")
            } else {
                format!("{a} removed {how} of {t}")
            };
            if flag(details, "all") {
                format!("{said} with a recovery code")
            } else {
                said
            }
        }
        EventKind::RecoveryCodeUse => match number(details, "remaining") {
            Some(left) => format!("{t} used a recovery code ({left} left)"),
            None => format!("{t} used a recovery code"),
        },
        EventKind::RecoveryCodesRegenerate => on("made new recovery codes"),
        EventKind::TrustGrant => match number(details, "days") {
            Some(days) => format!("{t} trusted a computer for {days} days"),
            None => format!("{t} trusted a computer"),
        },
        EventKind::TrustRevoke => {
            if details.get("trustId").is_some() {
                format!("{a} forgot one of {whose} trusted computers")
            } else {
                format!("{a} forgot all of {whose} trusted computers")
            }
        }
        EventKind::TrustReuse => format!(
            "A spent trusted-computer token of {}'s came back: that trust is ended",
            target.unwrap_or(&someone).name
        ),
        EventKind::SettingsChange => {
            let mut said = format!("{a} changed {}", settings(text(details, "key")));
            if let Some(version) = number(details, "termsVersion").filter(|v| *v > 0) {
                said.push_str(&format!(" (terms version {version})"));
            }
            said
        }
        EventKind::DeliveryTest => {
            let through = text(details, "sender").unwrap_or("a sender");
            let to = text(details, "to").unwrap_or("an unknown destination");
            let said = format!("{a} sent a test message through {through} to {to}");
            match (text(details, "outcome"), text(details, "error")) {
                (Some("delivered"), _) => format!("{said}: delivered"),
                (_, Some(error)) => format!("{said}: it failed ({error})"),
                _ => said,
            }
        }
        EventKind::CodeSent => {
            let how = channel(text(details, "channel"));
            let to = text(details, "to").unwrap_or("an unknown destination");
            match target {
                Some(user) => format!("{} was sent a code {how} to {to}", user.name),
                None => format!("A code was sent {how} to {to}"),
            }
        }
        EventKind::CodeRefused => {
            let how = channel(text(details, "channel"));
            let to = text(details, "to").unwrap_or("an unknown destination");
            let said = match target {
                Some(user) => format!("A code for {} {how} to {to} was refused", user.name),
                None => format!("A code {how} to {to} was refused"),
            };
            because(said, details)
        }
        EventKind::TermsAccepted => match number(details, "termsVersion") {
            Some(version) => format!("{t} accepted the terms of use (version {version})"),
            None => format!("{t} accepted the terms of use"),
        },
        EventKind::TwoFactorReset => because(format!("{a} reset {whose} two-factor"), details),
        EventKind::UserUnlock => {
            if own {
                format!("{a} unlocked their codes")
            } else {
                format!("{a} unlocked {t}: their recent wrong codes are forgotten")
            }
        }
        EventKind::UserImport => match (number(details, "created"), number(details, "unchanged")) {
            (Some(created), Some(unchanged)) => {
                format!("{a} imported {created} users ({unchanged} already there, unchanged)")
            }
            _ => format!(
                "{a} imported {} rows of users",
                number(details, "rows").unwrap_or_default()
            ),
        },
        EventKind::VerifyAccountCreate => {
            let account = text(details, "accountSid").unwrap_or_default();
            match (text(details, "apiKeySid"), text(details, "name")) {
                (Some(key), _) => {
                    format!("{a} created the Verify API key {key} of the account {account}")
                }
                (None, Some(name)) => {
                    format!("{a} created the Verify API account “{name}” ({account})")
                }
                (None, None) => format!("{a} created the Verify API account {account}"),
            }
        }
        EventKind::AccessCodeIssue => {
            let mut said = on("issued a one-time access code");
            if flag(details, "replaced") {
                said.push_str(", replacing an unused one");
            }
            because(said, details)
        }
        EventKind::AccessCodeUse => {
            let said = format!("{t} used a one-time access code from an administrator");
            if text(details, "then") == Some("enrol") {
                format!("{said}, to set up a new second factor")
            } else {
                said
            }
        }
        EventKind::AccessCodeRevoke => format!("{a} revoked {whose} one-time access code"),
        EventKind::UserRegister => {
            let to = text(details, "to").unwrap_or("an email address");
            match text(details, "outcome") {
                Some("email_in_use") => format!(
                    "Someone tried to sign up with {t}'s email address {to}: no account was \
                     made, and the address was told"
                ),
                _ => format!(
                    "{t} signed up with the email address {to}: the account logs in once the \
                     address is verified"
                ),
            }
        }
        EventKind::GroupCreate
        | EventKind::GroupUpdate
        | EventKind::GroupDelete
        | EventKind::GroupMemberAdd
        | EventKind::GroupMemberRemove => groups::say(kind, a, t, details),
        EventKind::ForwardAuthDeny => {
            let site = text(details, "host").unwrap_or("a site");
            let path = text(details, "path").unwrap_or("/");
            let by = match number(details, "rule") {
                Some(rule) => format!("access rule {rule}"),
                None => "the default policy".to_owned(),
            };
            format!("{t} was refused {site}{path} by {by}")
        }
        EventKind::AppPasswordCreate
        | EventKind::AppPasswordRevoke
        | EventKind::BasicAuthRefused => {
            app_passwords::say(kind, a, target.map(|t| t.name.as_str()), own, details)
        }
        EventKind::WebauthnRegister
        | EventKind::WebauthnDelete
        | EventKind::WebauthnAssert
        | EventKind::WebauthnCloneRefused
        | EventKind::WebauthnPolicyRefused => {
            webauthn::say(kind, a, target.map(|t| t.name.as_str()), own, details)
        }
        EventKind::NameCollision => format!(
            "{a} found usernames or emails that look alike once written in their canonical forms"
        ),
    }
}

mod app_passwords;
mod oidc;
mod webauthn;

#[cfg(test)]
mod address_tests;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod forward_auth_tests;
#[cfg(test)]
mod notice_tests;
#[cfg(test)]
mod password_tests;
#[cfg(test)]
mod reauth_tests;
#[cfg(test)]
mod registration_tests;
