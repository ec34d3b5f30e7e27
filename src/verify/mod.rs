//! The verify engine: codes sent to a phone or an inbox and checked back, with Twilio Verify's
//! semantics (a verification per destination; a code of the service's length, valid 10 minutes;
//! at most 5 checks and 5 sends; a resend within the window sends the same code; an approval is
//! final). Codes are made here (the `builtin` provider) or by Twilio Verify (`twilio_verify`).
//!
//! This module holds the pure parts — values, rules, message texts, the fraud guard; `engine`
//! holds the flows, which use the store and the delivery queue.

mod account_email;
mod accounts;
mod engine;
pub mod factors;
pub mod fraud;
pub mod rate_limits;
pub mod send_budget;
mod services;
mod test_message;

use std::ops::RangeInclusive;

use rand::Rng;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

pub use crate::delivery_settings::{
    Channels, DeliveryChange, DeliverySettings, FraudGuardSettings, Limit, Provider, REDACTED,
    SecretSetting, SenderKind, ServiceSettings, SmtpSettings, SmtpTls, TwilioSettings,
    WebhookSettings,
};
pub use crate::domain::{Channel, Destination};

use crate::crypto::cipher::SecretBox;
use crate::delivery::Delivery;
use crate::store::{AuditStore, CounterStore, Store, TwoFactorStore, VerifyStore};
pub use account_email::{AccountEmail, AccountText, Admitted, account_message_sender};
pub use engine::{
    CheckOutcome, ServiceOverride, StartRequest, VerificationTarget, VerificationView, VerifyError,
    sid,
};
pub use rate_limits::BucketParams;
pub use services::{
    CODE_LENGTHS, ServiceParams, ServiceVerification, TOTP_CODE_LENGTHS, TOTP_SKEWS,
    TOTP_TIME_STEPS,
};
pub use test_message::{TestMessage, TestOutcome};

/// The verify engine: codes made, sent (through `delivery`) and checked, Twilio Verify's
/// services, TOTP factors and rate limits.
#[derive(Clone)]
pub struct Verify {
    audit_store: AuditStore,
    verify_store: VerifyStore,
    /// The send budgets.
    counter_store: CounterStore,
    /// Where users' enrolled numbers tell which countries the server knows.
    two_factor_store: TwoFactorStore,
    secrets: SecretBox,
    /// For checks that Twilio Verify answers.
    http: reqwest::Client,
    delivery: Delivery,
}

impl Verify {
    pub fn new(store: Store, secrets: SecretBox, delivery: Delivery) -> Self {
        Self {
            audit_store: store.audit(),
            verify_store: store.verify(),
            counter_store: store.counters(),
            two_factor_store: store.two_factor(),
            secrets,
            http: crate::delivery::http_client(),
            delivery,
        }
    }

    /// Every channel a code can travel by now (`DeliverySettings::carries`).
    pub async fn carried_channels(&self) -> Result<Vec<Channel>, VerifyError> {
        Ok(self.delivery.delivery_settings().await?.carried_channels())
    }
}

/// The states of a verification, as Twilio names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Canceled,
    MaxAttemptsReached,
    Expired,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Canceled => "canceled",
            Status::MaxAttemptsReached => "max_attempts_reached",
            Status::Expired => "expired",
            Status::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Status::Pending,
            Status::Approved,
            Status::Canceled,
            Status::MaxAttemptsReached,
            Status::Expired,
            Status::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// A whole-number parameter, refused unless it is within `range`.
pub fn number_param(
    param: &'static str,
    raw: &str,
    range: RangeInclusive<i64>,
) -> Result<i64, VerifyError> {
    raw.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| VerifyError::Invalid {
            param,
            message: format!("must be between {} and {}", range.start(), range.end()),
        })
}

/// A `true` or `false` parameter, in any case.
pub fn flag_param(param: &'static str, raw: &str) -> Result<bool, VerifyError> {
    match raw.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(VerifyError::Invalid {
            param,
            message: "expected true or false".into(),
        }),
    }
}

