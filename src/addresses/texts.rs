//! The words of the address emails, as pure functions of what they name.

/// Why an address is sent its link, as the email explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// An administrator set the address, or the person gave it at the welcome step.
    NewAddress,
    /// The person asked for it in place of the address in force.
    Change,
    /// The person signed up with it (self-registration): the account waits for it.
    Registration,
}

/// The email that carries a link to verify an address.
pub struct VerifyEmail<'a> {
    pub product_name: &'a str,
    pub username: &'a str,
    pub link: &'a str,
    pub hours: i64,
    pub occasion: Occasion,
}

impl VerifyEmail<'_> {
    pub fn subject(&self) -> String {
        format!("Verify your email address for {}", self.product_name)
    }

    pub fn body(&self) -> String {
        let why = match self.occasion {
            Occasion::NewAddress => format!(
                "This address was given for the {product} account {username}.",
                product = self.product_name,
                username = self.username,
            ),
            Occasion::Registration => format!(
                "You signed up for the {product} account {username} with this address. The \
                 account can log in once the address is verified.",
                product = self.product_name,
                username = self.username,
            ),
            Occasion::Change => format!(
                "The {product} account {username} asked to use this address in place of its \
                 current one, which stays in use until this one is verified.",
                product = self.product_name,
                username = self.username,
            ),
        };
        format!(
            "{why}\n\
             \n\
             To confirm that it is yours, open this link within {hours} hours and press the \
             button on the page it opens:\n\
             \n\
             {link}\n\
             \n\
             The link works once. If you did not expect this email, ignore it: the address is \
             not used until it is verified.\n",
            hours = self.hours,
            link = self.link,
        )
    }
}

/// The notice to the address in force that the person asked to replace it.
pub struct ChangeNotice<'a> {
    pub product_name: &'a str,
    pub username: &'a str,
    /// The new address, masked: this mailbox may no longer be the person's.
    pub new_address: &'a str,
    /// The address the request came from, as the person may recognise it.
    pub asked_from: Option<&'a str>,
}

impl ChangeNotice<'_> {
    pub fn subject(&self) -> String {
        format!(
            "Your {} email address is about to change",
            self.product_name
        )
    }

    pub fn body(&self) -> String {
        let from = self
            .asked_from
            .map(|ip| format!(" (from the address {ip})"))
            .unwrap_or_default();
        format!(
            "Someone signed in to the {product} account {username}{from} asked to change its \
             email address to {new}.\n\
             \n\
             Nothing changes until the new address is verified by the link sent to it; until \
             then this address stays in use. If you did not ask for this, log in, change your \
             password and tell your administrator.\n",
            product = self.product_name,
            username = self.username,
            new = self.new_address,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verification_email_names_the_account_the_link_its_lifetime_and_why() {
        let email = VerifyEmail {
            product_name: "Tessera",
            username: "alice",
            link: "https://login.example/verify-email/abc",
            hours: 24,
            occasion: Occasion::Change,
        };
        assert_eq!(email.subject(), "Verify your email address for Tessera");
        let body = email.body();
        assert!(body.contains("account alice"));
        assert!(body.contains("\nhttps://login.example/verify-email/abc\n"));
        assert!(body.contains("within 24 hours"));
        assert!(body.contains("stays in use until this one is verified"));
        let new = VerifyEmail {
            occasion: Occasion::NewAddress,
            ..email
        };
        assert!(new.body().starts_with("This address was given for"));
        let signed_up = VerifyEmail {
            occasion: Occasion::Registration,
            ..new
        };
        assert!(
            signed_up
                .body()
                .starts_with("You signed up for the Tessera account alice with this address.")
        );
    }

    #[test]
    fn the_change_notice_names_the_new_address_masked_and_what_to_do() {
        let notice = ChangeNotice {
            product_name: "Tessera",
            username: "alice",
            new_address: "n•••@example.com",
            asked_from: Some("192.0.2.7"),
        };
        assert_eq!(
            notice.subject(),
            "Your Tessera email address is about to change"
        );
        let body = notice.body();
        assert!(body.contains("to n•••@example.com"));
        assert!(body.contains("from the address 192.0.2.7"));
        assert!(body.contains("change your password"));
    }
}
