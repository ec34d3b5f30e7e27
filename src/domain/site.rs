//! The names of sites a reverse proxy puts behind Tessera: a request's host, and the domain
//! patterns that access rules and the configuration name sites by (`app.example.com`,
//! `*.example.com`).

use std::fmt;

use super::Invalid;

const MAX_NAME_CHARS: usize = 253;
const MAX_LABEL_CHARS: usize = 63;

/// The host a proxied request was for: lowercase, without a port or a trailing dot. Made from a
/// URL the `url` crate parsed, so it is a domain name (IDNs in their `xn--` form) or an IP
/// address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Host(String);

impl Host {
    /// The host of an absolute http(s) URL; `None` for a URL without one.
    pub fn of(url: &url::Url) -> Option<Self> {
        let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
        (!host.is_empty()).then_some(Self(host))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A domain, exact (`app.example.com`) or every name under one (`*.example.com`: `a.example.com`
/// and `a.b.example.com`, never `example.com` itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainPattern {
    /// The name, lowercase, without the `*.` of a wildcard.
    name: String,
    wildcard: bool,
}

impl DomainPattern {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let text = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let (wildcard, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let refuse = |why: &str| Err(Invalid::new("[invalid]", format!("{raw:?} {why}")));
        if name.is_empty() || name == "*" {
            return refuse("is not a domain: a rule for every domain leaves its domain list empty");
        }
        if name.contains('*') {
            return refuse("is not a domain: only a leading \"*.\" may stand for names under one");
        }
        if !name.is_ascii() {
            return refuse("is not a domain: write an internationalised name in its xn-- form");
        }
        if name.len() > MAX_NAME_CHARS {
            return refuse("is not a domain: a domain has at most 253 characters");
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_CHARS
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !name.split('.').all(label_ok) {
            return refuse(
                "is not a domain: its labels are letters, digits and inner hyphens, separated \
                 by dots",
            );
        }
        Ok(Self {
            name: name.to_owned(),
            wildcard,
        })
    }

    pub fn matches(&self, host: &Host) -> bool {
        let host = host.as_str();
        if !self.wildcard {
            return host == self.name;
        }
        host.strip_suffix(self.name.as_str())
            .and_then(|head| head.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty())
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> Host {
        Host::of(&url::Url::parse(&format!("https://{text}/")).unwrap()).unwrap()
    }

    #[test]
    fn a_wildcard_matches_every_name_under_its_domain_but_not_the_domain_nor_a_lookalike() {
        let pattern = DomainPattern::parse("*.Example.com").unwrap();
        assert!(pattern.matches(&host("a.example.com")));
        assert!(pattern.matches(&host("a.b.example.com")));
        assert!(
            pattern.matches(&host("A.EXAMPLE.COM.")),
            "case and root dot"
        );
        assert!(!pattern.matches(&host("example.com")));
        assert!(!pattern.matches(&host("evilexample.com")));
        assert!(!pattern.matches(&host("a.example.com.evil.example")));
        assert_eq!(pattern.to_string(), "*.example.com");
    }

    #[test]
    fn an_exact_domain_matches_itself_whatever_the_port_or_case() {
        let pattern = DomainPattern::parse("app.example.com").unwrap();
        assert!(pattern.matches(&host("App.Example.com:8443")));
        assert!(!pattern.matches(&host("x.app.example.com")));
        assert!(!pattern.matches(&host("app.example.co")));
    }

    #[test]
    fn what_is_no_domain_is_refused_with_the_reason() {
        for (bad, why) in [
            ("", "every domain"),
            ("*", "every domain"),
            ("a.*.example.com", "leading"),
            ("*example.com", "leading"),
            ("bücher.example", "xn--"),
            ("-a.example.com", "labels"),
            ("a..example.com", "labels"),
            ("a b.example.com", "labels"),
            ("https://a.example.com", "labels"),
        ] {
            let error = DomainPattern::parse(bad).unwrap_err();
            assert!(error.message.contains(why), "{bad}: {}", error.message);
        }
    }
}
