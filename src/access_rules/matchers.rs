//! The matchers of an access rule, as newtypes that exist only when valid: a path regex, an
//! HTTP method, a client network, a subject. Domains are `domain::DomainPattern`.

use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

use crate::domain::{GroupName, Invalid, Username};

/// A path regex's longest source and the largest program it may compile to.
const MAX_REGEX_CHARS: usize = 1000;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A path regex, compiled once per document.
#[derive(Debug, Clone)]
pub struct PathPattern(Regex);

impl PathPattern {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.is_empty() || raw.chars().count() > MAX_REGEX_CHARS {
            return Err(Invalid::new(
                "[invalid]",
                format!("{raw:?} is not a path pattern: give 1 to {MAX_REGEX_CHARS} characters"),
            ));
        }
        regex::RegexBuilder::new(raw)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(Self)
            .map_err(|e| {
                let why = match e {
                    regex::Error::Syntax(text) => text.lines().last().unwrap_or_default().into(),
                    regex::Error::CompiledTooBig(_) => "it compiles too big".to_owned(),
                    other => other.to_string(),
                };
                Invalid::new(
                    "[invalid]",
                    format!("{raw:?} is not a regular expression: {}", why.trim()),
                )
            })
    }

    pub(super) fn matches(&self, path: &str) -> bool {
        self.0.is_match(path)
    }
}

/// An HTTP method, upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpMethod(String);

impl HttpMethod {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let method = raw.trim();
        if method.is_empty()
            || method.len() > 20
            || !method.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        {
            return Err(Invalid::new(
                "[invalid]",
                format!("{raw:?} is not an HTTP method such as GET or POST"),
            ));
        }
        Ok(Self(method.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network(IpNet);

impl Network {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let text = raw.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map(|net| Self(net.trunc()))
            .map_err(|_| {
                Invalid::new(
                    "[invalid]",
                    format!("{raw:?} is not a network (CIDR, such as 10.0.0.0/8) or an address"),
                )
            })
    }

    pub(super) fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

/// Who a rule is for: a user by username, or the members of a group by its name (both compared
/// by their keys, so case and width do not count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(Username),
    Group(GroupName),
}

impl Subject {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let refuse = |why: String| Invalid::new("[invalid]", format!("{raw:?} {why}"));
        match raw.trim().split_once(':') {
            Some(("user", name)) => Username::parse(name)
                .map(Self::User)
                .map_err(|e| refuse(format!("is not a subject: {}", e.message))),
            Some(("group", name)) => GroupName::parse(name)
                .map(Self::Group)
                .map_err(|e| refuse(format!("is not a subject: {}", e.message))),
            _ => Err(refuse(
                "is not a subject: write user:NAME or group:NAME".into(),
            )),
        }
    }

    /// Whether both name the same user or the same group, by key.
    pub(super) fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::User(a), Self::User(b)) => a.key() == b.key(),
            (Self::Group(a), Self::Group(b)) => a.key() == b.key(),
            _ => false,
        }
    }

    /// The subject as the rules write it: `user:NAME` or `group:NAME`.
    pub fn as_written(&self) -> String {
        match self {
            Self::User(name) => format!("user:{}", name.as_str()),
            Self::Group(name) => format!("group:{}", name.as_str()),
        }
    }

    /// Whether the person with `username`, a member of `groups`, is this subject.
    pub(super) fn fits(&self, username: &Username, groups: &[GroupName]) -> bool {
        match self {
            Self::User(name) => name.key() == username.key(),
            Self::Group(name) => groups.iter().any(|g| g.key() == name.key()),
        }
    }
}
