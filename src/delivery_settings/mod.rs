//! Delivery settings: which provider makes the codes, which sender carries them, the verify
//! service, and the fraud guard. Defaults come from the `[delivery]` section of the
//! configuration; an administrator's stored copy overrides them at run time.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{Channel, FieldError, Invalid};

mod senders;

pub use senders::{SmtpSettings, SmtpTls, WebhookSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Tessera makes and checks the codes and hands the messages to `sender`.
    Builtin,
    /// Twilio Verify makes, sends and checks the codes.
    TwilioVerify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    /// Messages are kept and shown at `/dev/outbox` (for trying Tessera without any account).
    Outbox,
    /// Twilio's Messages API (SMS, WhatsApp) and Calls API (voice).
    Twilio,
    /// Email through an SMTP server.
    Smtp,
    /// A signed JSON POST to a URL of yours, which delivers the message.
    Webhook,
}

/// Which channels are on; each is on unless switched off (WhatsApp needs Twilio).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Channels {
    pub sms: bool,
    pub call: bool,
    pub email: bool,
    pub whatsapp: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Self {
            sms: true,
            call: true,
            email: true,
            whatsapp: false,
        }
    }
}

impl Channels {
    pub fn allows(&self, channel: Channel) -> bool {
        match channel {
            Channel::Sms => self.sms,
            Channel::Call => self.call,
            Channel::Email => self.email,
            Channel::Whatsapp => self.whatsapp,
        }
    }
}

/// The verify service: what a code looks like and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ServiceSettings {
    /// Shown in every message ("Your Acme verification code is …"); at most 30 characters.
    #[serde(alias = "friendly_name")]
    pub friendly_name: String,
    #[serde(alias = "code_length")]
    pub code_length: u32,
    #[serde(alias = "code_ttl_seconds")]
    pub code_ttl_seconds: i64,
    #[serde(alias = "max_check_attempts")]
    pub max_check_attempts: i64,
    #[serde(alias = "max_send_attempts")]
    pub max_send_attempts: i64,
    pub channels: Channels,
    /// Locale of the messages unless a request names one (en, fr, de, es are built in).
    #[serde(alias = "default_locale")]
    pub default_locale: String,
    /// Message texts of your own, by channel (`sms`) or channel and locale (`sms.fr`), with
    /// `{code}` and `{name}` (the friendly name) in them; the built-in English text otherwise.
    pub templates: std::collections::BTreeMap<String, String>,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            friendly_name: "Tessera".into(),
            code_length: 6,
            code_ttl_seconds: 600,
            max_check_attempts: 5,
            max_send_attempts: 5,
            channels: Channels::default(),
            default_locale: "en".into(),
            templates: std::collections::BTreeMap::new(),
        }
    }
}

/// A secret setting (an auth token, a signing secret): never shown back, never logged.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Option<String>)]
pub struct SecretSetting(pub Option<String>);

impl SecretSetting {
    pub fn expose(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }

    pub fn is_set(&self) -> bool {
        self.expose().is_some()
    }
}

impl fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() { "<set>" } else { "<unset>" })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct TwilioSettings {
    /// `AC` + 32 hex digits.
    #[serde(alias = "account_sid")]
    pub account_sid: String,
    #[serde(alias = "auth_token")]
    pub auth_token: SecretSetting,
    /// The Verify service, `VA` + 32 hex digits (for the `twilio_verify` provider).
    #[serde(alias = "verify_service_sid")]
    pub verify_service_sid: String,
    /// The number messages and calls come from (for the `twilio` sender).
    #[serde(alias = "from_number")]
    pub from_number: String,
    /// Base of the Messages and Calls APIs.
    #[serde(alias = "api_base_url")]
    pub api_base_url: String,
    /// Base of the Verify API.
    #[serde(alias = "verify_base_url")]
    pub verify_base_url: String,
}

impl Default for TwilioSettings {
    fn default() -> Self {
        Self {
            account_sid: String::new(),
            auth_token: SecretSetting::default(),
            verify_service_sid: String::new(),
            from_number: String::new(),
            api_base_url: "https://api.twilio.com".into(),
            verify_base_url: "https://verify.twilio.com".into(),
        }
    }
}

