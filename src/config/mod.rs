//! One typed configuration: defaults, then an optional TOML file, then `TESSERA_*` environment
//! variables. Unknown keys are an error wherever they come from, so a typo never passes silently.
//!
//! Environment variables name a key in upper case; a nested key joins its parts with a double
//! underscore: `TESSERA_LISTEN`, `TESSERA_ARGON2__MEMORY_KIB`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::Region;
use crate::proxies::{ForwardedHeader, TrustedProxies};

mod edge;
mod forward_auth;
mod session;
mod webauthn;

pub use edge::{ConnectionConfig, DERIVED_MAX_OPEN, DeliveryConfig, MetricsConfig, RESERVED_FILES};
pub use forward_auth::{ForwardAuthConfig, ForwardAuthHeaders};
pub use session::SessionConfig;
pub use webauthn::{RelyingParty, WebauthnConfig};

pub const ENV_PREFIX: &str = "TESSERA_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port the HTTP server binds.
    pub listen: String,
    /// The URL people and applications reach Tessera at; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// `sqlite://PATH` or `postgres://…`; defaults to a SQLite file in the data directory.
    pub database_url: Option<String>,
    /// Where the SQLite database (by default) and the key files live.
    pub data_dir: PathBuf,
    /// The name people see: the issuer in authenticator apps, the title of pages.
    pub product_name: String,
    /// The organisation's name, shown beside the product name in the pages.
    pub organization: String,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `tessera=debug,info`.
    pub log_level: String,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Reverse proxies whose forwarded header names the client; empty: the peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// The header those proxies keep.
    pub forwarded_header: ForwardedHeader,
    pub connections: ConnectionConfig,
    pub metrics: MetricsConfig,
    pub database: DatabaseConfig,
    pub argon2: Argon2Config,
    /// Wrong passwords allowed per account and address, per address and per account.
    pub password_guard: crate::limits::PasswordGuardSettings,
    pub tokens: TokenConfig,
    /// Two-factor defaults; an administrator's stored settings override them at run time.
    pub two_factor: crate::policy::TwoFactorPolicy,
    /// Code delivery defaults (an administrator's stored settings override them at run time),
    /// and who may read the development outbox.
    pub delivery: DeliveryConfig,
    /// The country (ISO code: US, GB…) whose national numbers people may type without a country
    /// code; none: every number starts with + and its country code.
    pub default_region: Option<String>,
    /// Reverse proxies asking about each request: the login portal, the headers, http sites.
    pub forward_auth: ForwardAuthConfig,
    /// Web sessions: their timeouts, "Remember me", the parent domain of their cookie.
    pub session: SessionConfig,
    /// Security keys and passkeys: the relying-party id, a parent domain of the public URL's.
    pub webauthn: WebauthnConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub max_connections: u32,
}

/// Argon2id cost. The defaults are OWASP's first recommended set (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Config {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// How many hashes run at once; more wait their turn, so a flood of logins cannot take
    /// every thread. Zero means one per CPU core.
    pub max_concurrent: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    /// Lifetime of a JWT access token.
    pub access_ttl_seconds: i64,
    /// Lifetime of a refresh token (and of the session behind it).
    pub refresh_ttl_seconds: i64,
    /// How the JSON API's access tokens are signed: HS256 (only Tessera verifies them), or by
    /// the OpenID Connect keys, with a `kid`, for applications to verify against
    /// `/oauth2/jwks`.
    pub access_token_algorithm: AccessTokenAlgorithm,
}

/// The signature of the JSON API's access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AccessTokenAlgorithm {
    /// HMAC-SHA256 under the data directory's `signing.key`.
    #[default]
    #[serde(rename = "HS256")]
    Hs256,
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "ES256")]
    Es256,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            database_url: None,
            data_dir: PathBuf::from("tessera-data"),
            product_name: "Tessera".into(),
            organization: String::new(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            max_body_bytes: 64 * 1024,
            trusted_proxies: TrustedProxies::default(),
            forwarded_header: ForwardedHeader::default(),
            connections: ConnectionConfig::default(),
            metrics: MetricsConfig::default(),
            database: DatabaseConfig::default(),
            argon2: Argon2Config::default(),
            password_guard: crate::limits::PasswordGuardSettings::default(),
            tokens: TokenConfig::default(),
            two_factor: crate::policy::TwoFactorPolicy::default(),
            delivery: DeliveryConfig::default(),
            default_region: None,
            forward_auth: ForwardAuthConfig::default(),
            session: SessionConfig::default(),
            webauthn: WebauthnConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
        }
    }
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 0,
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_ttl_seconds: 3600,
            refresh_ttl_seconds: 30 * 24 * 3600,
            access_token_algorithm: AccessTokenAlgorithm::Hs256,
        }
    }
}

