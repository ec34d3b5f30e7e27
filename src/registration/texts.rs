//! The words of the registration emails, as pure functions of what they name. (The link that
//! verifies a new account's address is the addresses' email, `addresses/texts.rs`.)

/// The note to an address someone signed up with when it has an account already: its owner
/// hears of it, and the person signing up is answered as if an account were made.
pub struct AccountExists<'a> {
    pub product_name: &'a str,
    /// The account that uses the address: the mailbox's owner may have forgotten it.
    pub username: &'a str,
    pub login_link: &'a str,
    pub forgot_link: &'a str,
    /// The address the sign-up came from, as the person may recognise it.
    pub asked_from: Option<&'a str>,
}

impl AccountExists<'_> {
    pub fn subject(&self) -> String {
        format!("You already have a {} account", self.product_name)
    }

    pub fn body(&self) -> String {
        let from = self
            .asked_from
            .map(|ip| format!(" (from the address {ip})"))
            .unwrap_or_default();
        format!(
            "Someone{from} tried to create a {product} account with this email address, which \
             the account {username} already uses. No new account was made.\n\
             \n\
             If it was you, log in to your account:\n\
             \n\
             {login}\n\
             \n\
             Forgot your password? Ask for a link to choose a new one:\n\
             \n\
             {forgot}\n\
             \n\
             If the address was never verified, logging in with your password sends a new link \
             to verify it. If it was not you, ignore this email: nothing changed.\n",
            product = self.product_name,
            username = self.username,
            login = self.login_link,
            forgot = self.forgot_link,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_names_the_account_and_what_to_do_without_a_link_that_acts() {
        let note = AccountExists {
            product_name: "Tessera",
            username: "alice",
            login_link: "https://login.example/login",
            forgot_link: "https://login.example/forgot-password",
            asked_from: Some("192.0.2.7"),
        };
        assert_eq!(note.subject(), "You already have a Tessera account");
        let body = note.body();
        assert!(body.contains("from the address 192.0.2.7"), "{body}");
        assert!(body.contains("the account alice already uses"), "{body}");
        assert!(body.contains("No new account was made."), "{body}");
        assert!(body.contains("\nhttps://login.example/login\n"), "{body}");
        assert!(
            body.contains("\nhttps://login.example/forgot-password\n"),
            "{body}"
        );
    }
}