pub use crate::limits::Limit;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FraudGuardSettings {
    pub enabled: bool,
    /// ISO country codes (US, GB…) phone codes may go to; empty means every country.
    #[serde(alias = "allowed_countries")]
    pub allowed_countries: Vec<String>,
    /// E.164 prefixes (`+882`, `+1900`) no code goes to.
    #[serde(alias = "blocked_prefixes")]
    pub blocked_prefixes: Vec<String>,
    /// Refuse SMS to numbers the numbering plan says are fixed lines.
    #[serde(alias = "refuse_landlines")]
    pub refuse_landlines: bool,
    /// Refuse premium-rate numbers, and numbers of no type the numbering plan knows: the ones
    /// SMS pumping is paid through.
    #[serde(alias = "refuse_premium_rate")]
    pub refuse_premium_rate: bool,
    /// Codes to one number. Tessera's own sends to a user's enrolled number have a budget of
    /// their own per user, so others' sends cannot use it up; each Verify API service has its
    /// own too.
    #[serde(alias = "per_destination")]
    pub per_destination: Limit,
    #[serde(alias = "per_user")]
    pub per_user: Limit,
    #[serde(alias = "per_ip")]
    pub per_ip: Limit,
    /// Codes to one country where a user of this server has an enrolled number, or that
    /// `allowedCountries` lists.
    #[serde(alias = "per_country")]
    pub per_country: Limit,
    /// Codes to one country where no user of this server has an enrolled number (when
    /// `allowedCountries` is empty): tight, because pumping goes where nobody uses the server.
    #[serde(alias = "per_new_country")]
    pub per_new_country: Limit,
    pub global: Limit,
}

impl Default for FraudGuardSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_countries: Vec::new(),
            blocked_prefixes: Vec::new(),
            refuse_landlines: true,
            refuse_premium_rate: true,
            per_destination: Limit {
                max: 5,
                window_seconds: 600,
            },
            per_user: Limit {
                max: 10,
                window_seconds: 3600,
            },
            per_ip: Limit {
                max: 30,
                window_seconds: 3600,
            },
            per_country: Limit {
                max: 1000,
                window_seconds: 3600,
            },
            per_new_country: Limit {
                max: 5,
                window_seconds: 3600,
            },
            global: Limit {
                max: 600,
                window_seconds: 60,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DeliverySettings {
    pub provider: Provider,
    pub sender: SenderKind,
    pub service: ServiceSettings,
    pub twilio: TwilioSettings,
    pub smtp: SmtpSettings,
    pub webhook: WebhookSettings,
    #[serde(alias = "fraud_guard")]
    pub fraud_guard: FraudGuardSettings,
    /// How long one call to a provider may take before it counts as a passing failure.
    #[serde(alias = "timeout_seconds")]
    pub timeout_seconds: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            timeout_seconds: 10,
            provider: Provider::Builtin,
            sender: SenderKind::Outbox,
            service: ServiceSettings::default(),
            twilio: TwilioSettings::default(),
            smtp: SmtpSettings::default(),
            webhook: WebhookSettings::default(),
            fraud_guard: FraudGuardSettings::default(),
        }
    }
}

fn is_sid(value: &str, prefix: &str) -> bool {
    value.len() == 34
        && value.starts_with(prefix)
        && value[2..].chars().all(|c| c.is_ascii_hexdigit())
}

impl DeliverySettings {
    /// Whether a code can travel by `channel` now: the channel is switched on and the provider
    /// (or, for Tessera's own codes, the sender) carries it. WhatsApp goes through Twilio
    /// (Verify's `whatsapp` channel, or `whatsapp:` addresses of the Messages API) or a webhook
    /// that delivers it; the outbox keeps any message; SMTP carries only email.
    pub fn carries(&self, channel: Channel) -> bool {
        if !self.service.channels.allows(channel) {
            return false;
        }
        if self.provider == Provider::TwilioVerify {
            return true;
        }
        match self.sender {
            SenderKind::Outbox | SenderKind::Webhook => true,
            SenderKind::Twilio => channel.is_phone(),
            SenderKind::Smtp => channel == Channel::Email,
        }
    }