impl Config {
    /// `default_region`, read (`check` refuses a configuration where it cannot be).
    pub fn home_region(&self) -> Option<Region> {
        self.default_region
            .as_deref()
            .and_then(|raw| Region::parse(raw).ok())
    }

    /// Reads the layers in order and checks the result. `env` is passed in (rather than read
    /// here) so that tests can give exactly the variables they mean.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                text.parse::<toml::Table>().map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    message: e.message().to_owned(),
                })?
            }
            None => toml::Table::new(),
        };
        Self::from_table(table, env)
    }

    /// What [`Config::load`] does once the file is read: the file's text (TOML) under the
    /// environment. Without a path to name, a text that is no TOML is `Invalid`.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let table = text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError::Invalid(e.message().to_owned()))?;
        Self::from_table(table, env)
    }

    fn from_table(
        mut table: toml::Table,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        for (name, value) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = key.split("__").map(str::to_lowercase).collect();
            insert_env_value(&mut table, &path, &value, &name)?;
        }
        // The path names the key of a value of the wrong type, which toml's message does not.
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let (path, message) = (e.path().to_string(), e.inner().message().to_owned());
                ConfigError::Invalid(if path == "." {
                    message
                } else {
                    format!("{path}: {message}")
                })
            })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid(format!(
                "listen = {:?} is not an address and port like 127.0.0.1:8080",
                self.listen
            ));
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid(format!(
                "public_url = {url:?} must start with http:// or https://"
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return invalid(format!(
                "database_url = {:?} must start with sqlite: or postgres://",
                DatabaseUrl(url.clone())
            ));
        }
        let name_chars = self.product_name.trim().chars().count();
        if name_chars == 0 || name_chars > 64 || self.product_name.contains(':') {
            return invalid("product_name must be 1 to 64 characters, without a colon".into());
        }
        if let Some(region) = &self.default_region
            && let Err(e) = Region::parse(region)
        {
            return invalid(format!("default_region: {}", e.message));
        }
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir is empty".into());
        }
        if self.max_body_bytes < 1024 {
            return invalid("max_body_bytes must be at least 1024".into());
        }
        let connections = &self.connections;
        if !(1..=300).contains(&connections.header_read_timeout_seconds) {
            return invalid(
                "connections.header_read_timeout_seconds must be 1 to 300 seconds".into(),
            );
        }
        if !(connections.header_read_timeout_seconds..=3600)
            .contains(&connections.keep_alive_timeout_seconds)
        {
            return invalid(
                "connections.keep_alive_timeout_seconds must be at least \
                 connections.header_read_timeout_seconds, and at most 3600"
                    .into(),
            );
        }
        if !(1..=3600).contains(&connections.send_timeout_seconds) {
            return invalid("connections.send_timeout_seconds must be 1 to 3600 seconds".into());
        }
        if connections.max_per_ip == 0 {
            return invalid("connections.max_per_ip must be at least 1".into());
        }
        if connections.max_open != 0 && connections.max_open < connections.max_per_ip {
            return invalid(format!(
                "connections.max_open = {} is below connections.max_per_ip = {}",
                connections.max_open, connections.max_per_ip
            ));
        }
        if let Some(listen) = &self.metrics.listen {
            match listen.parse::<SocketAddr>() {
                Ok(addr) if addr.ip().is_loopback() => {}
                _ => {
                    return invalid(format!(
                        "metrics.listen = {listen:?} must be a loopback address and port like \
                         127.0.0.1:9090: it serves the metrics without a key (elsewhere, give \
                         the scraper an API key, or set metrics.public = true)"
                    ));
                }
            }
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections must be at least 1".into());
        }
        if let Err(e) = argon2::Params::new(
            self.argon2.memory_kib,
            self.argon2.iterations,
            self.argon2.parallelism,
            None,
        ) {
            return invalid(format!("argon2 parameters are not usable: {e}"));
        }
        if let Err(message) = self.password_guard.check() {
            return invalid(message);
        }
        if self.tokens.access_ttl_seconds <= 0 || self.tokens.refresh_ttl_seconds <= 0 {
            return invalid("token lifetimes must be positive".into());
        }
        if let Err(errors) = self.two_factor.check() {
            let named: Vec<String> = errors
                .iter()
                .map(|e| format!("two_factor.{}", e.message))
                .collect();
            return invalid(named.join("; "));
        }
        if let Err(errors) = self.delivery.defaults.check() {
            let named: Vec<String> = errors
                .iter()
                .map(|e| format!("delivery.{}: {}", e.field, e.message))
                .collect();
            return invalid(named.join("; "));
        }
        if let Err(message) = self.forward_auth.check() {
            return invalid(message);
        }
        // Browsers log in at the public URL, and at the portal when it is elsewhere.
        let mut sites = vec![("public_url", self.public_url())];
        if self.forward_auth.portal_url.is_some() {
            sites.push(("forward_auth.portal_url", self.forward_auth_portal_url()));
        }
        let sites: Vec<(&str, &str)> = sites.iter().map(|(k, u)| (*k, u.as_str())).collect();
        if let Err(message) = self.session.check(&sites) {
            return invalid(message);
        }
        if let Err(message) = self.webauthn.check(&self.public_url()) {
            return invalid(message);
        }
        if !self.two_factor.webauthn.allowed_aaguids.is_empty()
            && self.webauthn.attestation_roots_file.is_none()
        {
            return invalid(
                "two_factor.webauthn.allowed_aaguids needs webauthn.attestation_roots_file: \
                 without attestation roots an AAGUID is only the authenticator's own claim"
                    .into(),
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return invalid(format!("log_level = {:?}: {e}", self.log_level));
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> SocketAddr {
        // Checked in `load`; the fallback only serves a hand-built Config.
        self.listen
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Where proxies send a browser to log in: `forward_auth.portal_url`, else the public URL.
    pub fn forward_auth_portal_url(&self) -> String {
        match &self.forward_auth.portal_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => self.public_url(),
        }
    }

    pub fn database_url(&self) -> DatabaseUrl {
        match &self.database_url {
            Some(url) => DatabaseUrl(url.clone()),
            None => DatabaseUrl(format!(
                "sqlite://{}",
                self.data_dir.join("tessera.db").display()
            )),
        }
    }

    /// The metrics-only listener's address, if there is one (checked in `load`).
    pub fn metrics_listen_addr(&self) -> Option<SocketAddr> {
        self.metrics.listen.as_deref().and_then(|a| a.parse().ok())
    }

    pub fn argon2_max_concurrent(&self) -> usize {
        match self.argon2.max_concurrent {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        }
    }

    /// The configuration as TOML, with the database password and the senders' secrets hidden:
    /// what `check-config` shows.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(format!("{:?}", self.database_url()));
        shown.delivery.defaults = self.delivery.defaults.redacted();
        shown.public_url = Some(self.public_url());
        toml::to_string(&shown).unwrap_or_default()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("database_url", &self.database_url())
            .field("data_dir", &self.data_dir)
            .field("log_format", &self.log_format)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("connections", &self.connections)
            .field("argon2", &self.argon2)
            .field("password_guard", &self.password_guard)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

fn insert_env_value(
    table: &mut toml::Table,
    path: &[String],
    raw: &str,
    var: &str,
) -> Result<(), ConfigError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| {
            ConfigError::Invalid(format!(
                "{var}: {part} is not a section of the configuration"
            ))
        })?;
    }
    current.insert(last.clone(), env_value(raw));
    Ok(())
}