/// A fresh numeric code of `length` digits (4 to 10), uniformly random.
pub fn generate_code(length: u32) -> String {
    let mut rng = OsRng;
    (0..length.clamp(4, 10))
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// The text of a message carrying `code`, for a channel and locale: the service's own template
/// for that channel and locale (or channel) when it has one, else a built-in text. Voice reads
/// the code digit by digit, twice, so it can be written down.
pub fn message_text(
    service: &ServiceSettings,
    channel: Channel,
    locale: &str,
    code: &str,
) -> String {
    let friendly_name = service.friendly_name.as_str();
    let spoken = || {
        code.chars()
            .map(String::from)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let language = locale.split(['-', '_']).next().unwrap_or("en");
    let own = service
        .templates
        .get(&format!("{}.{language}", channel.as_str()))
        .or_else(|| service.templates.get(channel.as_str()));
    if let Some(template) = own {
        let shown = if channel == Channel::Call {
            spoken()
        } else {
            code.to_owned()
        };
        return template
            .replace("{name}", friendly_name)
            .replace("{code}", &shown);
    }
    match (channel, language) {
        (Channel::Call, "fr") => format!(
            "Votre code de vérification {friendly_name} est : {}. Je répète : {}.",
            spoken(),
            spoken()
        ),
        (Channel::Call, _) => format!(
            "Your {friendly_name} verification code is: {}. Again, your code is: {}.",
            spoken(),
            spoken()
        ),
        (_, "fr") => format!("Votre code de vérification {friendly_name} est : {code}"),
        (_, "de") => format!("Ihr {friendly_name} Bestätigungscode lautet: {code}"),
        (_, "es") => format!("Tu código de verificación de {friendly_name} es: {code}"),
        _ => format!("Your {friendly_name} verification code is: {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_asked_length_and_only_digits() {
        for length in 4..=10 {
            let code = generate_code(length);
            assert_eq!(code.len(), length as usize);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
    }

    fn service(name: &str) -> ServiceSettings {
        ServiceSettings {
            friendly_name: name.into(),
            ..ServiceSettings::default()
        }
    }

    #[test]
    fn a_voice_message_reads_the_code_digit_by_digit_twice() {
        let acme = service("Acme");
        let text = message_text(&acme, Channel::Call, "en", "123456");
        assert_eq!(text.matches("1, 2, 3, 4, 5, 6").count(), 2, "{text}");
        assert!(text.contains("Acme"));
        let sms = message_text(&acme, Channel::Sms, "en-US", "123456");
        assert_eq!(sms, "Your Acme verification code is: 123456");
        assert!(message_text(&acme, Channel::Sms, "fr", "1234").starts_with("Votre code"));
    }

    #[test]
    fn a_template_of_the_service_wins_for_its_channel_and_locale() {
        let mut acme = service("Acme");
        acme.templates
            .insert("sms".into(), "{code} is your {name} code".into());
        acme.templates
            .insert("sms.nl".into(), "{code} is je {name}-code".into());
        acme.templates.insert("call".into(), "Code: {code}".into());
        assert_eq!(
            message_text(&acme, Channel::Sms, "en", "4242"),
            "4242 is your Acme code"
        );
        assert_eq!(
            message_text(&acme, Channel::Sms, "nl-BE", "4242"),
            "4242 is je Acme-code"
        );
        assert_eq!(message_text(&acme, Channel::Call, "en", "42"), "Code: 4, 2");
        assert!(message_text(&acme, Channel::Email, "en", "4242").starts_with("Your Acme"));
    }

    #[test]
    fn destinations_are_phones_or_emails_and_say_which_channels_reach_them() {
        let phone = Destination::parse("+1 303 555 1212").unwrap();
        assert_eq!(phone.as_str(), "+13035551212");
        assert!(phone.accepts(Channel::Sms) && phone.accepts(Channel::Call));
        assert!(!phone.accepts(Channel::Email));
        let email = Destination::parse("ann@example.com").unwrap();
        assert!(email.accepts(Channel::Email) && !email.accepts(Channel::Sms));
        assert_eq!(email.masked(), "a•••@example.com");
        assert!(Destination::parse("3035551212").is_err());
    }

    #[test]
    fn numbers_and_flags_are_read_within_their_bounds() {
        assert_eq!(number_param("CodeLength", "8", 4..=10).unwrap(), 8);
        for bad in ["3", "11", "six", "", "6.0"] {
            let error = number_param("CodeLength", bad, 4..=10).unwrap_err();
            assert_eq!(error.to_string(), "must be between 4 and 10", "{bad}");
        }
        assert!(flag_param("Enabled", "TRUE").unwrap());
        assert!(!flag_param("Enabled", "false").unwrap());
        assert!(matches!(
            flag_param("Enabled", "yes"),
            Err(VerifyError::Invalid {
                param: "Enabled",
                ..
            })
        ));
    }

    #[test]
    fn channels_parse_by_name_with_voice_as_an_alias_of_call() {
        assert_eq!("voice".parse::<Channel>().unwrap(), Channel::Call);
        assert!("pigeon".parse::<Channel>().is_err());
        assert_eq!(
            Status::parse("max_attempts_reached"),
            Some(Status::MaxAttemptsReached)
        );
    }
}
