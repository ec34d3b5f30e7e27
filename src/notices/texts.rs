//! The words of the notices, as pure functions of what they tell: built in for English,
//! French, German and Spanish (the languages of the built-in code messages), or the operator's
//! own templates (`settings.rs`), by the locale of the delivery settings.

use std::collections::BTreeMap;

use super::NoticeKind;
use super::rules::Happened;
use crate::domain::User;
use crate::store::LoggedEvent;

/// How long the "this was not me" link works, in days, as the texts say it.
pub const LINK_DAYS: i64 = 7;

/// Everything a notice names.
pub struct Told<'a> {
    pub happened: &'a Happened,
    pub product: &'a str,
    pub username: &'a str,
    /// When it happened, as people read it (`2026-12-06 23:40:12 UTC`).
    pub when: String,
    /// The address it came from, when known.
    pub from: Option<&'a str>,
    /// The user agent it came from, when known.
    pub browser: Option<&'a str>,
    /// The "this was not me" link.
    pub link: &'a str,
    /// The security settings page.
    pub security: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Language {
    En,
    Fr,
    De,
    Es,
}

impl Language {
    fn of(locale: &str) -> (Self, String) {
        let code = locale
            .split(['-', '_'])
            .next()
            .unwrap_or("en")
            .to_ascii_lowercase();
        let language = match code.as_str() {
            "fr" => Language::Fr,
            "de" => Language::De,
            "es" => Language::Es,
            _ => Language::En,
        };
        (language, code)
    }
}

impl Told<'_> {
    pub fn subject(&self, locale: &str, templates: &BTreeMap<String, String>) -> String {
        self.own("subject", locale, templates)
            .unwrap_or_else(|| subject(self.happened.kind, Language::of(locale).0, self.product))
    }

    pub fn body(&self, locale: &str, templates: &BTreeMap<String, String>) -> String {
        self.own("body", locale, templates)
            .unwrap_or_else(|| self.built_in_body(Language::of(locale).0))
    }

    pub fn sms(&self, locale: &str, templates: &BTreeMap<String, String>) -> String {
        self.own("sms", locale, templates).unwrap_or_else(|| {
            let language = Language::of(locale).0;
            let not_you = match language {
                Language::En => "Not you?",
                Language::Fr => "Pas vous ?",
                Language::De => "Nicht Sie?",
                Language::Es => "¿No fue usted?",
            };
            format!(
                "{} ({}). {not_you} {}",
                subject(self.happened.kind, language, self.product),
                self.username,
                self.link
            )
        })
    }

    /// What happened, in one or two sentences (the page a link opens says it in English, as
    /// every page does).
    pub fn what(&self) -> String {
        what(self, Language::En)
    }

    /// The operator's template for `part`, in the locale's language or for any language.
    fn own(
        &self,
        part: &str,
        locale: &str,
        templates: &BTreeMap<String, String>,
    ) -> Option<String> {
        let (language, code) = Language::of(locale);
        let kind = self.happened.kind.as_str();
        let template = templates
            .get(&format!("{kind}.{part}.{code}"))
            .or_else(|| templates.get(&format!("{kind}.{part}")))?;
        let unknown = match language {
            Language::En => "unknown",
            Language::Fr => "inconnu",
            Language::De => "unbekannt",
            Language::Es => "desconocido",
        };
        let method = method_name(self.happened.method.as_deref(), language).unwrap_or_default();
        Some(
            template
                .replace("{product}", self.product)
                .replace("{username}", self.username)
                .replace("{when}", &self.when)
                .replace("{from}", self.from.unwrap_or(unknown))
                .replace("{browser}", self.browser.unwrap_or(unknown))
                .replace("{method}", method)
                .replace("{security}", self.security)
                .replace("{link}", self.link),
        )
    }

    fn built_in_body(&self, language: Language) -> String {
        let (when, from, fine, not_you, what_it_does) = match language {
            Language::En => (
                "When:",
                "From:",
                "If this was you, there is nothing to do.",
                format!("If it was not you, open this link within {LINK_DAYS} days:"),
                format!(
                    "The page it opens ends every session of your account, makes every computer \
                     ask for the second factor again, and emails you a link to choose a new \
                     password. Then log in and check your second factors at {}.",
                    self.security
                ),
            ),
            Language::Fr => (
                "Quand :",
                "D'où :",
                "Si c'était vous, il n'y a rien à faire.",
                format!("Si ce n'était pas vous, ouvrez ce lien dans les {LINK_DAYS} jours :"),
                format!(
                    "La page qui s'ouvre met fin à toutes les sessions de votre compte, fait \
                     redemander le second facteur sur chaque ordinateur et vous envoie par e-mail \
                     un lien pour choisir un nouveau mot de passe. Connectez-vous ensuite et \
                     vérifiez vos seconds facteurs sur {}.",
                    self.security
                ),
            ),
            Language::De => (
                "Wann:",
                "Von wo:",
                "Wenn Sie das waren, ist nichts zu tun.",
                format!("Wenn nicht, öffnen Sie innerhalb von {LINK_DAYS} Tagen diesen Link:"),
                format!(
                    "Die Seite beendet alle Sitzungen Ihres Kontos, lässt jeden Computer erneut \
                     nach dem zweiten Faktor fragen und sendet Ihnen per E-Mail einen Link, mit \
                     dem Sie ein neues Passwort wählen. Melden Sie sich danach an und prüfen Sie \
                     Ihre zweiten Faktoren unter {}.",
                    self.security
                ),
            ),
            Language::Es => (
                "Cuándo:",
                "Desde:",
                "Si fue usted, no tiene que hacer nada.",
                format!("Si no fue usted, abra este enlace en los próximos {LINK_DAYS} días:"),
                format!(
                    "La página que se abre cierra todas las sesiones de su cuenta, hace que cada \
                     ordenador vuelva a pedir el segundo factor y le envía por correo un enlace \
                     para elegir una contraseña nueva. Después, inicie sesión y revise sus \
                     segundos factores en {}.",
                    self.security
                ),
            ),
        };
        let mut where_from: Vec<&str> = Vec::new();
        where_from.extend(self.from);
        where_from.extend(self.browser);
        let from_line = if where_from.is_empty() {
            String::new()
        } else {
            format!("{from} {}\n", where_from.join(", "))
        };
        format!(
            "{what}\n\n{when} {at}\n{from_line}\n{fine}\n\n{not_you}\n\n{link}\n\n{what_it_does}\n",
            what = what(self, language),
            at = self.when,
            link = self.link,
        )
    }
}

