//! Where a code goes and how it travels there.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Email, Invalid, PhoneNumber};

/// How a code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    /// A voice call that reads the code out.
    Call,
    Email,
    Whatsapp,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Call => "call",
            Channel::Email => "email",
            Channel::Whatsapp => "whatsapp",
        }
    }

    pub fn is_phone(self) -> bool {
        !matches!(self, Channel::Email)
    }

    /// The channels a phone hears its codes by, in the order the pages offer them.
    pub const PHONE: [Channel; 3] = [Channel::Sms, Channel::Call, Channel::Whatsapp];

    /// The RFC 8176 `amr` value of a login whose code came this way.
    pub fn amr(self) -> &'static str {
        match self {
            Channel::Sms | Channel::Whatsapp => "sms",
            Channel::Call => "tel",
            Channel::Email => "email",
        }
    }
}

impl FromStr for Channel {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        match raw {
            "sms" => Ok(Channel::Sms),
            "call" | "voice" => Ok(Channel::Call),
            "email" => Ok(Channel::Email),
            "whatsapp" => Ok(Channel::Whatsapp),
            other => Err(Invalid::new(
                "[invalid]",
                format!("unknown channel {other:?}; channels are sms, call, email and whatsapp"),
            )),
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a code goes: a phone number or an email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    Phone(PhoneNumber),
    Email(Email),
}

impl Destination {
    /// A phone number with its `+`, or an email address (Twilio's `To`).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.contains('@') {
            Email::parse(raw).map(Destination::Email)
        } else {
            PhoneNumber::parse(raw).map(Destination::Phone)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Destination::Phone(p) => p.e164(),
            Destination::Email(e) => e.as_str(),
        }
    }

    /// For logs and screens: never the whole number or address.
    pub fn masked(&self) -> String {
        match self {
            Destination::Phone(p) => p.masked(),
            Destination::Email(e) => {
                let (local, domain) = e.as_str().split_once('@').unwrap_or(("", e.as_str()));
                let first: String = local.chars().take(1).collect();
                format!("{first}•••@{domain}")
            }
        }
    }

    /// Whether a channel can reach this destination.
    pub fn accepts(&self, channel: Channel) -> bool {
        matches!(
            (self, channel),
            (
                Destination::Phone(_),
                Channel::Sms | Channel::Call | Channel::Whatsapp
            ) | (Destination::Email(_), Channel::Email)
        )
    }
}
