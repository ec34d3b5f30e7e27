//! The welcome step: profile fields an administrator wants filled and versioned terms to
//! accept, before the first use (and again when the terms change).

use serde::{Deserialize, Serialize};

use crate::accounts::{Field, FieldError, NewEmail, UserFields};
use crate::addresses::Addresses;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::{Invalid, User};
use crate::store::{SettingStore, Store, UserStore};
use crate::two_factor::TwoFactorError;

const SETTINGS_KEY: &str = "welcome";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProfileField {
    FullName,
    Email,
    MobilePhone,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WelcomeSettings {
    /// The current terms; 0 means there are none to accept.
    pub terms_version: i64,
    pub terms_text: String,
    /// Fields every user must have filled in.
    pub profile_fields: Vec<ProfileField>,
}

/// What a user still owes the welcome step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WelcomeDue {
    pub terms: Option<(i64, String)>,
    pub missing: Vec<ProfileField>,
}

impl WelcomeSettings {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.terms_version < 0 {
            errors.push(FieldError::new(
                "termsVersion",
                Invalid::new("[invalid]", "the terms version is 0 or more"),
            ));
        }
        if self.terms_version > 0 && self.terms_text.trim().is_empty() {
            errors.push(FieldError::new(
                "termsText",
                Invalid::new("[blank]", "terms with a version need a text"),
            ));
        }
        if self.terms_text.chars().count() > 20_000 {
            errors.push(FieldError::new(
                "termsText",
                Invalid::new("[tooLong]", "at most 20000 characters"),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// What `user` must still do; `None` when nothing.
    pub fn due(&self, user: &User) -> Option<WelcomeDue> {
        let terms = (self.terms_version > 0
            && user.terms_version_accepted.unwrap_or(0) < self.terms_version)
            .then(|| (self.terms_version, self.terms_text.clone()));
        let missing: Vec<ProfileField> = self
            .profile_fields
            .iter()
            .copied()
            .filter(|field| match field {
                ProfileField::FullName => user.full_name.is_none(),
                ProfileField::Email => user.email.is_none(),
                ProfileField::MobilePhone => user.mobile_phone.is_none(),
            })
            .collect();
        (terms.is_some() || !missing.is_empty()).then_some(WelcomeDue { terms, missing })
    }
}

/// What the welcome page says of a field it asks for that was left empty.
fn missing_field(field: ProfileField) -> &'static str {
    match field {
        ProfileField::FullName => "Enter your full name.",
        ProfileField::Email => "Enter your email address.",
        ProfileField::MobilePhone => "Enter your mobile phone number, with its country code.",
    }
}

/// A refusal written as a clause for the API ("another user already has this email") as the
/// sentence a page shows: a capital first letter and a full stop.
fn as_sentence(clause: &str) -> String {
    let clause = clause.trim();
    let mut chars = clause.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut sentence: String = first.to_uppercase().chain(chars).collect();
    if !sentence.ends_with(['.', '!', '?']) {
        sentence.push('.');
    }
    sentence
}

/// The answers of the welcome form.
#[derive(Debug, Clone, Default)]
pub struct WelcomeAnswers {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
    pub accepted_terms_version: Option<i64>,
}

/// The welcome step's service: its settings, and what a user fills in before the first use.
#[derive(Clone)]
pub struct Welcome {
    setting_store: SettingStore,
    user_store: UserStore,
    /// A profile's missing fields filled in; an address given here is sent its link.
    addresses: Addresses,
}

impl Welcome {
    pub fn new(store: Store, addresses: Addresses) -> Self {
        Self {
            setting_store: store.settings(),
            user_store: store.users(),
            addresses,
        }
    }
}

impl Welcome {
    pub async fn welcome_settings(&self) -> Result<WelcomeSettings, TwoFactorError> {
        Ok(match self.setting_store.setting(SETTINGS_KEY).await? {
            Some(json) => serde_json::from_str(&json).unwrap_or_default(),
            None => WelcomeSettings::default(),
        })
    }

    pub async fn set_welcome_settings(
        &self,
        settings: &WelcomeSettings,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        settings.check().map_err(TwoFactorError::Invalid)?;
        let json = serde_json::to_string(settings).map_err(anyhow::Error::from)?;
        let event = AuditEvent::new(EventKind::SettingsChange, actor, origin, now)
            .detail("key", SETTINGS_KEY)
            .detail("termsVersion", settings.terms_version);
        self.setting_store
            .put_setting(SETTINGS_KEY, &json, &event)
            .await?;
        Ok(())
    }

    pub async fn welcome_due(&self, user: &User) -> Result<Option<WelcomeDue>, TwoFactorError> {
        Ok(self.welcome_settings().await?.due(user))
    }

    /// Fills the missing fields and records the accepted terms; refuses until everything due
    /// is given.
    pub async fn complete_welcome(
        &self,
        user: &User,
        answers: &WelcomeAnswers,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), TwoFactorError> {
        let Some(due) = self.welcome_due(user).await? else {
            return Ok(());
        };
        let mut errors = Vec::new();
        if let Some((version, _)) = &due.terms
            && answers.accepted_terms_version != Some(*version)
        {
            errors.push(FieldError::new(
                "terms",
                Invalid::new("[blank]", "Accept the terms of use to go on."),
            ));
        }
        let value = |given: &Option<String>| {
            given
                .as_ref()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let mut fields = UserFields::default();
        for field in &due.missing {
            let (name, given) = match field {
                ProfileField::FullName => ("fullName", value(&answers.full_name)),
                ProfileField::Email => ("email", value(&answers.email)),
                ProfileField::MobilePhone => ("mobilePhone", value(&answers.mobile_phone)),
            };
            let Some(given) = given else {
                errors.push(FieldError::new(
                    name,
                    Invalid::new("[blank]", missing_field(*field)),
                ));
                continue;
            };
            match field {
                ProfileField::FullName => fields.full_name = Field::Value(given),
                ProfileField::Email => fields.email = Field::Value(given),
                ProfileField::MobilePhone => fields.mobile_phone = Field::Value(given),
            }
        }
        if !errors.is_empty() {
            return Err(TwoFactorError::Invalid(errors));
        }
        if !due.missing.is_empty() {
            // The person's own address: it awaits the link sent to it.
            self.addresses
                .update_user(
                    user.id,
                    &fields,
                    NewEmail::Unverified,
                    Actor::User(user.id),
                    origin,
                    now,
                )
                .await
                .map_err(|e| match e {
                    crate::accounts::AccountError::Invalid(fields) => TwoFactorError::Invalid(
                        fields
                            .into_iter()
                            .map(|mut f| {
                                f.field = f.field.trim_start_matches("user.").to_owned();
                                f.message = as_sentence(&f.message);
                                f
                            })
                            .collect(),
                    ),
                    other => TwoFactorError::Internal(anyhow::anyhow!("{other}")),
                })?;
        }
        if let Some((version, _)) = due.terms {
            let event =
                AuditEvent::new(EventKind::TermsAccepted, Actor::User(user.id), origin, now)
                    .target(user.id)
                    .detail("termsVersion", version);
            self.user_store
                .accept_terms(user.id, version, &event)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Roles, UserId, Username};

    fn user(accepted: Option<i64>) -> User {
        User {
            id: UserId::new(),
            username: Username::parse("ann").unwrap(),
            email: None,
            email_verified_at: None,
            pending_email: None,
            full_name: None,
            mobile_phone: None,
            roles: Roles::user(),
            active: true,
            two_factor_required: false,
            every_login: false,
            authy_migrated: false,
            password_change_required: false,
            terms_version_accepted: accepted,
            created_at: Instant::from_millis(0),
            updated_at: Instant::from_millis(0),
            password_changed_at: Instant::from_millis(0),
            last_login_at: None,
        }
    }

    #[test]
    fn nothing_is_due_by_default() {
        assert_eq!(WelcomeSettings::default().due(&user(None)), None);
    }

    #[test]
    fn a_new_terms_version_asks_again() {
        let settings = WelcomeSettings {
            terms_version: 2,
            terms_text: "Be nice.".into(),
            profile_fields: vec![],
        };
        assert!(settings.due(&user(None)).unwrap().terms.is_some());
        assert!(settings.due(&user(Some(1))).unwrap().terms.is_some());
        assert_eq!(settings.due(&user(Some(2))), None);
    }

    #[test]
    fn missing_profile_fields_are_due() {
        let settings = WelcomeSettings {
            profile_fields: vec![ProfileField::FullName, ProfileField::MobilePhone],
            ..WelcomeSettings::default()
        };
        let due = settings.due(&user(None)).unwrap();
        assert_eq!(
            due.missing,
            [ProfileField::FullName, ProfileField::MobilePhone]
        );
        assert_eq!(due.terms, None);
    }

    #[test]
    fn the_welcome_steps_own_refusals_are_full_sentences() {
        let full_sentence =
            |text: &str| text.starts_with(|c: char| c.is_uppercase()) && text.ends_with('.');
        for field in [
            ProfileField::FullName,
            ProfileField::Email,
            ProfileField::MobilePhone,
        ] {
            assert!(full_sentence(missing_field(field)), "{field:?}");
        }
    }

    #[test]
    fn a_refusal_of_the_api_reads_as_a_sentence_on_the_page() {
        assert_eq!(
            as_sentence("another user already has this email"),
            "Another user already has this email."
        );
        assert_eq!(
            as_sentence(
                "start the phone number with + and the country code, for example +1 303 555 1212"
            ),
            "Start the phone number with + and the country code, for example +1 303 555 1212."
        );
        assert_eq!(as_sentence("Already one."), "Already one.");
        assert_eq!(as_sentence("élan"), "Élan.");
        assert_eq!(as_sentence(""), "");
    }
}
