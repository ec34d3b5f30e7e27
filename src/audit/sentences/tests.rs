//! A sentence per kind of event, each kind tested alone.

use serde_json::json;

use super::*;

pub(super) fn user(name: &str) -> Party {
    Party {
        user: Some(UserId::new()),
        name: name.into(),
    }
}

/// What `actor` did to `target`'s account, with these details.
pub(super) fn said(
    kind: EventKind,
    actor: &Party,
    target: Option<&Party>,
    details: Value,
) -> String {
    say(kind, actor, target, &details)
}

/// The kinds whose events name no user's account.
const ABOUT_NO_ACCOUNT: &[EventKind] = &[
    EventKind::ApiKeyCreate,
    EventKind::ApiKeyRevoke,
    EventKind::SettingsChange,
    EventKind::DeliveryTest,
    EventKind::UserImport,
    EventKind::VerifyAccountCreate,
    EventKind::NameCollision,
    EventKind::OidcClientCreate,
    EventKind::OidcClientSecretRotate,
    EventKind::OidcClientDelete,
    EventKind::OidcClientUpdate,
    EventKind::GroupCreate,
    EventKind::GroupUpdate,
    EventKind::GroupDelete,
    EventKind::OidcKeyRotate,
    EventKind::OidcKeyRetire,
];

#[test]
fn every_kind_has_a_sentence_of_its_own_that_names_the_account() {
    let (alice, bob) = (user("alice"), user("bob"));
    let mut seen = std::collections::HashSet::new();
    for &kind in EventKind::ALL {
        let sentence = said(kind, &alice, Some(&bob), json!({}));
        assert!(!sentence.is_empty(), "{kind:?}");
        assert!(!sentence.contains(['{', '}']), "{kind:?}: {sentence}");
        assert!(!sentence.contains("user:"), "{kind:?}: {sentence}");
        if !ABOUT_NO_ACCOUNT.contains(&kind) {
            assert!(sentence.contains("bob"), "{kind:?}: {sentence}");
        }
        assert!(
            seen.insert(sentence.clone()),
            "{kind:?} says what another says: {sentence}"
        );
    }
}

#[test]
fn a_login_says_who_with_which_factors_and_through_what() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::LoginSuccess,
            &bob,
            Some(&bob),
            json!({"amr": ["pwd", "otp", "mfa"], "loginType": "web"})
        ),
        "bob logged in with a password and an authenticator app"
    );
    assert_eq!(
        said(
            EventKind::LoginSuccess,
            &bob,
            Some(&bob),
            json!({"amr": ["pwd"], "loginType": "api"})
        ),
        "bob logged in with a password through the API"
    );
}

#[test]
fn a_failed_login_says_as_whom_and_why() {
    let someone = Party::named("Someone");
    assert_eq!(
        said(
            EventKind::LoginFailure,
            &someone,
            Some(&user("bob")),
            json!({"reason": "wrong_password", "loginId": "bob"})
        ),
        "A login as bob failed: wrong password"
    );
    assert_eq!(
        said(
            EventKind::LoginFailure,
            &someone,
            None,
            json!({"reason": "unknown_user", "loginId": "mallory"})
        ),
        "A login as “mallory” failed: no such user"
    );
}

#[test]
fn held_back_logins_say_whose() {
    let bob = user("bob");
    assert_eq!(
        said(EventKind::LoginThrottled, &bob, Some(&bob), json!({})),
        "Logins as bob were held back: too many wrong passwords"
    );
}

#[test]
fn a_logout_says_whose_and_who_ended_it() {
    let (alice, bob) = (user("alice"), user("bob"));
    let global = json!({"global": true, "sessions": 2});
    assert_eq!(
        said(
            EventKind::Logout,
            &bob,
            Some(&bob),
            json!({"sessionId": "s1"})
        ),
        "bob logged out"
    );
    assert_eq!(
        said(EventKind::Logout, &bob, Some(&bob), global.clone()),
        "bob logged out of every session"
    );
    assert_eq!(
        said(EventKind::Logout, &alice, Some(&bob), global),
        "alice ended all of bob's sessions"
    );
    assert_eq!(
        said(
            EventKind::Logout,
            &Party::named("Someone"),
            Some(&bob),
            json!({})
        ),
        "bob logged out",
        "rows written before logouts named their user"
    );
}

#[test]
fn a_token_refresh_says_whose_session() {
    let bob = user("bob");
    assert_eq!(
        said(EventKind::TokenRefresh, &bob, Some(&bob), json!({})),
        "bob renewed a session with its refresh token"
    );
}

