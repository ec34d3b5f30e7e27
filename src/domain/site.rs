//! The names of sites a reverse proxy puts behind Tessera: a request's host, the domain
//! patterns that access rules and the configuration name sites by (`app.example.com`,
//! `*.example.com`), and the parent domain the session cookie may be shared on.

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

/// A label of a domain name: letters, digits, `_` and inner hyphens, 1 to 63 characters.
fn label_ok(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_CHARS
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// The domain a cookie is shared on (its `Domain` attribute): `example.com` gives the cookie to
/// `example.com` and every name under it. Never a single label such as `com` (a browser would
/// refuse it, or worse, give it to every site under the suffix) unless it is `localhost`, and
/// never an IP address, which a cookie cannot be shared under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CookieDomain(String);

impl CookieDomain {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        // A leading dot is what RFC 2109 wrote; RFC 6265 ignores it.
        let name = raw
            .trim()
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let refuse = |why: &str| Err(Invalid::new("[invalid]", format!("{raw:?} {why}")));
        if name.contains('*') {
            return refuse("is not a domain: write the parent domain itself (example.com), no *");
        }
        if !name.is_ascii() {
            return refuse("is not a domain: write an internationalised name in its xn-- form");
        }
        if name.is_empty() || name.len() > MAX_NAME_CHARS || !name.split('.').all(label_ok) {
            return refuse(
                "is not a domain: its labels are letters, digits and inner hyphens, separated \
                 by dots",
            );
        }
        if name.parse::<std::net::Ipv4Addr>().is_ok()
            || name
                .rsplit('.')
                .next()
                .is_some_and(|top| top.chars().all(|c| c.is_ascii_digit()))
        {
            return refuse("is an IP address: a cookie is shared only under a domain name");
        }
        if !name.contains('.') && name != "localhost" {
            return refuse(
                "is a top-level domain: a cookie on it would go to every site under it; name \
                 your own domain (example.com)",
            );
        }
        Ok(Self(name))
    }

    /// Whether a browser at `host` keeps and sends a cookie with this `Domain`: the domain
    /// itself or a name under it.
    pub fn covers(&self, host: &Host) -> bool {
        let host = host.as_str();
        host == self.0
            || host
                .strip_suffix(self.0.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CookieDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
    fn a_cookie_domain_covers_itself_and_the_names_under_it_only() {
        let domain = CookieDomain::parse(".Example.com.").unwrap();
        assert_eq!(domain.as_str(), "example.com");
        assert!(domain.covers(&host("example.com")));
        assert!(domain.covers(&host("auth.example.com:8443")));
        assert!(domain.covers(&host("a.b.example.com")));
        assert!(!domain.covers(&host("evilexample.com")));
        assert!(!domain.covers(&host("example.com.evil.example")));
        assert!(!domain.covers(&host("example.org")));
        assert!(CookieDomain::parse("localhost").is_ok());
    }

    #[test]
    fn a_cookie_domain_is_no_suffix_alone_no_address_and_no_pattern() {
        for (bad, why) in [
            ("com", "top-level"),
            ("lan", "top-level"),
            ("", "labels"),
            ("*.example.com", "no *"),
            ("10.0.0.1", "IP address"),
            ("a b.example", "labels"),
            ("example.com/", "labels"),
            ("bücher.example", "xn--"),
        ] {
            let error = CookieDomain::parse(bad).unwrap_err();
            assert!(error.message.contains(why), "{bad}: {}", error.message);
        }
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
