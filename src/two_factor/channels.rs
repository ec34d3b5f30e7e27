//! By which channel a code travels to a method: a phone hears its codes by text, call or
//! WhatsApp as the person chooses, among the channels the server offers now. Pure rules; the
//! offered channels come from the two-factor settings and the delivery settings.

use crate::domain::{Channel, Invalid, MethodKind};
use crate::policy::AllowedMethods;
use crate::store::MethodRecord;

/// What a person may enrol and use now: the methods the two-factor settings allow and the
/// delivery settings can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub authenticator: bool,
    /// The channels a phone may hear its codes by (none: no phone can be used).
    pub phone_channels: Vec<Channel>,
    pub email: bool,
}

impl Offered {
    /// No code method: what a user who must use a key may enrol besides a key.
    pub fn nothing() -> Self {
        Self {
            authenticator: false,
            phone_channels: Vec::new(),
            email: false,
        }
    }

    pub fn new(allowed: &AllowedMethods, carried: &[Channel]) -> Self {
        Self {
            authenticator: allowed.authenticator,
            phone_channels: phone_channels(allowed, carried),
            email: allowed.email && carried.contains(&Channel::Email),
        }
    }

    /// Whether a method of this kind can be used now.
    pub fn offers(&self, kind: MethodKind) -> bool {
        match kind {
            MethodKind::Authenticator => self.authenticator,
            MethodKind::Phone => !self.phone_channels.is_empty(),
            MethodKind::Email => self.email,
        }
    }
}

/// The channels a phone may hear its codes by now: allowed by the two-factor settings and
/// carried by the delivery settings (`carried`), in the order the pages offer them.
pub fn phone_channels(allowed: &AllowedMethods, carried: &[Channel]) -> Vec<Channel> {
    Channel::PHONE
        .into_iter()
        .filter(|c| allowed.allows_channel(*c) && carried.contains(c))
        .collect()
}

/// The channel a code to `method` goes by: the one asked for, else the phone's own (the one it
/// was enrolled or last used with), else the first a phone may use now. `phone_channels` are
/// those of [`phone_channels`].
pub fn channel_for(
    method: &MethodRecord,
    asked: Option<Channel>,
    phone_channels: &[Channel],
) -> Result<Channel, Invalid> {
    match method.kind {
        MethodKind::Authenticator => Err(Invalid::new(
            "[invalid]",
            "an authenticator's codes come from the app; nothing is sent",
        )),
        MethodKind::Email => match asked {
            None | Some(Channel::Email) => Ok(Channel::Email),
            Some(other) => Err(Invalid::new(
                "[invalid]",
                format!("an email address cannot get a code by {}", other.as_str()),
            )),
        },
        MethodKind::Phone => match asked {
            Some(Channel::Email) => Err(Invalid::new(
                "[invalid]",
                "a phone gets its codes by sms, call or whatsapp",
            )),
            Some(asked) if phone_channels.contains(&asked) => Ok(asked),
            Some(asked) => Err(switched_off(asked)),
            None => method
                .channel
                .filter(|own| phone_channels.contains(own))
                .or_else(|| phone_channels.first().copied())
                .ok_or_else(|| {
                    Invalid::new(
                        "[disabled]",
                        "no way to send codes to a phone is switched on on this server",
                    )
                }),
        },
    }
}

/// The channel of the code that proves a phone being enrolled: the one asked for, else the
/// first a phone may use now.
pub fn channel_for_new_phone(
    asked: Option<Channel>,
    phone_channels: &[Channel],
) -> Result<Channel, Invalid> {
    match asked {
        Some(asked) if phone_channels.contains(&asked) => Ok(asked),
        Some(asked) => Err(switched_off(asked)),
        None => phone_channels
            .first()
            .copied()
            .ok_or_else(|| switched_off(Channel::Sms)),
    }
}