#[test]
fn a_refresh_token_that_came_back_says_whose() {
    assert_eq!(
        said(
            EventKind::RefreshTokenReuse,
            &Party::named("Someone"),
            Some(&user("bob")),
            json!({"spentAt": 0})
        ),
        "A spent refresh token of bob's came back: its session is ended"
    );
}

#[test]
fn a_new_user_says_who_made_it() {
    assert_eq!(
        said(
            EventKind::UserCreate,
            &Party::named("API key ak_1"),
            Some(&user("bob")),
            json!({"username": "bob"})
        ),
        "API key ak_1 created the user bob"
    );
}

#[test]
fn a_profile_change_says_which_fields() {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(
        said(
            EventKind::UserUpdate,
            &alice,
            Some(&bob),
            json!({"changed": ["fullName", "email"]})
        ),
        "alice changed bob's profile: full name and email"
    );
    assert_eq!(
        said(
            EventKind::UserUpdate,
            &bob,
            Some(&bob),
            json!({"everyLogin": true})
        ),
        "bob chose to be asked for a second factor at every login"
    );
}

#[test]
fn a_deletion_says_whom() {
    assert_eq!(
        said(
            EventKind::UserDelete,
            &user("alice"),
            Some(&user("bob")),
            json!({"username": "bob"})
        ),
        "alice deleted the user bob"
    );
}

#[test]
fn a_password_change_says_whose() {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(
        said(EventKind::PasswordChange, &bob, Some(&bob), json!({})),
        "bob changed their password"
    );
    assert_eq!(
        said(EventKind::PasswordChange, &alice, Some(&bob), json!({})),
        "alice changed bob's password"
    );
}

#[test]
fn a_password_change_says_which_sessions_it_ended() {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(
        said(
            EventKind::PasswordChange,
            &bob,
            Some(&bob),
            json!({"sessionsEnded": 2, "keptThisSession": true})
        ),
        "bob changed their password, ending 2 other sessions and keeping the session it was changed from"
    );
    assert_eq!(
        said(
            EventKind::PasswordChange,
            &bob,
            Some(&bob),
            json!({"sessionsEnded": 1, "keptThisSession": false})
        ),
        "bob changed their password, ending 1 session"
    );
    assert_eq!(
        said(
            EventKind::PasswordChange,
            &alice,
            Some(&bob),
            json!({"sessionsEnded": 0})
        ),
        "alice changed bob's password, ending no session"
    );
}

#[test]
fn a_refused_password_change_says_why() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::PasswordChangeFailure,
            &bob,
            Some(&bob),
            json!({"reason": "wrong_current_password"})
        ),
        "bob's password change was refused: the current password was wrong"
    );
    assert_eq!(
        said(
            EventKind::PasswordChangeFailure,
            &bob,
            Some(&bob),
            json!({"reason": "throttled"})
        ),
        "bob's password change was refused: too many wrong passwords from this address, so it was not checked"
    );
}

#[test]
fn a_rehash_says_whose_password() {
    assert_eq!(
        said(
            EventKind::PasswordRehash,
            &Party::named("The server"),
            Some(&user("bob")),
            json!({})
        ),
        "bob's password hash was upgraded to the current parameters"
    );
}

#[test]
fn a_deactivation_and_a_reactivation_say_whose_account() {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(
        said(EventKind::UserDisable, &alice, Some(&bob), json!({})),
        "alice deactivated bob's account"
    );
    assert_eq!(
        said(EventKind::UserEnable, &alice, Some(&bob), json!({})),
        "alice reactivated bob's account"
    );
}

#[test]
fn a_phone_change_says_the_new_number_and_why() {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(
        said(
            EventKind::PhoneChange,
            &alice,
            Some(&bob),
            json!({"to": "+1 •••• 0171", "reason": "called from her new phone"})
        ),
        "alice set bob's phone number to +1 •••• 0171: called from her new phone"
    );
    assert_eq!(
        said(
            EventKind::PhoneChange,
            &alice,
            Some(&bob),
            json!({"to": "none", "reason": "number given up"})
        ),
        "alice removed bob's phone number: number given up"
    );
}

#[test]
fn an_api_key_says_its_name_and_id() {
    let alice = user("alice");
    assert_eq!(
        said(
            EventKind::ApiKeyCreate,
            &Party::named("The command line"),
            None,
            json!({"apiKeyId": "ak_1", "name": "shop"})
        ),
        "The command line created the API key “shop” (ak_1)"
    );
    assert_eq!(
        said(
            EventKind::ApiKeyRevoke,
            &alice,
            None,
            json!({"apiKeyId": "ak_1"})
        ),
        "alice revoked the API key ak_1"
    );
}

#[test]
fn a_challenge_says_who_is_asked() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::TwoFactorChallenge,
            &bob,
            Some(&bob),
            json!({"loginType": "web"})
        ),
        "bob was asked for a second factor"
    );
}

