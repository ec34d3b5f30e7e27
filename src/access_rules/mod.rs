//! The access rules that decide what a reverse proxy may let through (`forward_auth`): ordered
//! rules by domain, path, method, network and subject, kept as a settings document or in a file
//! of the configuration's, and read by every node through a cache that is never over a second
//! old. Their own room, below the services, so that the services that rename or create the
//! users and groups a rule names (`accounts`, `groups`, `registration`) can ask it too.

pub mod cache;
mod matchers;
pub mod rules;
pub mod rules_file;

pub use cache::RulesCache;
pub use rules::{
    AccessRules, AccessRulesDocument, HttpMethod, Policy, RuleDocument, RuleError, Subject,
};