/// A phone code asked for by a channel the server does not offer now.
pub fn switched_off(channel: Channel) -> Invalid {
    Invalid::new(
        "[disabled]",
        format!(
            "codes by {} are switched off on this server",
            describe(channel)
        ),
    )
}

/// A channel in words ("text message", "phone call").
pub fn describe(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "text message",
        Channel::Call => "phone call",
        Channel::Whatsapp => "WhatsApp",
        Channel::Email => "email",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Instant;
    use crate::domain::{MethodId, PhoneNumber, UserId};

    fn phone(own: Option<Channel>) -> MethodRecord {
        MethodRecord {
            id: MethodId::generate(),
            user_id: UserId::new(),
            kind: MethodKind::Phone,
            name: None,
            secret: None,
            totp: None,
            mobile_phone: Some(PhoneNumber::parse("+13035550123").unwrap()),
            email: None,
            last_used_step: None,
            created_at: Instant::from_millis(0),
            last_used_at: None,
            sends_code_on_login: false,
            channel: own,
        }
    }

    #[test]
    fn a_phone_channel_is_offered_when_allowed_and_carried() {
        let allowed = AllowedMethods::default();
        let carried = [Channel::Sms, Channel::Call, Channel::Email];
        assert_eq!(
            phone_channels(&allowed, &carried),
            [Channel::Sms, Channel::Call]
        );
        let no_calls = AllowedMethods {
            voice: false,
            whatsapp: true,
            ..AllowedMethods::default()
        };
        let with_whatsapp = [Channel::Sms, Channel::Call, Channel::Whatsapp];
        assert_eq!(
            phone_channels(&no_calls, &with_whatsapp),
            [Channel::Sms, Channel::Whatsapp]
        );
    }

    #[test]
    fn a_new_phone_hears_its_first_code_the_way_asked_when_offered() {
        let offered = [Channel::Sms, Channel::Call];
        assert_eq!(
            channel_for_new_phone(Some(Channel::Call), &offered).unwrap(),
            Channel::Call
        );
        assert_eq!(channel_for_new_phone(None, &offered).unwrap(), Channel::Sms);
        assert!(channel_for_new_phone(Some(Channel::Whatsapp), &offered).is_err());
        assert!(channel_for_new_phone(None, &[]).is_err());
    }

    #[test]
    fn a_kind_is_offered_when_allowed_and_reachable() {
        let allowed = AllowedMethods {
            sms: false,
            ..AllowedMethods::default()
        };
        let offered = Offered::new(&allowed, &[Channel::Sms, Channel::Email]);
        assert!(!offered.offers(MethodKind::Phone));
        assert!(offered.offers(MethodKind::Email) && offered.offers(MethodKind::Authenticator));
        let smtp_only = Offered::new(&AllowedMethods::default(), &[Channel::Email]);
        assert!(smtp_only.phone_channels.is_empty());
    }

    #[test]
    fn a_phone_hears_the_channel_asked_for_else_its_own_else_the_first_offered() {
        let offered = [Channel::Sms, Channel::Call];
        let heard_by_call = phone(Some(Channel::Call));
        assert_eq!(
            channel_for(&heard_by_call, None, &offered).unwrap(),
            Channel::Call
        );
        assert_eq!(
            channel_for(&heard_by_call, Some(Channel::Sms), &offered).unwrap(),
            Channel::Sms
        );
        let heard_by_whatsapp = phone(Some(Channel::Whatsapp));
        assert_eq!(
            channel_for(&heard_by_whatsapp, None, &offered).unwrap(),
            Channel::Sms
        );
        let refused = channel_for(&heard_by_call, Some(Channel::Whatsapp), &offered).unwrap_err();
        assert_eq!(refused.code, "[disabled]");
        assert!(refused.message.contains("WhatsApp"));
        assert!(channel_for(&heard_by_call, Some(Channel::Email), &offered).is_err());
        assert_eq!(
            channel_for(&heard_by_call, None, &[]).unwrap_err().code,
            "[disabled]"
        );
    }
}