#[test]
fn a_failed_code_says_where_it_was_entered_and_whether_it_was_already_used() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::TwoFactorFailure,
            &bob,
            Some(&bob),
            json!({"context": "login"})
        ),
        "bob entered a wrong code at login"
    );
    assert_eq!(
        said(
            EventKind::TwoFactorFailure,
            &bob,
            Some(&bob),
            json!({"context": "reauthentication"})
        ),
        "bob entered a wrong code to confirm it was them"
    );
    assert_eq!(
        said(
            EventKind::TwoFactorFailure,
            &bob,
            Some(&bob),
            json!({"context": "login", "reason": "code_already_used"})
        ),
        "bob entered a code already used at login"
    );
}

#[test]
fn a_block_says_how_many_wrong_codes() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::TwoFactorBlocked,
            &bob,
            Some(&bob),
            json!({"recentFailures": 10})
        ),
        "bob's codes are refused unchecked for a while: 10 wrong codes recently"
    );
}

#[test]
fn a_new_method_says_which_and_for_whom() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::TwoFactorEnable,
            &bob,
            Some(&bob),
            json!({"method": "authenticator", "methodId": "M1"})
        ),
        "bob added an authenticator app"
    );
    assert_eq!(
        said(
            EventKind::TwoFactorEnable,
            &Party::named("API key ak_1"),
            Some(&bob),
            json!({"method": "sms"})
        ),
        "API key ak_1 added text message codes for bob"
    );
}

#[test]
fn a_removed_method_says_whose_and_how_many() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::TwoFactorDisable,
            &bob,
            Some(&bob),
            json!({"methodId": "M1"})
        ),
        "bob removed a two-factor method"
    );
    assert_eq!(
        said(
            EventKind::TwoFactorDisable,
            &bob,
            Some(&bob),
            json!({"all": true})
        ),
        "bob removed every two-factor method with a recovery code"
    );
}

#[test]
fn a_recovery_code_use_says_how_many_are_left() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::RecoveryCodeUse,
            &bob,
            Some(&bob),
            json!({"remaining": 9})
        ),
        "bob used a recovery code (9 left)"
    );
}

#[test]
fn new_recovery_codes_say_for_whom() {
    let (alice, bob) = (user("alice"), user("bob"));
    assert_eq!(
        said(
            EventKind::RecoveryCodesRegenerate,
            &bob,
            Some(&bob),
            json!({})
        ),
        "bob made new recovery codes"
    );
    assert_eq!(
        said(
            EventKind::RecoveryCodesRegenerate,
            &alice,
            Some(&bob),
            json!({})
        ),
        "alice made new recovery codes for bob"
    );
}

#[test]
fn a_trust_says_for_how_long() {
    let bob = user("bob");
    assert_eq!(
        said(EventKind::TrustGrant, &bob, Some(&bob), json!({"days": 30})),
        "bob trusted a computer for 30 days"
    );
}

#[test]
fn a_forgotten_trust_says_one_or_all() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::TrustRevoke,
            &bob,
            Some(&bob),
            json!({"trustId": "t1"})
        ),
        "bob forgot one of their trusted computers"
    );
    assert_eq!(
        said(
            EventKind::TrustRevoke,
            &bob,
            Some(&bob),
            json!({"revoked": 2})
        ),
        "bob forgot all of their trusted computers"
    );
}

#[test]
fn a_trust_token_that_came_back_says_whose() {
    assert_eq!(
        said(
            EventKind::TrustReuse,
            &Party::named("Someone"),
            Some(&user("bob")),
            json!({"trustId": "t1"})
        ),
        "A spent trusted-computer token of bob's came back: that trust is ended"
    );
}

#[test]
fn a_settings_change_says_which_settings() {
    let alice = user("alice");
    assert_eq!(
        said(
            EventKind::SettingsChange,
            &alice,
            None,
            json!({"key": "two_factor"})
        ),
        "alice changed the two-factor settings"
    );
    assert_eq!(
        said(
            EventKind::SettingsChange,
            &alice,
            None,
            json!({"key": "welcome", "termsVersion": 2})
        ),
        "alice changed the terms and welcome settings (terms version 2)"
    );
}

#[test]
fn a_test_message_says_through_which_sender_and_how_it_went() {
    let alice = user("alice");
    assert_eq!(
        said(
            EventKind::DeliveryTest,
            &alice,
            None,
            json!({"sender": "smtp", "to": "a•••@example.com", "outcome": "delivered"})
        ),
        "alice sent a test message through smtp to a•••@example.com: delivered"
    );
    assert_eq!(
        said(
            EventKind::DeliveryTest,
            &alice,
            None,
            json!({"sender": "webhook", "to": "+1 •••• 0171", "outcome": "failed",
                   "error": "the webhook 127.0.0.1:9 failed"})
        ),
        "alice sent a test message through webhook to +1 •••• 0171: it failed (the webhook 127.0.0.1:9 failed)"
    );
}

