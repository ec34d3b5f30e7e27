//! A session's methods (`amr`) as it proves more of them.

/// A session's methods (`amr`) once it proved `proved`: each named once, with `mfa` when a
/// second factor is among them (a password alone is one factor).
pub fn with_second_factor(mut amr: Vec<String>, proved: &[String]) -> Vec<String> {
    amr.retain(|m| m != "mfa");
    for method in proved {
        if !amr.contains(method) {
            amr.push(method.clone());
        }
    }
    if amr.iter().any(|m| m != "pwd" && m != "trusted") {
        amr.push("mfa".to_owned());
    }
    amr
}

#[cfg(test)]
mod tests {
    use super::with_second_factor;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_password_alone_is_one_factor_and_a_code_makes_two() {
        assert_eq!(
            with_second_factor(vec![], &words(&["pwd"])),
            words(&["pwd"])
        );
        assert_eq!(
            with_second_factor(vec![], &words(&["pwd", "otp"])),
            words(&["pwd", "otp", "mfa"])
        );
    }

    #[test]
    fn a_step_up_keeps_what_the_login_proved_and_adds_the_code() {
        assert_eq!(
            with_second_factor(words(&["pwd", "trusted"]), &words(&["sms"])),
            words(&["pwd", "trusted", "sms", "mfa"])
        );
        assert_eq!(
            with_second_factor(words(&["pwd", "otp", "mfa"]), &words(&["otp"])),
            words(&["pwd", "otp", "mfa"]),
            "each method once"
        );
    }
}
