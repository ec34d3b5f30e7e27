//! The store by area: each handle reaches only its own tables, so that a service's fields
//! show which tables it touches. A handle is the store itself, cloned; the statements of each
//! area are in the file of that area.

use super::Store;

/// Declares the areas: a handle type each, and the accessor that hands it out.
macro_rules! areas {
    ($($(#[$doc:meta])* $area:ident => $accessor:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Clone)]
            pub struct $area {
                pub(super) store: Store,
            }
        )*

        impl Store {
            $(
                pub fn $accessor(&self) -> $area {
                    $area {
                        store: self.clone(),
                    }
                }
            )*
        }
    };
}

areas! {
    /// The users table: accounts, passwords, profile flags (`users.rs`, `import.rs`).
    UserStore => users;
    /// API keys (`api_keys.rs`).
    ApiKeyStore => api_keys;
    /// The audit log (`audit.rs`).
    AuditStore => audit;
    /// Sessions and their refresh tokens, and the secrets an authenticator setup keeps
    /// pending (`sessions.rs`).
    SessionStore => sessions;
    /// Second factors: methods, recovery codes, login challenges and their code checks,
    /// failures, trusted computers, administrators' access codes (`two_factor.rs`,
    /// `code_check/`, `trusted_computers.rs`, `access_codes.rs`).
    TwoFactorStore => two_factor;
    /// Settings an administrator changes at run time (`two_factor.rs`).
    SettingStore => settings;
    /// The verify engine's rows: verifications, sends and rate-limit counters; Verify
    /// accounts, services, rate limits, buckets; TOTP entities, factors and challenges
    /// (`verify.rs`, `verify_api.rs`, `verify_limits.rs`, `verify_totp.rs`).
    VerifyStore => verify;
    /// The delivery queue: messages to send and what became of them (`verify.rs`).
    MessageStore => messages;
    /// One-time password links: a forgotten password's, spent by the change they make
    /// (`password_links.rs`).
    PasswordLinkStore => password_links;
    /// One-time links that verify an email address, spent by the verification they make
    /// (`email_links.rs`).
    EmailLinkStore => email_links;
    /// Counters of rolling windows, taken all at once or not at all: the send budgets, the
    /// password guard and the Verify API's buckets (`counters.rs`).
    CounterStore => counters;
    /// Security notices: the audit log's cursor, the computers accounts logged in from, the
    /// notices sent and their "this was not me" links (`notices.rs`).
    NoticeStore => notices;
    /// OpenID Connect: clients, authorization requests waiting for a login, one-time codes
    /// (`oidc.rs`), grants and their refresh tokens (`oidc_grants.rs`).
    OidcStore => oidc;
    /// Groups of users and their members (`groups.rs`).
    GroupStore => groups;
    /// App passwords: their keyed digests, per user (`app_passwords.rs`).
    AppPasswordStore => app_passwords;
    /// WebAuthn: security keys and passkeys, and the ceremonies not yet finished
    /// (`webauthn.rs`).
    WebauthnStore => webauthn;
}
