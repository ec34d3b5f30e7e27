//! The fraud guard's pure decisions: may a code go to this destination at all? (The counting
//! limits — per destination, user, IP and overall — are kept in the database by the engine.)

use phonenumber::Type;

use super::{Channel, Destination, FraudGuardSettings};
use crate::domain::PhoneNumber;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The number's country is not on the allow-list (Twilio's 60605).
    Country(String),
    /// The number starts with a blocked prefix (Twilio's 60410).
    Prefix(String),
    /// The numbering plan says the number is a fixed line, which cannot receive SMS (60205).
    Landline,
    /// A premium-rate number, or one of no type the numbering plan knows: what SMS pumping is
    /// paid through (60410).
    PremiumRate,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Country(country) => {
                format!("codes cannot be sent to numbers in {country} from this server")
            }
            Refusal::Prefix(_) => {
                "codes cannot be sent to this number: its prefix is blocked by the fraud guard"
                    .into()
            }
            Refusal::Landline => {
                "this number is a landline and cannot receive text messages; choose a voice call"
                    .into()
            }
            Refusal::PremiumRate => {
                "codes are not sent to premium-rate numbers, nor to numbers of an unknown kind"
                    .into()
            }
        }
    }
}

/// Whether a code may go to `destination` over `channel`.
pub fn screen(
    settings: &FraudGuardSettings,
    destination: &Destination,
    channel: Channel,
) -> Result<(), Refusal> {
    let Destination::Phone(phone) = destination else {
        return Ok(());
    };
    if !settings.enabled {
        return Ok(());
    }
    if let Some(prefix) = settings
        .blocked_prefixes
        .iter()
        .find(|p| phone.e164().starts_with(p.as_str()))
    {
        return Err(Refusal::Prefix(prefix.clone()));
    }
    if !settings.allowed_countries.is_empty() {
        let country = phone.region();
        let allowed = country.as_deref().is_some_and(|c| {
            settings
                .allowed_countries
                .iter()
                .any(|a| a.eq_ignore_ascii_case(c))
        });
        if !allowed {
            return Err(Refusal::Country(
                country.unwrap_or_else(|| "an unknown country".into()),
            ));
        }
    }
    let kind = number_type(phone);
    if settings.refuse_premium_rate
        && matches!(kind, None | Some(Type::PremiumRate | Type::Unknown))
    {
        return Err(Refusal::PremiumRate);
    }
    if settings.refuse_landlines
        && matches!(channel, Channel::Sms | Channel::Whatsapp)
        && kind == Some(Type::FixedLine)
    {
        return Err(Refusal::Landline);
    }
    Ok(())
}

fn parsed(phone: &PhoneNumber) -> Option<phonenumber::PhoneNumber> {
    phonenumber::parse(None, phone.e164()).ok()
}

/// What the numbering plan says the number is; `None` when it cannot be read at all.
fn number_type(phone: &PhoneNumber) -> Option<Type> {
    parsed(phone).map(|n| n.number_type(&phonenumber::metadata::DATABASE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(raw: &str) -> Destination {
        Destination::parse(raw).unwrap()
    }

    #[test]
    fn by_default_every_country_and_mobile_number_is_allowed() {
        let settings = FraudGuardSettings::default();
        assert_eq!(
            screen(&settings, &phone("+1 303 555 1212"), Channel::Sms),
            Ok(())
        );
        assert_eq!(
            screen(&settings, &phone("+44 7400 123456"), Channel::Sms),
            Ok(())
        );
    }

    #[test]
    fn a_blocked_prefix_is_refused() {
        let settings = FraudGuardSettings {
            blocked_prefixes: vec!["+4474".into()],
            ..FraudGuardSettings::default()
        };
        assert_eq!(
            screen(&settings, &phone("+44 7400 123456"), Channel::Call),
            Err(Refusal::Prefix("+4474".into()))
        );
    }

    #[test]
    fn a_country_off_the_allow_list_is_refused() {
        let settings = FraudGuardSettings {
            allowed_countries: vec!["us".into(), "CA".into()],
            ..FraudGuardSettings::default()
        };
        assert_eq!(
            screen(&settings, &phone("+1 303 555 1212"), Channel::Sms),
            Ok(())
        );
        assert_eq!(
            screen(&settings, &phone("+44 7400 123456"), Channel::Sms),
            Err(Refusal::Country("GB".into()))
        );
    }

    #[test]
    fn a_uk_landline_cannot_get_an_sms_or_a_whatsapp_message_but_can_get_a_call() {
        let settings = FraudGuardSettings::default();
        let landline = phone("+44 20 7946 0958");
        for message in [Channel::Sms, Channel::Whatsapp] {
            assert_eq!(
                screen(&settings, &landline, message),
                Err(Refusal::Landline)
            );
        }
        assert_eq!(screen(&settings, &landline, Channel::Call), Ok(()));
    }

    #[test]
    fn a_premium_rate_number_is_refused_on_every_channel() {
        let settings = FraudGuardSettings::default();
        let premium = phone("+1 900 555 0100");
        for channel in [Channel::Sms, Channel::Call, Channel::Whatsapp] {
            assert_eq!(
                screen(&settings, &premium, channel),
                Err(Refusal::PremiumRate)
            );
        }
        let allowed = FraudGuardSettings {
            refuse_premium_rate: false,
            ..FraudGuardSettings::default()
        };
        assert_eq!(screen(&allowed, &premium, Channel::Call), Ok(()));
    }

    #[test]
    fn a_disabled_guard_and_email_destinations_are_not_screened() {
        let off = FraudGuardSettings {
            enabled: false,
            blocked_prefixes: vec!["+1".into()],
            ..FraudGuardSettings::default()
        };
        assert_eq!(
            screen(&off, &phone("+1 303 555 1212"), Channel::Sms),
            Ok(())
        );
        let on = FraudGuardSettings {
            blocked_prefixes: vec!["+1".into()],
            ..FraudGuardSettings::default()
        };
        assert_eq!(
            screen(
                &on,
                &Destination::parse("a@example.com").unwrap(),
                Channel::Email
            ),
            Ok(())
        );
    }
}
