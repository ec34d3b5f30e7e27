//! The secrets of one-time links, as they arrive in a URL or a body: a password link's
//! (FusionAuth's `changePasswordId`), an email verification link's (`verificationId`) and a
//! security notice's (`noticeId`).

use std::fmt;

use super::Invalid;

/// A link's secret as a person's browser or an application hands it back: 32 to 64 characters
/// of URL-safe base64, what Tessera makes (43, from 32 random bytes) with room for no other
/// alphabet. It never prints: `Debug` hides it, since whoever holds it may use the link.
macro_rules! link_secret {
    ($(#[$doc:meta])* $name:ident, $field:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                parse_secret(raw, $field, $what).map(Self)
            }

            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(…)"))
            }
        }
    };
}

link_secret!(
    /// The secret of a link that sets a password.
    ChangePasswordId,
    "changePasswordId",
    "a password link"
);

link_secret!(
    /// The secret of a link that verifies an email address.
    VerificationId,
    "verificationId",
    "an email verification link"
);

link_secret!(
    /// The secret of a security notice's "this was not me" link.
    NoticeId,
    "noticeId",
    "a security notice's link"
);

fn parse_secret(raw: &str, field: &str, what: &str) -> Result<String, Invalid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Invalid::new("[blank]", format!("a {field} is required")));
    }
    let shaped = (32..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !shaped {
        return Err(Invalid::new(
            "[invalid]",
            format!("this is not {what} Tessera made: check that the whole link was copied"),
        ));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_secret_is_url_safe_base64_of_a_sensible_length() {
        let made = "k3J5sL0_Qm-2vXyZ8aBcDeFgHiJkLmNoPqRsTuVwXyZ";
        assert_eq!(ChangePasswordId::parse(made).unwrap().expose(), made);
        assert_eq!(ChangePasswordId::parse("").unwrap_err().code, "[blank]");
        assert_eq!(
            ChangePasswordId::parse("short").unwrap_err().code,
            "[invalid]"
        );
        let slashed = "k3J5sL0/Qm-2vXyZ8aBcDeFgHiJkLmNoPqRsTuVwXyZ";
        assert_eq!(
            ChangePasswordId::parse(slashed).unwrap_err().code,
            "[invalid]"
        );
        assert_eq!(
            ChangePasswordId::parse(&"a".repeat(65)).unwrap_err().code,
            "[invalid]"
        );
    }

    #[test]
    fn each_kind_of_link_names_itself_when_refused() {
        assert_eq!(
            VerificationId::parse(" ").unwrap_err().message,
            "a verificationId is required"
        );
        assert!(
            VerificationId::parse("short")
                .unwrap_err()
                .message
                .contains("an email verification link")
        );
        assert!(
            ChangePasswordId::parse("short")
                .unwrap_err()
                .message
                .contains("a password link")
        );
    }

    #[test]
    fn a_link_secret_never_prints() {
        let id = ChangePasswordId::parse(&"a".repeat(43)).unwrap();
        assert!(!format!("{id:?}").contains("aaaa"));
        let id = VerificationId::parse(&"a".repeat(43)).unwrap();
        assert_eq!(format!("{id:?}"), "VerificationId(…)");
    }
}