/// What a notice names, from its event.
pub(super) fn told<'a>(
    event: &'a LoggedEvent,
    happened: &'a Happened,
    user: &'a User,
    product: &'a str,
    link: &'a str,
    security: &'a str,
) -> Told<'a> {
    Told {
        happened,
        product,
        username: user.username.as_str(),
        when: event.at.utc_text(),
        from: event.origin.ip.as_deref(),
        browser: event.origin.user_agent.as_deref(),
        link,
        security,
    }
}

/// The built-in subject, body and text of `kind` in `locale`'s language, with the placeholders
/// in place of what they stand for (the console shows them as the texts to start from).
pub fn built_in(kind: NoticeKind, locale: &str) -> [String; 3] {
    let happened = Happened {
        kind,
        user: crate::domain::UserId::new(),
        by_someone_else: false,
        method: None,
    };
    let told = Told {
        happened: &happened,
        product: "{product}",
        username: "{username}",
        when: "{when}".into(),
        from: Some("{from}"),
        browser: Some("{browser}"),
        link: "{link}",
        security: "{security}",
    };
    let none = BTreeMap::new();
    [
        told.subject(locale, &none),
        told.body(locale, &none),
        told.sms(locale, &none),
    ]
}

fn subject(kind: NoticeKind, language: Language, product: &str) -> String {
    use Language::*;
    use NoticeKind::*;
    match (language, kind) {
        (En, NewComputer) => format!("New login to your {product} account"),
        (En, PasswordChanged) => format!("Your {product} password was changed"),
        (En, MethodAdded) => format!("A second factor was added to your {product} account"),
        (En, MethodRemoved) => format!("A second factor was removed from your {product} account"),
        (En, RecoveryCodeUsed) => format!("A recovery code was used on your {product} account"),
        (En, RecoveryCodesRenewed) => format!("New recovery codes for your {product} account"),
        (En, TwoFactorReset) => format!("Your {product} second factors were reset"),
        (En, AccessCodeUsed) => format!("An access code was used on your {product} account"),
        (Fr, NewComputer) => format!("Nouvelle connexion à votre compte {product}"),
        (Fr, PasswordChanged) => format!("Le mot de passe de votre compte {product} a changé"),
        (Fr, MethodAdded) => format!("Un second facteur a été ajouté à votre compte {product}"),
        (Fr, MethodRemoved) => format!("Un second facteur a été retiré de votre compte {product}"),
        (Fr, RecoveryCodeUsed) => {
            format!("Un code de secours a servi sur votre compte {product}")
        }
        (Fr, RecoveryCodesRenewed) => {
            format!("Nouveaux codes de secours pour votre compte {product}")
        }
        (Fr, TwoFactorReset) => {
            format!("Les seconds facteurs de votre compte {product} ont été réinitialisés")
        }
        (Fr, AccessCodeUsed) => format!("Un code d'accès a servi sur votre compte {product}"),
        (De, NewComputer) => format!("Neue Anmeldung bei Ihrem {product}-Konto"),
        (De, PasswordChanged) => format!("Ihr {product}-Passwort wurde geändert"),
        (De, MethodAdded) => format!("Ihrem {product}-Konto wurde ein zweiter Faktor hinzugefügt"),
        (De, MethodRemoved) => {
            format!("Ein zweiter Faktor wurde von Ihrem {product}-Konto entfernt")
        }
        (De, RecoveryCodeUsed) => {
            format!("Ein Wiederherstellungscode wurde für Ihr {product}-Konto verwendet")
        }
        (De, RecoveryCodesRenewed) => {
            format!("Neue Wiederherstellungscodes für Ihr {product}-Konto")
        }
        (De, TwoFactorReset) => {
            format!("Die zweiten Faktoren Ihres {product}-Kontos wurden zurückgesetzt")
        }
        (De, AccessCodeUsed) => format!("Ein Zugangscode wurde für Ihr {product}-Konto verwendet"),
        (Es, NewComputer) => format!("Nuevo inicio de sesión en su cuenta de {product}"),
        (Es, PasswordChanged) => format!("Se cambió la contraseña de su cuenta de {product}"),
        (Es, MethodAdded) => format!("Se añadió un segundo factor a su cuenta de {product}"),
        (Es, MethodRemoved) => format!("Se quitó un segundo factor de su cuenta de {product}"),
        (Es, RecoveryCodeUsed) => {
            format!("Se usó un código de recuperación en su cuenta de {product}")
        }
        (Es, RecoveryCodesRenewed) => {
            format!("Nuevos códigos de recuperación para su cuenta de {product}")
        }
        (Es, TwoFactorReset) => {
            format!("Se restablecieron los segundos factores de su cuenta de {product}")
        }
        (Es, AccessCodeUsed) => format!("Se usó un código de acceso en su cuenta de {product}"),
    }
}

