//! Tessera: a self-hosted login server with two-factor authentication.
//!
//! The library holds the whole program; `main.rs` only hands the command line to [`cli::run`].
//! ARCHITECTURE.md is the map: adapters (`http`, `cli`) call the services bundled in
//! [`core::Core`] (`accounts`, `auth`, `sessions`, `two_factor`, `verify`, `delivery`, `admin`,
//! `welcome`, `import`, `recovery`, `addresses`, `groups`), which write through `store`; `policy`,
//! `account_policy`, `domain`, `otp`, `crypto`, `audit`, `config` and `clock` are the values and
//! rules beneath them all.

pub mod access_rules;
pub mod account_policy;
pub mod accounts;
pub mod addresses;
pub mod admin;
pub mod app;
pub mod app_passwords;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod crypto;
pub mod delivery;
pub mod delivery_settings;
pub mod domain;
pub mod forward_auth;
pub mod groups;
pub mod http;
pub mod import;
pub mod key_policy;
pub mod limits;
pub mod notices;
pub mod oidc;
pub mod otp;
pub mod policy;
pub mod proxies;
pub mod recovery;
pub mod registration;
pub mod sessions;
pub mod spreadsheet;
pub mod store;
pub mod telemetry;
pub mod two_factor;
pub mod verify;
pub mod webauthn;
pub mod welcome;
