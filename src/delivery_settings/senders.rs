//! The SMTP and webhook senders' settings, and the rules that make them usable.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::SecretSetting;

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// STARTTLS, required: nothing is sent before the connection is encrypted (usually port 587).
    #[default]
    Starttls,
    /// Plain text, for a mail server on this machine (usually port 25).
    None,
}

impl SmtpTls {
    pub const ALL: [SmtpTls; 3] = [SmtpTls::Tls, SmtpTls::Starttls, SmtpTls::None];

    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::Tls => "tls",
            SmtpTls::Starttls => "starttls",
            SmtpTls::None => "none",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.as_str() == name)
    }

    /// The port mail servers usually listen on for this mode.
    pub fn usual_port(self) -> i64 {
        match self {
            SmtpTls::Tls => 465,
            SmtpTls::Starttls => 587,
            SmtpTls::None => 25,
        }
    }
}

/// The mail server that carries email codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    default,
    try_from = "SmtpInput"
)]
pub struct SmtpSettings {
    /// The mail server's host name or IP address.
    pub host: String,
    /// 1 to 65535.
    pub port: i64,
    pub tls: SmtpTls,
    /// For the server's AUTH; empty when it asks for none.
    pub username: String,
    pub password: SecretSetting,
    /// The address codes come from: `login@example.com` or `Acme <login@example.com>`.
    pub from: String,
    /// Why a `url` given the older way could not be read; `check` reports it.
    #[serde(skip)]
    pub unreadable_url: Option<String>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: SmtpTls::default().usual_port(),
            tls: SmtpTls::default(),
            username: String::new(),
            password: SecretSetting::default(),
            from: String::new(),
            unreadable_url: None,
        }
    }
}

/// What may be given for SMTP: the fields, or (the older way, still read from configuration
/// files and stored settings) one `url` such as `smtps://user:password@host`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SmtpInput {
    url: Option<String>,
    host: Option<String>,
    port: Option<i64>,
    tls: Option<SmtpTls>,
    username: Option<String>,
    #[serde(default)]
    password: SecretSetting,
    #[serde(default)]
    from: String,
}

impl TryFrom<SmtpInput> for SmtpSettings {
    type Error = String;

    fn try_from(input: SmtpInput) -> Result<Self, String> {
        let Some(url) = input.url.filter(|url| !url.is_empty()) else {
            let tls = input.tls.unwrap_or_default();
            return Ok(Self {
                host: input.host.unwrap_or_default(),
                port: input.port.unwrap_or(tls.usual_port()),
                tls,
                username: input.username.unwrap_or_default(),
                password: input.password,
                from: input.from,
                unreadable_url: None,
            });
        };
        if input.host.is_some()
            || input.port.is_some()
            || input.tls.is_some()
            || input.username.is_some()
            || input.password.0.is_some()
        {
            return Err(
                "give smtp.url or its host, port, tls, username and password, not both".into(),
            );
        }
        Ok(match from_url(&url) {
            Ok(settings) => Self {
                from: input.from,
                ..settings
            },
            Err(why) => Self {
                from: input.from,
                unreadable_url: Some(why),
                ..Self::default()
            },
        })
    }
}

/// Reads `smtp://host:port` (plain), `smtp://…?tls=required` (STARTTLS) or `smtps://…` (TLS),
/// with `user:password@` for AUTH, as the SMTP client library reads them. STARTTLS "when
/// offered" (`tls=opportunistic`) is read as required: a password is never sent in the clear.
fn from_url(raw: &str) -> Result<SmtpSettings, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| {
        format!("the SMTP url cannot be read ({e}); give the host and port instead")
    })?;
    let tls = url
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let tls = match (url.scheme(), tls.as_deref()) {
        ("smtp", None) => SmtpTls::None,
        ("smtp", Some("required" | "opportunistic")) => SmtpTls::Starttls,
        ("smtps", _) => SmtpTls::Tls,
        (scheme, _) => {
            return Err(format!(
                "the SMTP url starts with smtp:// or smtps://, not {scheme}://"
            ));
        }
    };
    let host = match url.host_str() {
        // An IPv6 address is written in brackets in a URL, and without them as a host.
        Some(host) if !host.is_empty() => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        _ => return Err("the SMTP url names no host".into()),
    };
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| "the SMTP url's user or password is not UTF-8".to_owned())
    };
    Ok(SmtpSettings {
        host,
        port: url.port().map_or(tls.usual_port(), i64::from),
        tls,
        username: decode(url.username())?,
        password: SecretSetting(url.password().map(decode).transpose()?),
        from: String::new(),
        unreadable_url: None,
    })
}