/// An environment value is a number or boolean when it reads as one, else a string.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(n) = raw.parse::<i64>() {
        return toml::Value::Integer(n);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

/// A database URL whose password never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // postgres://user:password@host/db → postgres://user:***@host/db
        if let Some((scheme, rest)) = self.0.split_once("://")
            && let Some((credentials, host)) = rest.split_once('@')
            && let Some((user, _password)) = credentials.split_once(':')
        {
            return write!(f, "{scheme}://{user}:***@{host}");
        }
        f.write_str(&self.0)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_configuration_at_all_gives_the_embedded_defaults() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
        assert_eq!(
            config.database_url().expose(),
            "sqlite://tessera-data/tessera.db"
        );
        assert_eq!(config.argon2.memory_kib, 19456);
    }

    #[test]
    fn environment_variables_override_the_file_including_nested_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[argon2]\niterations = 3\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            env(&[
                ("TESSERA_LISTEN", "127.0.0.1:9100"),
                ("TESSERA_ARGON2__MEMORY_KIB", "4096"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen, "127.0.0.1:9100");
        assert_eq!(config.argon2.iterations, 3);
        assert_eq!(config.argon2.memory_kib, 4096);
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let error = Config::load(None, env(&[("TESSERA_LISTEN_ADDR", "x")])).unwrap_err();
        assert!(error.to_string().contains("listen_addr"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tessera.toml");
        std::fs::write(&file, "[argon2]\nmemory = 5\n").unwrap();
        let error = Config::load(Some(&file), env(&[])).unwrap_err();
        assert!(error.to_string().contains("memory"), "{error}");
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        for (var, value, named) in [
            ("TESSERA_LISTEN", "localhost", "listen"),
            ("TESSERA_DATABASE_URL", "mysql://x", "database_url"),
            ("TESSERA_PUBLIC_URL", "example.com", "public_url"),
            ("TESSERA_LOG_FORMAT", "xml", "xml"),
            ("TESSERA_ARGON2__MEMORY_KIB", "1", "argon2"),
        ] {
            let error = Config::load(None, env(&[(var, value)])).unwrap_err();
            assert!(error.to_string().contains(named), "{var}: {error}");
        }
    }

    #[test]
    fn two_factor_defaults_come_from_the_file_or_the_environment_in_snake_case() {
        let config = Config::load(
            None,
            env(&[
                ("TESSERA_TWO_FACTOR__WEB_LOGIN_POLICY", "required"),
                ("TESSERA_TWO_FACTOR__TRUST_DAYS", "7"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.two_factor.web_login_policy,
            crate::policy::LoginPolicy::Required
        );
        assert_eq!(config.two_factor.trust_days, 7);
        let error =
            Config::load(None, env(&[("TESSERA_TWO_FACTOR__TRUST_DAYS", "0")])).unwrap_err();
        assert!(error.to_string().contains("trustDays"), "{error}");
    }

    #[test]
    fn the_edge_settings_come_from_the_file_or_the_environment() {
        let config = Config::load(None, env(&[])).unwrap();
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(config.connections.header_read_timeout_seconds, 10);
        assert_eq!(config.connections.max_per_ip, 256);
        assert!(!config.metrics.public && !config.delivery.outbox_public);

        let config = Config::from_toml(
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n\
             [delivery]\noutbox_public = true\nsender = \"webhook\"\n\
             [delivery.webhook]\nurl = \"https://hooks.example/\"\n",
            env(&[
                ("TESSERA_CONNECTIONS__MAX_PER_IP", "50"),
                ("TESSERA_METRICS__LISTEN", "127.0.0.1:9090"),
                ("TESSERA_FORWARDED_HEADER", "forwarded"),
            ]),
        )
        .unwrap();
        assert_eq!(config.trusted_proxies.to_string(), "10.0.0.0/8, ::1/128");
        assert_eq!(config.forwarded_header, ForwardedHeader::Forwarded);
        assert_eq!(config.connections.max_per_ip, 50);
        assert!(config.delivery.outbox_public);
        assert_eq!(
            config.delivery.defaults.sender,
            crate::delivery_settings::SenderKind::Webhook
        );
        assert_eq!(
            config.metrics_listen_addr(),
            Some("127.0.0.1:9090".parse().unwrap())
        );
        // A list from the environment is one text, separated by commas; check-config shows
        // what it read.
        let config = Config::load(
            None,
            env(&[("TESSERA_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1")]),
        )
        .unwrap();
        assert!(
            config
                .trusted_proxies
                .contains("192.168.0.1".parse().unwrap())
        );
        let shown = config.to_redacted_toml();
        assert!(shown.contains("outbox_public = false"), "{shown}");
        assert!(shown.contains("192.168.0.1/32"), "{shown}");
    }

    #[test]
    fn bad_edge_settings_are_refused_with_the_key_named() {
        for (var, value, named) in [
            ("TESSERA_TRUSTED_PROXIES", "10.0.0.0/33", "trusted_proxies"),
            (
                "TESSERA_TRUSTED_PROXIES",
                "proxy.internal",
                "trusted_proxies",
            ),
            ("TESSERA_FORWARDED_HEADER", "x-real-ip", "x-real-ip"),
            (
                "TESSERA_CONNECTIONS__HEADER_READ_TIMEOUT_SECONDS",
                "0",
                "header_read_timeout",
            ),
            (
                "TESSERA_CONNECTIONS__KEEP_ALIVE_TIMEOUT_SECONDS",
                "5",
                "keep_alive_timeout",
            ),
            (
                "TESSERA_CONNECTIONS__SEND_TIMEOUT_SECONDS",
                "0",
                "send_timeout",
            ),
            ("TESSERA_CONNECTIONS__MAX_PER_IP", "0", "max_per_ip"),
            ("TESSERA_CONNECTIONS__MAX_OPEN", "10", "max_open"),
            ("TESSERA_CONNECTIONS__MAX_OPENED", "10", "max_opened"),
            ("TESSERA_METRICS__LISTEN", "0.0.0.0:9090", "metrics.listen"),
            (
                "TESSERA_METRICS__LISTEN",
                "localhost:9090",
                "metrics.listen",
            ),
            ("TESSERA_METRICS__PUBLIC", "yes", "public"),
            ("TESSERA_DELIVERY__OUTBOX_PUBLIC", "yes", "outbox_public"),
            ("TESSERA_DELIVERY__OUTBOX", "true", "outbox"),
        ] {
            let error = Config::load(None, env(&[(var, value)])).unwrap_err();
            assert!(error.to_string().contains(named), "{var}={value}: {error}");
        }
    }

    #[test]
    fn the_api_access_tokens_are_hs256_unless_told_to_use_the_published_keys() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(
            config.tokens.access_token_algorithm,
            AccessTokenAlgorithm::Hs256
        );
        let config = Config::load(
            None,
            env(&[("TESSERA_TOKENS__ACCESS_TOKEN_ALGORITHM", "ES256")]),
        )
        .unwrap();
        assert_eq!(
            config.tokens.access_token_algorithm,
            AccessTokenAlgorithm::Es256
        );
        assert!(
            config
                .to_redacted_toml()
                .contains("access_token_algorithm = \"ES256\"")
        );
        let error = Config::from_toml("[tokens]\naccess_token_algorithm = \"none\"\n", env(&[]))
            .unwrap_err();
        assert!(
            error.to_string().contains("tokens.access_token_algorithm"),
            "{error}"
        );
    }

    #[test]
    fn a_database_password_never_prints() {
        let url = DatabaseUrl::new("postgres://tessera:s3cret@db.example/tessera");
        assert_eq!(
            format!("{url:?}"),
            "postgres://tessera:***@db.example/tessera"
        );
        let config = Config {
            database_url: Some(url.expose().into()),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(!config.to_redacted_toml().contains("s3cret"));
    }

    #[test]
    fn the_senders_secrets_never_print() {
        let file = "[delivery.smtp]\nhost = \"smtp.example.com\"\nusername = \"login\"\n\
                    password = \"mail-s3cret\"\nfrom = \"login@example.com\"\n\
                    [delivery.webhook]\nurl = \"https://sms.example/\"\nsecret = \"hook-s3cret\"\n";
        let config = Config::from_toml(file, env(&[])).unwrap();
        assert_eq!(
            config.delivery.defaults.smtp.password.expose(),
            Some("mail-s3cret")
        );
        let shown = config.to_redacted_toml();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("smtp.example.com"), "{shown}");
    }
}