/// What happened, for the body: the kind's sentence, the method when known, and who made a
/// change the person did not.
fn what(told: &Told<'_>, language: Language) -> String {
    use Language::*;
    use NoticeKind::*;
    let happened = told.happened;
    let (product, username) = (told.product, told.username);
    let method = method_name(happened.method.as_deref(), language)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let sentence = match (language, happened.kind) {
        (En, NewComputer) => format!(
            "Your {product} account {username} was just logged in to from a computer it had \
             not been used on before."
        ),
        (En, PasswordChanged) => {
            format!("The password of your {product} account {username} was changed.")
        }
        (En, MethodAdded) => {
            format!("A second factor was added to your {product} account {username}{method}.")
        }
        (En, MethodRemoved) => {
            format!("A second factor was removed from your {product} account {username}{method}.")
        }
        (En, RecoveryCodeUsed) => {
            format!("A recovery code was used to log in to your {product} account {username}.")
        }
        (En, RecoveryCodesRenewed) => format!(
            "New recovery codes were made for your {product} account {username}; the earlier \
             ones no longer work."
        ),
        (En, TwoFactorReset) => format!(
            "An administrator removed every second factor of your {product} account \
             {username}; the next login asks to set one up."
        ),
        (En, AccessCodeUsed) => format!(
            "A one-time access code from an administrator was used to log in to your {product} \
             account {username}."
        ),
        (Fr, NewComputer) => format!(
            "Votre compte {product} {username} vient d'être utilisé depuis un ordinateur où il \
             ne l'avait jamais été."
        ),
        (Fr, PasswordChanged) => {
            format!("Le mot de passe de votre compte {product} {username} a été changé.")
        }
        (Fr, MethodAdded) => {
            format!("Un second facteur a été ajouté à votre compte {product} {username}{method}.")
        }
        (Fr, MethodRemoved) => {
            format!("Un second facteur a été retiré de votre compte {product} {username}{method}.")
        }
        (Fr, RecoveryCodeUsed) => format!(
            "Un code de secours a servi à se connecter à votre compte {product} {username}."
        ),
        (Fr, RecoveryCodesRenewed) => format!(
            "De nouveaux codes de secours ont été créés pour votre compte {product} {username} ; \
             les précédents ne fonctionnent plus."
        ),
        (Fr, TwoFactorReset) => format!(
            "Un administrateur a retiré tous les seconds facteurs de votre compte {product} \
             {username} ; la prochaine connexion demandera d'en configurer un."
        ),
        (Fr, AccessCodeUsed) => format!(
            "Un code d'accès unique donné par un administrateur a servi à se connecter à votre \
             compte {product} {username}."
        ),
        (De, NewComputer) => format!(
            "Ihr {product}-Konto {username} wurde gerade auf einem Computer angemeldet, auf dem \
             es noch nie verwendet wurde."
        ),
        (De, PasswordChanged) => {
            format!("Das Passwort Ihres {product}-Kontos {username} wurde geändert.")
        }
        (De, MethodAdded) => format!(
            "Ihrem {product}-Konto {username} wurde ein zweiter Faktor hinzugefügt{method}."
        ),
        (De, MethodRemoved) => format!(
            "Von Ihrem {product}-Konto {username} wurde ein zweiter Faktor entfernt{method}."
        ),
        (De, RecoveryCodeUsed) => format!(
            "Mit einem Wiederherstellungscode wurde Ihr {product}-Konto {username} angemeldet."
        ),
        (De, RecoveryCodesRenewed) => format!(
            "Für Ihr {product}-Konto {username} wurden neue Wiederherstellungscodes erstellt; \
             die bisherigen gelten nicht mehr."
        ),
        (De, TwoFactorReset) => format!(
            "Ein Administrator hat alle zweiten Faktoren Ihres {product}-Kontos {username} \
             entfernt; bei der nächsten Anmeldung richten Sie einen neuen ein."
        ),
        (De, AccessCodeUsed) => format!(
            "Mit einem einmaligen Zugangscode eines Administrators wurde Ihr {product}-Konto \
             {username} angemeldet."
        ),
        (Es, NewComputer) => format!(
            "Se acaba de iniciar sesión en su cuenta de {product} {username} desde un ordenador \
             en el que nunca se había usado."
        ),
        (Es, PasswordChanged) => {
            format!("Se cambió la contraseña de su cuenta de {product} {username}.")
        }
        (Es, MethodAdded) => {
            format!("Se añadió un segundo factor a su cuenta de {product} {username}{method}.")
        }
        (Es, MethodRemoved) => {
            format!("Se quitó un segundo factor de su cuenta de {product} {username}{method}.")
        }
        (Es, RecoveryCodeUsed) => format!(
            "Se usó un código de recuperación para iniciar sesión en su cuenta de {product} \
             {username}."
        ),
        (Es, RecoveryCodesRenewed) => format!(
            "Se crearon nuevos códigos de recuperación para su cuenta de {product} {username}; \
             los anteriores ya no funcionan."
        ),
        (Es, TwoFactorReset) => format!(
            "Un administrador quitó todos los segundos factores de su cuenta de {product} \
             {username}; el próximo inicio de sesión pedirá configurar uno."
        ),
        (Es, AccessCodeUsed) => format!(
            "Se usó un código de acceso de un solo uso de un administrador para iniciar sesión \
             en su cuenta de {product} {username}."
        ),
    };
    // A reset and an access code are an administrator's by nature; their sentences say so.
    let says_who = !matches!(happened.kind, TwoFactorReset | AccessCodeUsed);
    if happened.by_someone_else && says_who {
        let by = match language {
            En => "An administrator made this change.",
            Fr => "Cette modification a été faite par un administrateur.",
            De => "Diese Änderung hat ein Administrator vorgenommen.",
            Es => "Este cambio lo hizo un administrador.",
        };
        format!("{sentence} {by}")
    } else {
        sentence
    }
}