#[test]
fn a_sent_code_says_to_whom_and_how() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::CodeSent,
            &bob,
            Some(&bob),
            json!({"channel": "sms", "to": "+1 •••• 0171"})
        ),
        "bob was sent a code by text message to +1 •••• 0171"
    );
    assert_eq!(
        said(
            EventKind::CodeSent,
            &Party::named("Someone"),
            None,
            json!({"channel": "call", "to": "+1 •••• 0171"})
        ),
        "A code was sent by phone call to +1 •••• 0171"
    );
}

#[test]
fn a_refused_code_says_why() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::CodeRefused,
            &bob,
            Some(&bob),
            json!({"channel": "sms", "to": "+1 •••• 0171", "reason": "send limit for the user"})
        ),
        "A code for bob by text message to +1 •••• 0171 was refused: send limit for the user"
    );
}

#[test]
fn accepted_terms_say_which_version() {
    let bob = user("bob");
    assert_eq!(
        said(
            EventKind::TermsAccepted,
            &bob,
            Some(&bob),
            json!({"termsVersion": 3})
        ),
        "bob accepted the terms of use (version 3)"
    );
}

#[test]
fn a_reset_says_who_reset_whose_two_factor_and_why() {
    assert_eq!(
        said(
            EventKind::TwoFactorReset,
            &user("Alice"),
            Some(&user("Bob")),
            json!({"reason": "lost phone"})
        ),
        "Alice reset Bob's two-factor: lost phone"
    );
}

#[test]
fn an_unlock_says_whom() {
    assert_eq!(
        said(
            EventKind::UserUnlock,
            &user("alice"),
            Some(&user("bob")),
            json!({"clearedFailures": 10})
        ),
        "alice unlocked bob: their recent wrong codes are forgotten"
    );
}

#[test]
fn an_import_says_how_many_users() {
    assert_eq!(
        said(
            EventKind::UserImport,
            &Party::named("The command line"),
            None,
            json!({"rows": 3, "created": 2, "unchanged": 1})
        ),
        "The command line imported 2 users (1 already there, unchanged)"
    );
}

#[test]
fn a_verify_account_or_key_says_which() {
    let alice = user("alice");
    assert_eq!(
        said(
            EventKind::VerifyAccountCreate,
            &alice,
            None,
            json!({"accountSid": "AC1", "name": "shop"})
        ),
        "alice created the Verify API account “shop” (AC1)"
    );
    assert_eq!(
        said(
            EventKind::VerifyAccountCreate,
            &alice,
            None,
            json!({"accountSid": "AC1", "apiKeySid": "SK1"})
        ),
        "alice created the Verify API key SK1 of the account AC1"
    );
}

#[test]
fn a_name_collision_says_what_was_found() {
    assert_eq!(
        said(
            EventKind::NameCollision,
            &Party::named("The server"),
            None,
            json!({"collisions": [], "refused": []})
        ),
        "The server found usernames or emails that look alike once written in their canonical forms"
    );
}

#[test]
fn an_access_code_says_who_issued_it_and_why_who_used_it_and_who_revoked_it() {
    let (alice, bob) = (user("alice"), user("bob"));
    let issued = |details| said(EventKind::AccessCodeIssue, &alice, Some(&bob), details);
    assert_eq!(
        issued(json!({"reason": "lost phone, ID checked"})),
        "alice issued a one-time access code for bob: lost phone, ID checked"
    );
    assert_eq!(
        issued(json!({"reason": "lost phone", "replaced": true})),
        "alice issued a one-time access code for bob, replacing an unused one: lost phone"
    );
    let used = |details| said(EventKind::AccessCodeUse, &bob, Some(&bob), details);
    assert_eq!(
        used(json!({"then": "login"})),
        "bob used a one-time access code from an administrator"
    );
    assert_eq!(
        used(json!({"then": "enrol"})),
        "bob used a one-time access code from an administrator, to set up a new second factor"
    );
    assert_eq!(
        said(EventKind::AccessCodeRevoke, &alice, Some(&bob), json!({})),
        "alice revoked bob's one-time access code"
    );
    assert_eq!(
        said(
            EventKind::LoginSuccess,
            &bob,
            Some(&bob),
            json!({"amr": ["pwd", "access_code", "otp", "mfa"], "loginType": "web"})
        ),
        "bob logged in with a password, a one-time access code from an administrator and an \
         authenticator app"
    );
}
