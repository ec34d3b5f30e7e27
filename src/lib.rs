//! Tessera: a self-hosted login server with two-factor authentication.
//!
//! The library holds the whole program; `main.rs` only hands the command line to [`cli::run`].
//! Rooms are named after the domain: `domain` (validated values and entities), `crypto`
//! (passwords, keys, tokens), `store` (SQLite and PostgreSQL), `auth` (login and session flows),
//! `audit`, `http` (the JSON API), `config`, `telemetry` and `cli`.

pub mod accounts;
pub mod admin;
pub mod app;
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
pub mod http;
pub mod import;
pub mod otp;
pub mod policy;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod two_factor;
pub mod verify;
pub mod welcome;