    /// Every channel a code can travel by now.
    pub fn carried_channels(&self) -> Vec<Channel> {
        [
            Channel::Sms,
            Channel::Call,
            Channel::Whatsapp,
            Channel::Email,
        ]
        .into_iter()
        .filter(|c| self.carries(*c))
        .collect()
    }

    /// Every inconsistency, named by its field.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: String| {
            errors.push(FieldError::new(field, Invalid::new("[invalid]", message)));
        };
        let name = self.service.friendly_name.trim();
        if name.is_empty() || name.chars().count() > 30 {
            bad(
                "service.friendlyName",
                "the friendly name has 1 to 30 characters".into(),
            );
        }
        if !(4..=10).contains(&self.service.code_length) {
            bad("service.codeLength", "a code has 4 to 10 digits".into());
        }
        if !(120..=86_400).contains(&self.service.code_ttl_seconds) {
            bad(
                "service.codeTtlSeconds",
                "a code lives 2 minutes to 24 hours".into(),
            );
        }
        if !(1..=10).contains(&self.service.max_check_attempts) {
            bad("service.maxCheckAttempts", "between 1 and 10 checks".into());
        }
        if !(1..=10).contains(&self.service.max_send_attempts) {
            bad("service.maxSendAttempts", "between 1 and 10 sends".into());
        }
        let twilio_needed =
            self.provider == Provider::TwilioVerify || self.sender == SenderKind::Twilio;
        if twilio_needed || !self.twilio.account_sid.is_empty() {
            if !is_sid(&self.twilio.account_sid, "AC") {
                bad(
                    "twilio.accountSid",
                    "an Account SID is AC followed by 32 hex digits".into(),
                );
            }
            if twilio_needed && !self.twilio.auth_token.is_set() {
                bad(
                    "twilio.authToken",
                    "the Auth Token is required for Twilio".into(),
                );
            }
            if let Some(token) = self.twilio.auth_token.expose()
                && !(token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit()))
            {
                bad("twilio.authToken", "an Auth Token is 32 hex digits".into());
            }
        }
        if self.provider == Provider::TwilioVerify && !is_sid(&self.twilio.verify_service_sid, "VA")
        {
            bad(
                "twilio.verifyServiceSid",
                "a Verify Service SID is VA followed by 32 hex digits".into(),
            );
        }
        if self.sender == SenderKind::Twilio && !self.twilio.from_number.starts_with('+') {
            bad(
                "twilio.fromNumber",
                "the number messages come from, in E.164 (+1…)".into(),
            );
        }
        for (field, url) in [
            ("twilio.apiBaseUrl", &self.twilio.api_base_url),
            ("twilio.verifyBaseUrl", &self.twilio.verify_base_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bad(field, "a URL starting with https://".into());
            }
        }
        self.smtp.check(self.sender == SenderKind::Smtp, &mut bad);
        self.webhook
            .check(self.sender == SenderKind::Webhook, &mut bad);
        for country in &self.fraud_guard.allowed_countries {
            if country.parse::<phonenumber::country::Id>().is_err() {
                bad(
                    "fraudGuard.allowedCountries",
                    format!("{country:?} is not an ISO country code like US or GB"),
                );
            }
        }
        for prefix in &self.fraud_guard.blocked_prefixes {
            if !(prefix.starts_with('+')
                && prefix.len() >= 2
                && prefix[1..].chars().all(|c| c.is_ascii_digit()))
            {
                bad(
                    "fraudGuard.blockedPrefixes",
                    format!("{prefix:?} is not a prefix like +882"),
                );
            }
        }
        for (field, limit) in [
            (
                "fraudGuard.perDestination",
                self.fraud_guard.per_destination,
            ),
            ("fraudGuard.perUser", self.fraud_guard.per_user),
            ("fraudGuard.perIp", self.fraud_guard.per_ip),
            ("fraudGuard.perCountry", self.fraud_guard.per_country),
            ("fraudGuard.perNewCountry", self.fraud_guard.per_new_country),
            ("fraudGuard.global", self.fraud_guard.global),
        ] {
            if limit.max < 1 || !(1..=86_400).contains(&limit.window_seconds) {
                bad(
                    field,
                    "a limit needs max ≥ 1 and a window of 1 to 86400 seconds".into(),
                );
            }
        }
        for (key, text) in &self.service.templates {
            let channel = key.split('.').next().unwrap_or_default();
            if channel.parse::<Channel>().is_err() {
                bad(
                    "service.templates",
                    format!(
                        "{key:?}: a template is named by a channel (sms, call, email, whatsapp), optionally with .locale"
                    ),
                );
            }
            if !text.contains("{code}") || text.chars().count() > 500 {
                bad(
                    "service.templates",
                    format!("{key:?}: a template holds {{code}} and at most 500 characters"),
                );
            }
        }
        if !(1..=60).contains(&self.timeout_seconds) {
            bad("timeoutSeconds", "between 1 and 60 seconds".into());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The settings as shown back: secrets replaced by "set" (or left out when unset).
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        for secret in [
            &mut shown.twilio.auth_token,
            &mut shown.smtp.password,
            &mut shown.webhook.secret,
        ] {
            if secret.is_set() {
                *secret = SecretSetting(Some(REDACTED.into()));
            }
        }
        shown
    }

    /// Secrets given as "set" (or left out) keep their current value: they are write-only. A
    /// secret goes with what it belongs to: the SMTP password with its username, the webhook's
    /// secret with its URL.
    pub fn keep_secrets_from(mut self, current: &DeliverySettings) -> Self {
        let pairs = [
            (&mut self.twilio.auth_token, &current.twilio.auth_token),
            (&mut self.smtp.password, &current.smtp.password),
            (&mut self.webhook.secret, &current.webhook.secret),
        ];
        for (new, old) in pairs {
            if new.expose().is_none_or(|v| v == REDACTED) {
                *new = old.clone();
            }
        }
        if self.smtp.username.trim().is_empty() {
            self.smtp.password = SecretSetting::default();
        }
        if self.webhook.url.trim().is_empty() {
            self.webhook.secret = SecretSetting::default();
        }
        self
    }
}