/// The URL each code is POSTed to, for a gateway of yours to deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebhookSettings {
    pub url: String,
    /// Signs each POST: `X-Tessera-Signature: sha256=<hex HMAC of the body>`.
    pub secret: SecretSetting,
}

impl SmtpSettings {
    fn in_use(&self) -> bool {
        !self.host.is_empty()
            || !self.from.is_empty()
            || !self.username.is_empty()
            || self.password.is_set()
            || self.unreadable_url.is_some()
    }

    /// Every problem, by field; `needed` when SMTP is the sender in force. Unused (all empty)
    /// settings pass.
    pub(super) fn check(&self, needed: bool, bad: &mut impl FnMut(&str, String)) {
        if !(needed || self.in_use()) {
            return;
        }
        if let Some(why) = &self.unreadable_url {
            bad("smtp.url", why.clone());
            return;
        }
        let host = self.host.trim();
        if host.is_empty() {
            bad(
                "smtp.host",
                "the host name of the mail server is required (like smtp.example.com)".into(),
            );
        } else if let Some((scheme, _)) = host.split_once("://") {
            bad(
                "smtp.host",
                format!("give the host name alone, without {scheme}://"),
            );
        } else if !is_host(host) {
            bad(
                "smtp.host",
                format!("{host:?} is not a host name or IP address (like smtp.example.com)"),
            );
        }
        if !(1..=65_535).contains(&self.port) {
            bad(
                "smtp.port",
                format!(
                    "the port {} is out of range: a port is 1 to 65535 (usually {})",
                    self.port,
                    self.tls.usual_port()
                ),
            );
        }
        let from = self.from.trim();
        if from.is_empty() {
            bad(
                "smtp.from",
                "the from address is required (like login@example.com)".into(),
            );
        } else if from.parse::<lettre::message::Mailbox>().is_err() {
            bad(
                "smtp.from",
                format!(
                    "{from:?} is not an email address (like login@example.com or Acme <login@example.com>)"
                ),
            );
        }
        let user = self.username.trim();
        match (user.is_empty(), self.password.is_set()) {
            (true, true) => bad("smtp.username", "the password needs its username".into()),
            (false, false) => bad(
                "smtp.password",
                format!("the password of {user:?} is required"),
            ),
            _ => {}
        }
        if self.password.is_set() && self.tls == SmtpTls::None && !is_loopback(host) {
            bad(
                "smtp.tls",
                "without TLS the password would cross the network in plain text: choose TLS or STARTTLS".into(),
            );
        }
    }
}

impl WebhookSettings {
    /// Every problem, by field; `needed` when the webhook is the sender in force.
    pub(super) fn check(&self, needed: bool, bad: &mut impl FnMut(&str, String)) {
        let url = self.url.trim();
        if url.is_empty() {
            if needed || self.secret.is_set() {
                bad(
                    "webhook.url",
                    "a webhook URL is required (like https://sms-gateway.example/send)".into(),
                );
            }
            return;
        }
        match reqwest::Url::parse(url) {
            Err(e) => bad("webhook.url", format!("{url:?} is not a URL ({e})")),
            Ok(parsed) if !matches!(parsed.scheme(), "https" | "http") => bad(
                "webhook.url",
                format!(
                    "a webhook URL starts with https:// (or http://), not {}:",
                    parsed.scheme()
                ),
            ),
            Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
                bad("webhook.url", format!("{url:?} names no host"))
            }
            Ok(_) => {}
        }
    }
}

