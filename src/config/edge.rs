//! The settings of the edge: the connections clients may hold and for how long, who reads
//! `/metrics`, and who reads the development outbox (`delivery.outbox_public`, kept beside the
//! delivery settings' defaults in the `[delivery]` section).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// How many clients may hold a connection, and for how long a slow one may.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionConfig {
    /// A request's head (its line and headers) must arrive whole within this many seconds of
    /// the connection's opening, or of its first byte on a kept-alive connection.
    pub header_read_timeout_seconds: u64,
    /// How long a connection may wait idle for its next request. Longer than the 60 s that
    /// nginx and cloud load balancers keep an idle upstream connection, so that Tessera never
    /// closes one just as a proxy sends on it.
    pub keep_alive_timeout_seconds: u64,
    /// An answer the client stops taking for this long ends its connection.
    pub send_timeout_seconds: u64,
    /// Open connections in all; past it a new one is closed at once. Zero: derived from the
    /// limit of open files.
    pub max_open: usize,
    /// Open connections from one address (one /64 for IPv6); trusted proxies are not counted.
    pub max_per_ip: usize,
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Anyone, without a key.
    pub public: bool,
    /// A second listener, on a loopback address, that serves `/metrics` alone without a key.
    pub listen: Option<String>,
}

/// The `[delivery]` section: the defaults of the delivery settings, and `outbox_public`, which
/// belongs to the operator rather than to the settings an administrator stores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryConfig {
    pub defaults: crate::delivery_settings::DeliverySettings,
    /// `/dev/outbox` without an administrator: for a machine nobody else reaches.
    pub outbox_public: bool,
}

impl Serialize for DeliveryConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            outbox_public: bool,
            #[serde(flatten)]
            defaults: &'a crate::delivery_settings::DeliverySettings,
        }
        Shown {
            outbox_public: self.outbox_public,
            defaults: &self.defaults,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DeliveryConfig {
    // By hand: serde's `flatten` would let an unknown key of the section pass silently.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let outbox_public = match table.remove("outbox_public") {
            None => false,
            Some(toml::Value::Boolean(public)) => public,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "outbox_public = {other} must be true or false"
                )));
            }
        };
        let defaults =
            crate::delivery_settings::DeliverySettings::deserialize(toml::Value::Table(table))
                .map_err(|e| D::Error::custom(e.message()))?;
        Ok(Self {
            defaults,
            outbox_public,
        })
    }
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_seconds: 10,
            keep_alive_timeout_seconds: 75,
            send_timeout_seconds: 60,
            max_open: 0,
            max_per_ip: 256,
        }
    }
}

/// Open files kept for everything but client connections: the database's connections and
/// files, outgoing calls to Twilio, SMTP and webhooks, the logs.
pub const RESERVED_FILES: u64 = 256;
/// The most connections a derived cap allows: with hyper's buffers, about 10 KiB each at rest,
/// so some 160 MiB when all are open.
pub const DERIVED_MAX_OPEN: u64 = 16_384;
const FEWEST_CONNECTIONS: u64 = 64;

impl ConnectionConfig {
    pub fn header_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_read_timeout_seconds)
    }

    pub fn keep_alive_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.keep_alive_timeout_seconds)
    }

    pub fn send_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.send_timeout_seconds)
    }

    /// The cap on open connections under a limit of `open_files`: the configured one if the
    /// limit leaves room for it beside [`RESERVED_FILES`], else an error that says what to
    /// change; zero derives one.
    pub fn max_open_under(&self, open_files: u64) -> Result<usize, ConfigError> {
        let room = open_files.saturating_sub(RESERVED_FILES);
        let cap = match self.max_open as u64 {
            0 => room.min(DERIVED_MAX_OPEN),
            configured if configured <= room => configured,
            configured => {
                return Err(ConfigError::Invalid(format!(
                    "connections.max_open = {configured} needs a limit of open files of at \
                     least {} ({RESERVED_FILES} kept for the database, outgoing calls and \
                     logs), and the limit is {open_files}: raise it (ulimit -n, LimitNOFILE=) \
                     or lower connections.max_open",
                    configured + RESERVED_FILES
                )));
            }
        };
        if cap < FEWEST_CONNECTIONS {
            return Err(ConfigError::Invalid(format!(
                "the limit of open files ({open_files}) leaves {cap} connections beside the \
                 {RESERVED_FILES} kept for the database, outgoing calls and logs; raise it \
                 (ulimit -n, LimitNOFILE=) to at least {}",
                FEWEST_CONNECTIONS + RESERVED_FILES
            )));
        }
        Ok(cap as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_fits_under_the_limit_of_open_files() {
        let derived = ConnectionConfig::default();
        assert_eq!(derived.max_open_under(1024).unwrap(), 768);
        assert_eq!(derived.max_open_under(1 << 20).unwrap(), 16_384);
        let error = derived.max_open_under(300).unwrap_err();
        assert!(error.to_string().contains("ulimit -n"), "{error}");

        let configured = ConnectionConfig {
            max_open: 5000,
            ..ConnectionConfig::default()
        };
        assert_eq!(configured.max_open_under(20_000).unwrap(), 5000);
        let error = configured.max_open_under(4096).unwrap_err();
        assert!(
            error.to_string().contains("connections.max_open = 5000"),
            "{error}"
        );
    }
}
