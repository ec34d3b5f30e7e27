use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

use super::short_text::ShortText;
use super::{Channel, Invalid};

/// The kinds of second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    /// A TOTP app (Google Authenticator, Authy, 1Password…).
    Authenticator,
    /// A mobile phone, whose codes come by text, call or WhatsApp as the person chooses each
    /// time (FusionAuth names this method `sms`, and so does the API).
    #[serde(rename = "sms")]
    Phone,
    /// A code sent by email.
    Email,
}

impl MethodKind {
    pub const ALL: [MethodKind; 3] = [
        MethodKind::Authenticator,
        MethodKind::Phone,
        MethodKind::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Authenticator => "authenticator",
            MethodKind::Phone => "sms",
            MethodKind::Email => "email",
        }
    }

    /// The RFC 8176 `amr` value for a login completed with this kind, when the channel of its
    /// code is not known (`Channel::amr` when it is).
    pub fn amr(self) -> &'static str {
        match self {
            MethodKind::Authenticator => "otp",
            MethodKind::Phone => "sms",
            MethodKind::Email => "email",
        }
    }
}

/// A method named in a request, with the channel its name implies: `voice` (or `call`) and
/// `whatsapp` name a phone that hears its code that way, `sms` a phone sent a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedMethod {
    pub kind: MethodKind,
    /// For a phone: the channel named; None for the other kinds.
    pub channel: Option<Channel>,
}

impl FromStr for RequestedMethod {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        let phone = |channel| RequestedMethod {
            kind: MethodKind::Phone,
            channel: Some(channel),
        };
        match raw {
            "sms" => Ok(phone(Channel::Sms)),
            "voice" | "call" => Ok(phone(Channel::Call)),
            "whatsapp" => Ok(phone(Channel::Whatsapp)),
            other => other.parse::<MethodKind>().map(|kind| RequestedMethod {
                kind,
                channel: None,
            }),
        }
    }
}

impl FromStr for MethodKind {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        MethodKind::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| {
                Invalid::new(
                    "[invalid]",
                    format!(
                        "unknown method {raw:?}; methods are authenticator, sms (a phone, also \
                         named voice or whatsapp for the way it hears its code) and email"
                    ),
                )
            })
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The short public id of a user's two-factor method (FusionAuth shows ids like `2KSZ`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MethodId(String);

const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";

impl MethodId {
    pub fn generate() -> Self {
        let mut rng = OsRng;
        Self(
            (0..8)
                .map(|_| ID_ALPHABET[rng.gen_range(0..ID_ALPHABET.len())] as char)
                .collect(),
        )
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Invalid::new("[blank]", "a methodId is required"));
        }
        if raw.len() > 32 || !raw.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Invalid::new(
                "[invalid]",
                "a methodId is a short string of letters and digits",
            ));
        }
        Ok(Self(raw.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MethodId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name a user gives a method ("Phone", "Work laptop").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodName(String);

impl MethodName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        ShortText {
            min: 1,
            max: 64,
            line_breaks: false,
            too_short: "the name is empty",
            what: "a method name",
        }
        .parse(raw)
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_kinds_parse_by_their_api_names_only() {
        for kind in MethodKind::ALL {
            assert_eq!(kind.as_str().parse::<MethodKind>().unwrap(), kind);
        }
        let error = "totp".parse::<MethodKind>().unwrap_err();
        assert!(error.message.contains("authenticator, sms"));
        assert!("voice".parse::<MethodKind>().is_err());
    }

    #[test]
    fn a_requested_phone_method_names_the_channel_of_its_code() {
        let voice: RequestedMethod = "voice".parse().unwrap();
        assert_eq!(voice.kind, MethodKind::Phone);
        assert_eq!(voice.channel, Some(Channel::Call));
        let sms: RequestedMethod = "sms".parse().unwrap();
        assert_eq!(sms.channel, Some(Channel::Sms));
        let whatsapp: RequestedMethod = "whatsapp".parse().unwrap();
        assert_eq!(whatsapp.channel, Some(Channel::Whatsapp));
        let email: RequestedMethod = "email".parse().unwrap();
        assert_eq!((email.kind, email.channel), (MethodKind::Email, None));
        assert!("fax".parse::<RequestedMethod>().is_err());
    }

    #[test]
    fn method_ids_are_short_and_case_insensitive() {
        let id = MethodId::generate();
        assert_eq!(id.as_str().len(), 8);
        assert_eq!(MethodId::parse(&id.as_str().to_lowercase()).unwrap(), id);
        assert!(MethodId::parse("").is_err());
        assert!(MethodId::parse("a b").is_err());
        assert!(MethodId::parse(&"A".repeat(33)).is_err());
    }

    #[test]
    fn a_method_name_is_short_visible_text() {
        assert_eq!(
            MethodName::parse(" Work laptop ").unwrap().as_str(),
            "Work laptop"
        );
        assert!(MethodName::parse("").is_err());
        assert!(MethodName::parse(&"x".repeat(65)).is_err());
        assert!(MethodName::parse("a\nb").is_err());
    }
}