/// A DNS name (letters, digits and hyphens in dot-separated labels) or an IP address.
fn is_host(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
        || (host.len() <= 253
            && host.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(smtp: &SmtpSettings) -> Vec<(String, String)> {
        let mut found = Vec::new();
        smtp.check(true, &mut |field, message| {
            found.push((field.to_owned(), message))
        });
        found
    }

    fn smtp(host: &str, port: i64, from: &str) -> SmtpSettings {
        SmtpSettings {
            host: host.into(),
            port,
            from: from.into(),
            ..SmtpSettings::default()
        }
    }

    #[test]
    fn a_mail_server_is_a_host_a_port_in_range_and_a_from_address() {
        assert!(problems(&smtp("smtp.example.com", 587, "login@example.com")).is_empty());
        assert!(problems(&smtp("127.0.0.1", 2525, "Acme <login@example.com>")).is_empty());
        assert!(problems(&smtp("::1", 25, "login@example.com")).is_empty());
        for (host, says) in [
            ("", "host name of the mail server is required"),
            ("smtp://mail.example.com", "without smtp://"),
            ("mail example.com", "is not a host name"),
            ("mail..example.com", "is not a host name"),
            ("-mail.example.com", "is not a host name"),
        ] {
            let found = problems(&smtp(host, 587, "login@example.com"));
            assert_eq!(found.len(), 1, "{host:?}: {found:?}");
            assert_eq!(found[0].0, "smtp.host");
            assert!(found[0].1.contains(says), "{host:?}: {}", found[0].1);
        }
        for port in [0, -1, 65_536] {
            let found = problems(&smtp("smtp.example.com", port, "login@example.com"));
            assert_eq!(found[0].0, "smtp.port", "{port}");
            assert!(found[0].1.contains("1 to 65535"), "{}", found[0].1);
        }
        for (from, says) in [("", "is required"), ("login", "not an email address")] {
            let found = problems(&smtp("smtp.example.com", 587, from));
            assert_eq!(found[0].0, "smtp.from");
            assert!(found[0].1.contains(says), "{from:?}: {}", found[0].1);
        }
    }

    #[test]
    fn unused_smtp_settings_pass_unless_smtp_is_the_sender() {
        let mut found = Vec::new();
        SmtpSettings::default().check(false, &mut |field, _| found.push(field.to_owned()));
        assert!(found.is_empty());
        assert_eq!(problems(&SmtpSettings::default()).len(), 2, "host and from");
    }

    #[test]
    fn a_password_goes_with_its_username_and_never_in_plain_text_over_the_network() {
        let mut settings = smtp("smtp.example.com", 587, "login@example.com");
        settings.password = SecretSetting(Some("hunter2".into()));
        assert_eq!(problems(&settings)[0].0, "smtp.username");
        settings.username = "login".into();
        assert!(problems(&settings).is_empty());
        settings.tls = SmtpTls::None;
        assert_eq!(problems(&settings)[0].0, "smtp.tls");
        settings.host = "localhost".into();
        assert!(problems(&settings).is_empty(), "a server on this machine");
        settings.password = SecretSetting::default();
        assert_eq!(problems(&settings)[0].0, "smtp.password");
    }

    #[test]
    fn the_older_url_is_read_into_the_fields() {
        let read = |value: serde_json::Value| serde_json::from_value::<SmtpSettings>(value);
        let settings = read(serde_json::json!({
            "url": "smtps://login%40acme.test:p%40ss@mail.acme.test", "from": "login@acme.test"
        }))
        .unwrap();
        assert_eq!(
            (settings.host.as_str(), settings.port, settings.tls),
            ("mail.acme.test", 465, SmtpTls::Tls)
        );
        assert_eq!(settings.username, "login@acme.test");
        assert_eq!(settings.password.expose(), Some("p@ss"));
        assert_eq!(settings.from, "login@acme.test");

        let settings = read(serde_json::json!({"url": "smtp://[::1]:2525"})).unwrap();
        assert_eq!(
            (settings.host.as_str(), settings.port, settings.tls),
            ("::1", 2525, SmtpTls::None)
        );
        let settings =
            read(serde_json::json!({"url": "smtp://mail.acme.test?tls=required"})).unwrap();
        assert_eq!((settings.port, settings.tls), (587, SmtpTls::Starttls));

        // A stored url that cannot be read still loads; the check names it.
        let settings = read(serde_json::json!({"url": "mail.acme.test"})).unwrap();
        assert_eq!(problems(&settings)[0].0, "smtp.url");
        assert!(
            read(serde_json::json!({"url": "smtp://a", "host": "b"}))
                .unwrap_err()
                .to_string()
                .contains("not both")
        );
    }

    #[test]
    fn a_webhook_is_an_http_or_https_url() {
        let problems = |url: &str, needed: bool| {
            let mut found = Vec::new();
            let webhook = WebhookSettings {
                url: url.into(),
                secret: SecretSetting::default(),
            };
            webhook.check(needed, &mut |field, message| {
                found.push(format!("{field}: {message}"))
            });
            found
        };
        assert!(problems("https://sms.example/send", true).is_empty());
        assert!(problems("http://127.0.0.1:8081/hook", true).is_empty());
        assert!(problems("", false).is_empty());
        assert!(problems("", true)[0].contains("URL is required"));
        assert!(problems("ftp://sms.example/", true)[0].contains("not ftp:"));
        assert!(problems("sms.example/send", true)[0].contains("is not a URL"));
    }
}