/// A second factor's kind, as the texts name it.
fn method_name(method: Option<&str>, language: Language) -> Option<&'static str> {
    use Language::*;
    Some(match (method?, language) {
        ("authenticator", En) => "an authenticator app",
        ("authenticator", Fr) => "une application d'authentification",
        ("authenticator", De) => "eine Authenticator-App",
        ("authenticator", Es) => "una aplicación de autenticación",
        ("sms" | "phone", En) => "a phone",
        ("sms" | "phone", Fr) => "un téléphone",
        ("sms" | "phone", De) => "ein Telefon",
        ("sms" | "phone", Es) => "un teléfono",
        ("email", En) => "an email address",
        ("email", Fr) => "une adresse e-mail",
        ("email", De) => "eine E-Mail-Adresse",
        ("email", Es) => "una dirección de correo electrónico",
        ("security_key", En) => "a security key",
        ("security_key", Fr) => "une clé de sécurité",
        ("security_key", De) => "ein Sicherheitsschlüssel",
        ("security_key", Es) => "una llave de seguridad",
        ("passkey", En) => "a passkey",
        ("passkey", Fr) => "une clé d'accès",
        ("passkey", De) => "ein Passkey",
        ("passkey", Es) => "una llave de acceso",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserId;

    fn happened(kind: NoticeKind) -> Happened {
        Happened {
            kind,
            user: UserId::new(),
            by_someone_else: false,
            method: None,
        }
    }

    fn told(happened: &Happened) -> Told<'_> {
        Told {
            happened,
            product: "Tessera",
            username: "alice",
            when: "2026-12-06 23:40:12 UTC".into(),
            from: Some("192.0.2.7"),
            browser: Some("Firefox/140"),
            link: "https://login.example/not-me/abc",
            security: "https://login.example/security",
        }
    }

    #[test]
    fn the_email_says_what_when_from_where_and_how_to_say_it_was_not_you() {
        let new_computer = happened(NoticeKind::NewComputer);
        let none = BTreeMap::new();
        let told = told(&new_computer);
        assert_eq!(
            told.subject("en", &none),
            "New login to your Tessera account"
        );
        let body = told.body("en", &none);
        assert!(body.contains("account alice"), "{body}");
        assert!(body.contains("When: 2026-12-06 23:40:12 UTC"));
        assert!(body.contains("From: 192.0.2.7, Firefox/140"));
        assert!(body.contains("\nhttps://login.example/not-me/abc\n"));
        assert!(body.contains("within 7 days"));
        assert!(body.contains("https://login.example/security"));
    }

    #[test]
    fn every_kind_has_its_own_words_in_every_built_in_language() {
        let none = BTreeMap::new();
        for locale in ["en", "fr-FR", "de", "es"] {
            let mut subjects = std::collections::BTreeSet::new();
            for &kind in NoticeKind::ALL {
                let happened = happened(kind);
                let told = told(&happened);
                subjects.insert(told.subject(locale, &none));
                assert!(told.body(locale, &none).contains(told.link));
                assert!(told.sms(locale, &none).contains(told.link));
            }
            assert_eq!(subjects.len(), NoticeKind::ALL.len(), "{locale}");
        }
        let happened = happened(NoticeKind::PasswordChanged);
        assert!(told(&happened).body("fr", &none).contains("Quand :"));
        assert!(
            told(&happened).body("pt", &none).contains("When:"),
            "English otherwise"
        );
    }

    #[test]
    fn the_method_and_an_administrators_hand_are_said() {
        let mut added = happened(NoticeKind::MethodAdded);
        added.method = Some("authenticator".into());
        added.by_someone_else = true;
        let body = told(&added).body("en", &BTreeMap::new());
        assert!(
            body.contains("account alice: an authenticator app."),
            "{body}"
        );
        assert!(body.contains("An administrator made this change."));
        added.method = Some("security_key".into());
        let body = told(&added).body("en", &BTreeMap::new());
        assert!(body.contains("account alice: a security key."), "{body}");
    }

    #[test]
    fn an_operators_template_wins_for_its_language_then_for_any() {
        let templates: BTreeMap<String, String> = [
            (
                "newComputer.subject.fr".to_owned(),
                "{product} : connexion de {username}".to_owned(),
            ),
            (
                "newComputer.body".to_owned(),
                "{username} from {from} ({browser}) at {when}. Not you? {link}".to_owned(),
            ),
        ]
        .into();
        let happened = happened(NoticeKind::NewComputer);
        let told = told(&happened);
        assert_eq!(
            told.subject("fr", &templates),
            "Tessera : connexion de alice"
        );
        assert_eq!(
            told.subject("en", &templates),
            "New login to your Tessera account"
        );
        assert_eq!(
            told.body("de", &templates),
            "alice from 192.0.2.7 (Firefox/140) at 2026-12-06 23:40:12 UTC. Not you? \
             https://login.example/not-me/abc"
        );
    }
}
