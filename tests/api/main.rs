//! One integration-test binary: every test starts its own server with its own database.
//! Runs on SQLite; set TESSERA_TEST_DATABASE_URL to run the same tests on PostgreSQL.

mod admin;
mod at_rest;
mod audit_log;
mod bad_input;
mod brute_force;
mod cli;
mod crash;
mod edge;
mod fake_smtp;
mod fake_twilio;
mod fake_webhook;
mod guessing;
mod helpers;
mod housekeeping;
mod import;
mod limits;
mod login;
mod names;
mod nodes;
mod passwords;
mod processes;
mod races;
mod senders;
mod sending;
mod system;
mod tokens;
mod trust;
mod twilio;
mod two_factor;
mod users;
mod verify;
mod verify_api;
mod web;
mod welcome;
