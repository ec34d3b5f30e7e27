//! The words of the recovery emails, as pure functions of what they name.

/// The email that carries a link to reset a forgotten password.
pub struct ResetEmail<'a> {
    pub product_name: &'a str,
    pub username: &'a str,
    pub link: &'a str,
    pub minutes: i64,
    /// The address the request came from, as the person may recognise it.
    pub asked_from: Option<&'a str>,
}

impl ResetEmail<'_> {
    pub fn subject(&self) -> String {
        format!("Reset your {} password", self.product_name)
    }

    pub fn body(&self) -> String {
        let from = self
            .asked_from
            .map(|ip| format!(" (from the address {ip})"))
            .unwrap_or_default();
        format!(
            "Someone{from} asked to reset the password of the {product} account {username}.\n\
             \n\
             To choose a new password, open this link within {minutes} minutes:\n\
             \n\
             {link}\n\
             \n\
             The link works once. If you did not ask for it, ignore this email: your password \
             stays as it is, and nobody can use the link without this mailbox.\n",
            product = self.product_name,
            username = self.username,
            minutes = self.minutes,
            link = self.link,
        )
    }
}

/// The email that invites a person to choose the password of an account made for them.
pub struct InvitationEmail<'a> {
    pub product_name: &'a str,
    pub username: &'a str,
    pub link: &'a str,
    pub days: i64,
}

impl InvitationEmail<'_> {
    pub fn subject(&self) -> String {
        format!("Your {} account: choose a password", self.product_name)
    }

    pub fn body(&self) -> String {
        format!(
            "An administrator made you a {product} account: {username}.\n\
             \n\
             To choose its password, open this link within {days} days:\n\
             \n\
             {link}\n\
             \n\
             The link works once. Then log in with your username and the password you chose.\n",
            product = self.product_name,
            username = self.username,
            days = self.days,
            link = self.link,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reset_email_names_the_account_the_link_and_its_lifetime() {
        let email = ResetEmail {
            product_name: "Tessera",
            username: "alice",
            link: "https://login.example/reset-password/abc",
            minutes: 15,
            asked_from: Some("192.0.2.7"),
        };
        assert_eq!(email.subject(), "Reset your Tessera password");
        let body = email.body();
        assert!(body.contains("account alice"));
        assert!(body.contains("\nhttps://login.example/reset-password/abc\n"));
        assert!(body.contains("within 15 minutes"));
        assert!(body.contains("from the address 192.0.2.7"));
    }

    #[test]
    fn the_invitation_names_the_account_the_link_and_its_lifetime() {
        let email = InvitationEmail {
            product_name: "Tessera",
            username: "bob",
            link: "https://login.example/reset-password/abc",
            days: 7,
        };
        assert_eq!(email.subject(), "Your Tessera account: choose a password");
        let body = email.body();
        assert!(body.contains("account: bob."));
        assert!(body.contains("within 7 days"));
        assert!(body.contains("\nhttps://login.example/reset-password/abc\n"));
    }
}