/// A change an administrator makes: the whole document (the API, the command line), or the
/// section of one sender (a form of the Code delivery page). Secrets are write-only in each.
#[derive(Debug, Clone)]
pub enum DeliveryChange {
    Whole(Box<DeliverySettings>),
    Smtp(SmtpSettings),
    Webhook(WebhookSettings),
}

impl DeliveryChange {
    /// The settings once the change is made to `current`.
    pub fn applied_to(self, current: &DeliverySettings) -> DeliverySettings {
        let changed = match self {
            DeliveryChange::Whole(settings) => *settings,
            DeliveryChange::Smtp(smtp) => DeliverySettings {
                smtp,
                ..current.clone()
            },
            DeliveryChange::Webhook(webhook) => DeliverySettings {
                webhook,
                ..current.clone()
            },
        };
        changed.keep_secrets_from(current)
    }

    /// What the change is to, for the audit log.
    pub fn section(&self) -> &'static str {
        match self {
            DeliveryChange::Whole(_) => "all",
            DeliveryChange::Smtp(_) => "smtp",
            DeliveryChange::Webhook(_) => "webhook",
        }
    }
}

/// What a set secret reads as.
pub const REDACTED: &str = "set";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_embedded_set_up_and_valid() {
        let settings = DeliverySettings::default();
        assert_eq!(settings.provider, Provider::Builtin);
        assert_eq!(settings.sender, SenderKind::Outbox);
        assert!(settings.fraud_guard.enabled);
        assert!(settings.check().is_ok());
    }

    #[test]
    fn a_channel_is_carried_when_switched_on_and_its_sender_can_carry_it() {
        let mut settings = DeliverySettings::default();
        assert_eq!(
            settings.carried_channels(),
            [Channel::Sms, Channel::Call, Channel::Email]
        );
        settings.service.channels.whatsapp = true;
        assert!(settings.carries(Channel::Whatsapp));
        settings.sender = SenderKind::Smtp;
        assert_eq!(settings.carried_channels(), [Channel::Email]);
        settings.sender = SenderKind::Twilio;
        assert!(settings.carries(Channel::Whatsapp) && !settings.carries(Channel::Email));
        settings.provider = Provider::TwilioVerify;
        settings.service.channels.call = false;
        assert!(settings.carries(Channel::Email) && !settings.carries(Channel::Call));
    }

    #[test]
    fn twilio_settings_are_checked_for_shape() {
        let mut settings = DeliverySettings {
            provider: Provider::TwilioVerify,
            ..DeliverySettings::default()
        };
        settings.twilio.account_sid = "AC123".into();
        settings.twilio.auth_token = SecretSetting(Some("not hex".into()));
        settings.twilio.verify_service_sid = "VX00000000000000000000000000000000".into();
        let fields: Vec<String> = settings
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "twilio.accountSid",
                "twilio.authToken",
                "twilio.verifyServiceSid"
            ]
        );

        settings.twilio.account_sid = format!("AC{}", "a".repeat(32));
        settings.twilio.auth_token = SecretSetting(Some("b".repeat(32)));
        settings.twilio.verify_service_sid = format!("VA{}", "c".repeat(32));
        assert!(settings.check().is_ok());
    }

    #[test]
    fn secrets_are_write_only() {
        let mut current = DeliverySettings::default();
        current.twilio.auth_token = SecretSetting(Some("f".repeat(32)));
        let shown = current.redacted();
        assert_eq!(shown.twilio.auth_token.expose(), Some("set"));
        assert_eq!(shown.webhook.secret.expose(), None);
        let kept = shown.clone().keep_secrets_from(&current);
        assert_eq!(kept.twilio.auth_token, current.twilio.auth_token);
        let mut replaced = shown;
        replaced.twilio.auth_token = SecretSetting(Some("e".repeat(32)));
        assert_eq!(
            replaced
                .keep_secrets_from(&current)
                .twilio
                .auth_token
                .expose(),
            Some("e".repeat(32).as_str())
        );
    }

    #[test]
    fn a_section_changes_its_sender_alone_and_keeps_its_secret_while_it_has_an_owner() {
        let mut current = DeliverySettings::default();
        current.twilio.auth_token = SecretSetting(Some("f".repeat(32)));
        current.smtp.host = "old.example.com".into();
        current.smtp.username = "login".into();
        current.smtp.password = SecretSetting(Some("old password".into()));
        current.webhook.url = "https://sms.example/send".into();
        current.webhook.secret = SecretSetting(Some("hook secret".into()));
        let smtp = SmtpSettings {
            host: "new.example.com".into(),
            username: "login".into(),
            ..current.smtp.clone()
        };
        let kept = DeliveryChange::Smtp(SmtpSettings {
            password: SecretSetting(None),
            ..smtp.clone()
        })
        .applied_to(&current);
        assert_eq!(kept.smtp.host, "new.example.com");
        assert_eq!(kept.smtp.password.expose(), Some("old password"));
        assert_eq!(kept.twilio, current.twilio);
        assert_eq!(kept.webhook, current.webhook);

        let without_user = DeliveryChange::Smtp(SmtpSettings {
            username: String::new(),
            password: SecretSetting(None),
            ..smtp
        })
        .applied_to(&current);
        assert!(!without_user.smtp.password.is_set());
        let without_url = DeliveryChange::Webhook(WebhookSettings::default()).applied_to(&current);
        assert!(!without_url.webhook.secret.is_set());
        assert!(without_url.redacted().smtp.password.expose() == Some(REDACTED));
    }

    #[test]
    fn the_auth_token_never_prints() {
        let mut settings = DeliverySettings::default();
        settings.twilio.auth_token = SecretSetting(Some("0123456789abcdef0123456789abcdef".into()));
        assert!(!format!("{settings:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn fraud_guard_lists_are_checked() {
        let mut settings = DeliverySettings::default();
        settings.fraud_guard.allowed_countries = vec!["US".into(), "Narnia".into()];
        settings.fraud_guard.blocked_prefixes = vec!["+882".into(), "882".into()];
        let fields: Vec<String> = settings
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["fraudGuard.allowedCountries", "fraudGuard.blockedPrefixes"]
        );
    }
}
