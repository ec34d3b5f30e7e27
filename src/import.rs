//! Moving users in and out: JSON or CSV with username, email (and whether it is verified), name,
//! phone, roles, an existing
//! password hash (Argon2, bcrypt, PBKDF2-SHA256), existing TOTP secrets (base32 or otpauth URIs)
//! the "moved from Authy" flag and the user's groups (by name, made when missing). An import is all or nothing: every row is checked first and
//! each bad one reported with its line; then one transaction stores them. Users already present
//! (by username or email) are left as they are, so a second run changes nothing.

use serde::{Deserialize, Serialize};

use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::cipher::SecretBox;
use crate::crypto::{PasswordHash, check_imported_hash};
use crate::domain::{
    Channel, Email, FullName, GroupName, MethodId, MethodKind, MethodName, PhoneNumber, Region,
    Roles, User, UserId, Username,
};
use crate::otp::{Algorithm, TotpParams, TotpSecret};
use crate::store::{
    GroupStore, ImportedUser, MethodRecord, NewMethod, NewUser, Store, UserChanges, UserStore,
};
use crate::two_factor::TwoFactor;

/// Stands for "no password": it is no hash, so no password matches until one is set.
pub const NO_PASSWORD: &str = "!no-password";
const MAX_ROWS: usize = 200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    pub fn of_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// One user as the file gives it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportRecord {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The address is known to be the user's (FusionAuth's `verified`): verified at once.
    /// Otherwise it awaits its link, which an import does not send (the administrator sends it
    /// from the user's page or the API).
    #[serde(default)]
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub totp_secrets: Vec<String>,
    #[serde(default)]
    pub authy_migrated: bool,
    #[serde(default)]
    pub two_factor_required: bool,
    #[serde(default = "active_by_default")]
    pub active: bool,
    /// The names of the user's groups; a group not there yet is made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

fn active_by_default() -> bool {
    true
}

/// A checked row, ready to store.
#[derive(Debug, Clone)]
pub struct ImportUser {
    pub profile: UserChanges,
    pub password_hash: PasswordHash,
    pub authenticators: Vec<(TotpSecret, TotpParams, Option<MethodName>)>,
    /// Moved from Authy: an SMS method on this (already verified) number.
    pub sms_phone: Option<PhoneNumber>,
    /// The file says the address is verified.
    pub email_verified: bool,
    pub groups: Vec<GroupName>,
}

/// A refused row: where it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub created: u64,
    /// Already there (by username or email): left unchanged.
    pub unchanged: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} rows are refused; nothing was imported", .0.len())]
    Rows(Vec<RowError>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Reads a file's rows, each with its line (CSV) or position (JSON, counting from 1).
pub fn read(format: Format, text: &str) -> Result<Vec<(u64, ImportRecord)>, Vec<RowError>> {
    match format {
        Format::Json => read_json(text),
        Format::Csv => read_csv(text),
    }
}

fn read_json(text: &str) -> Result<Vec<(u64, ImportRecord)>, Vec<RowError>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Document {
        Wrapped { users: Vec<serde_json::Value> },
        Bare(Vec<serde_json::Value>),
    }
    let document: Document = serde_json::from_str(text).map_err(|e| {
        vec![RowError {
            line: e.line() as u64,
            message: format!("not a JSON list of users (or {{\"users\": [...]}}): {e}"),
        }]
    })?;
    let values = match document {
        Document::Wrapped { users } | Document::Bare(users) => users,
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        let position = index as u64 + 1;
        match serde_json::from_value::<ImportRecord>(value) {
            Ok(record) => rows.push((position, record)),
            Err(e) => errors.push(RowError {
                line: position,
                message: e.to_string(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

const CSV_COLUMNS: [&str; 12] = [
    "username",
    "email",
    "full_name",
    "mobile_phone",
    "roles",
    "password_hash",
    "totp_secrets",
    "authy_migrated",
    "two_factor_required",
    "active",
    "verified",
    "groups",
];

fn read_csv(text: &str) -> Result<Vec<(u64, ImportRecord)>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            vec![RowError {
                line: 1,
                message: format!("no header row: {e}"),
            }]
        })?
        .clone();
    let mut errors: Vec<RowError> = headers
        .iter()
        .filter(|h| !CSV_COLUMNS.contains(h))
        .map(|h| RowError {
            line: 1,
            message: format!(
                "unknown column {h:?}; columns are {}",
                CSV_COLUMNS.join(", ")
            ),
        })
        .collect();
    if !headers.iter().any(|h| h == "username") {
        errors.push(RowError {
            line: 1,
            message: "the username column is required".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(RowError {
                    line,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let cell = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .map(|cell| crate::spreadsheet::from_cell(cell).to_owned())
                .filter(|v| !v.is_empty())
        };
        let flag = |name: &str, default: bool| -> Result<bool, String> {
            match cell(name).map(|v| v.to_ascii_lowercase()).as_deref() {
                None => Ok(default),
                Some("true" | "1" | "yes") => Ok(true),
                Some("false" | "0" | "no") => Ok(false),
                Some(other) => Err(format!("{name}: {other:?} is not true or false")),
            }
        };
        let flags = (
            flag("authy_migrated", false),
            flag("two_factor_required", false),
            flag("active", true),
            flag("verified", false),
        );
        match flags {
            (Ok(authy_migrated), Ok(two_factor_required), Ok(active), Ok(verified)) => rows.push((
                line,
                ImportRecord {
                    username: cell("username").unwrap_or_default(),
                    email: cell("email"),
                    verified,
                    full_name: cell("full_name"),
                    mobile_phone: cell("mobile_phone"),
                    roles: split(cell("roles")),
                    password_hash: cell("password_hash"),
                    totp_secrets: split(cell("totp_secrets")),
                    authy_migrated,
                    two_factor_required,
                    active,
                    groups: split(cell("groups")),
                },
            )),
            (a, b, c, d) => {
                for message in [a.err(), b.err(), c.err(), d.err()].into_iter().flatten() {
                    errors.push(RowError { line, message });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

fn split(cell: Option<String>) -> Vec<String> {
    cell.map(|v| {
        v.split(';')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Checks every row; all the errors at once, or every user ready to store.
/// `home`: where phone numbers written without a country code are read (`default_region`).
pub fn check(
    rows: &[(u64, ImportRecord)],
    home: Option<Region>,
) -> Result<Vec<ImportUser>, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut users = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if rows.len() > MAX_ROWS {
        return Err(vec![RowError {
            line: 0,
            message: format!("at most {MAX_ROWS} users per import"),
        }]);
    }
    for (line, record) in rows {
        let mut problems = Vec::new();
        let mut note = |field: &str, message: String| problems.push(format!("{field}: {message}"));
        let username = Username::parse(&record.username)
            .map_err(|e| note("username", e.message))
            .ok();
        if let Some(name) = &username
            && !seen.insert(name.key().to_owned())
        {
            note("username", "appears twice in the file".into());
        }
        let email = record
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|e| note("email", e.message))
            .ok()
            .flatten();
        let full_name = record
            .full_name
            .as_deref()
            .map(FullName::parse)
            .transpose()
            .map_err(|e| note("fullName", e.message))
            .ok()
            .flatten();
        let mobile_phone = record
            .mobile_phone
            .as_deref()
            .map(|raw| PhoneNumber::parse_in(raw, home))
            .transpose()
            .map_err(|e| note("mobilePhone", e.message))
            .ok()
            .flatten();
        let roles = Roles::parse_list(&record.roles)
            .map_err(|e| note("roles", e.message))
            .ok();
        let password_hash = match &record.password_hash {
            Some(hash) => match check_imported_hash(hash) {
                Ok(()) => Some(PasswordHash::from_stored(hash.clone())),
                Err(message) => {
                    note("passwordHash", message);
                    None
                }
            },
            None => Some(PasswordHash::from_stored(NO_PASSWORD.to_owned())),
        };
        let mut authenticators = Vec::new();
        for secret in &record.totp_secrets {
            match parse_secret(secret) {
                Ok(parsed) => authenticators.push(parsed),
                Err(message) => note("totpSecrets", message),
            }
        }
        let mut groups: Vec<GroupName> = Vec::new();
        for raw in &record.groups {
            match GroupName::parse(raw) {
                Ok(name) if groups.iter().any(|g| g.key() == name.key()) => {}
                Ok(name) => groups.push(name),
                Err(e) => note("groups", e.message),
            }
        }
        if record.authy_migrated && mobile_phone.is_none() {
            note(
                "authyMigrated",
                "a user moved from Authy needs the mobilePhone".into(),
            );
        }
        match (username, roles, password_hash, problems.is_empty()) {
            (Some(username), Some(roles), Some(password_hash), true) => users.push(ImportUser {
                sms_phone: record
                    .authy_migrated
                    .then(|| mobile_phone.clone())
                    .flatten(),
                email_verified: record.verified,
                groups,
                profile: UserChanges {
                    username,
                    email,
                    // Set as the import is stored (`import_users`), when the file says so.
                    email_verified_at: None,
                    pending_email: None,
                    full_name,
                    mobile_phone,
                    roles,
                    active: record.active,
                    two_factor_required: record.two_factor_required,
                    authy_migrated: record.authy_migrated,
                    password_change_required: false,
                },
                password_hash,
                authenticators,
            }),
            _ => errors.push(RowError {
                line: *line,
                message: problems.join("; "),
            }),
        }
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        Err(errors)
    }
}

/// A TOTP secret as base32, or an `otpauth://totp/…` URI with its parameters and label.
pub fn parse_secret(raw: &str) -> Result<(TotpSecret, TotpParams, Option<MethodName>), String> {
    let Some(rest) = raw.strip_prefix("otpauth://") else {
        let secret = TotpSecret::from_base32(raw).map_err(|e| e.message)?;
        return Ok((secret, TotpParams::default(), None));
    };
    let rest = rest
        .strip_prefix("totp/")
        .ok_or_else(|| "only otpauth://totp/ URIs can be imported".to_owned())?;
    let (label, query) = rest
        .split_once('?')
        .ok_or_else(|| "the otpauth URI has no parameters".to_owned())?;
    let mut secret = None;
    let (mut algorithm, mut digits, mut period) = (Algorithm::Sha1, 6, 30);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "secret" => secret = Some(TotpSecret::from_base32(&value).map_err(|e| e.message)?),
            "algorithm" => algorithm = Algorithm::parse(&value).map_err(|e| e.message)?,
            "digits" => {
                digits = value
                    .parse()
                    .map_err(|_| "digits is not a number".to_owned())?
            }
            "period" => {
                period = value
                    .parse()
                    .map_err(|_| "period is not a number".to_owned())?
            }
            _ => {}
        }
    }
    let secret = secret.ok_or_else(|| "the otpauth URI has no secret".to_owned())?;
    let params = TotpParams::new(algorithm, digits, period, 1).map_err(|e| e.message)?;
    let label = percent_encoding::percent_decode_str(label)
        .decode_utf8_lossy()
        .into_owned();
    let name = MethodName::parse(label.rsplit(':').next().unwrap_or(&label)).ok();
    Ok((secret, params, name))
}

/// Users in and out of Tessera, with their password hashes and authenticator secrets.
#[derive(Clone)]
pub struct Import {
    user_store: UserStore,
    /// The groups an export writes.
    group_store: GroupStore,
    secrets: SecretBox,
    two_factor: TwoFactor,
    home_region: Option<Region>,
}

impl Import {
    pub fn new(
        store: Store,
        secrets: SecretBox,
        two_factor: TwoFactor,
        home_region: Option<Region>,
    ) -> Self {
        Self {
            user_store: store.users(),
            group_store: store.groups(),
            secrets,
            two_factor,
            home_region,
        }
    }
}

impl Import {
    /// Imports users: all the rows or none.
    pub async fn import_users(
        &self,
        format: Format,
        text: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<ImportReport, ImportError> {
        let rows = read(format, text).map_err(ImportError::Rows)?;
        let users = check(&rows, self.home_region).map_err(ImportError::Rows)?;
        let prepared: Vec<ImportedUser> = users
            .into_iter()
            .map(|user| {
                let id = UserId::new();
                // One method per secret, as enrolment allows (a row naming one twice gets one).
                let mut fingerprints = std::collections::HashSet::new();
                let mut methods: Vec<NewMethod> =
                    user.authenticators
                        .iter()
                        .filter(|(secret, _, _)| {
                            fingerprints.insert(self.two_factor.authenticator_fingerprint(secret))
                        })
                        .map(|(secret, params, name)| {
                            let method_id = MethodId::generate();
                            NewMethod {
                                secret: Some(self.secrets.seal(
                                    secret.bytes(),
                                    &MethodRecord::seal_context(id, &method_id),
                                )),
                                id: method_id,
                                user_id: id,
                                kind: MethodKind::Authenticator,
                                name: name.clone(),
                                totp: Some(*params),
                                mobile_phone: None,
                                email: None,
                                last_used_step: None,
                                secret_fingerprint: Some(
                                    self.two_factor.authenticator_fingerprint(secret),
                                ),
                                sends_code_on_login: false,
                                channel: None,
                            }
                        })
                        .collect();
                if let Some(phone) = &user.sms_phone {
                    methods.push(NewMethod {
                        id: MethodId::generate(),
                        user_id: id,
                        kind: MethodKind::Phone,
                        name: None,
                        secret: None,
                        totp: None,
                        mobile_phone: Some(phone.clone()),
                        email: None,
                        last_used_step: None,
                        secret_fingerprint: None,
                        sends_code_on_login: false,
                        channel: Some(Channel::Sms),
                    });
                }
                let mut profile = user.profile;
                if user.email_verified && profile.email.is_some() {
                    profile.email_verified_at = Some(now);
                }
                ImportedUser {
                    user: NewUser {
                        id,
                        profile,
                        password_hash: user.password_hash,
                        email_verification_required: false,
                    },
                    methods,
                    groups: user.groups,
                }
            })
            .collect();
        let group_made = AuditEvent::new(EventKind::GroupCreate, actor.clone(), origin, now)
            .detail("imported", true);
        let event = AuditEvent::new(EventKind::UserImport, actor, origin, now)
            .detail("rows", prepared.len());
        let (created, unchanged) = self
            .user_store
            .import_users(&prepared, &event, &group_made)
            .await
            .map_err(anyhow::Error::from)?;
        tracing::info!(target: "security", created, unchanged, "users imported");
        Ok(ImportReport { created, unchanged })
    }

    /// Every user, without any secret, in the import's own shape.
    pub async fn export_users(&self, format: Format) -> anyhow::Result<String> {
        let mut groups: std::collections::HashMap<UserId, Vec<String>> = Default::default();
        for (user, group) in self.group_store.all_memberships().await? {
            groups.entry(user).or_default().push(group);
        }
        let mut records = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.user_store.users(1000, offset).await?;
            if page.is_empty() {
                break;
            }
            offset += page.len() as i64;
            records.extend(
                page.iter()
                    .map(|user| export_record(user, groups.remove(&user.id).unwrap_or_default())),
            );
        }
        match format {
            Format::Json => Ok(serde_json::to_string_pretty(
                &serde_json::json!({ "users": records }),
            )?),
            Format::Csv => {
                let flag = |on: bool| if on { "true" } else { "false" }.to_owned();
                let rows = records.iter().map(|r| {
                    [
                        r.username.clone(),
                        r.email.clone().unwrap_or_default(),
                        r.full_name.clone().unwrap_or_default(),
                        r.mobile_phone.clone().unwrap_or_default(),
                        r.roles.join(";"),
                        String::new(),
                        String::new(),
                        flag(r.authy_migrated),
                        flag(r.two_factor_required),
                        flag(r.active),
                        flag(r.verified),
                        r.groups.join(";"),
                    ]
                });
                Ok(crate::spreadsheet::write(&CSV_COLUMNS, rows)?)
            }
        }
    }
}

fn export_record(user: &User, groups: Vec<String>) -> ImportRecord {
    ImportRecord {
        username: user.username.to_string(),
        email: user.email.as_ref().map(|e| e.to_string()),
        verified: user.verified_email().is_some(),
        full_name: user.full_name.as_ref().map(|n| n.as_str().to_owned()),
        mobile_phone: user.mobile_phone.as_ref().map(|p| p.e164().to_owned()),
        roles: user
            .roles
            .names()
            .into_iter()
            .filter(|r| *r != "user")
            .map(str::to_owned)
            .collect(),
        password_hash: None,
        totp_secrets: Vec::new(),
        authy_migrated: user.authy_migrated,
        two_factor_required: user.two_factor_required,
        active: user.active,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_read_with_their_line_numbers_and_all_errors_reported() {
        let text = "username,email,mobile_phone,roles,authy_migrated\n\
                    ann,ann@example.com,+1 303 555 1212,admin,true\n\
                    bad user,not-an-email,12,root,maybe\n\
                    bo,,,,\n";
        let rows = read(Format::Csv, text);
        let errors = rows.unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
        assert!(errors[0].message.contains("authy_migrated"));

        let text = "username,email,mobile_phone,roles\nann,ann@example.com,+1 303 555 1212,admin\nbad user,not-an-email,12,root\n";
        let rows = read(Format::Csv, text).unwrap();
        let errors = check(&rows, None).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
        for field in ["username", "email", "mobilePhone", "roles"] {
            assert!(
                errors[0].message.contains(field),
                "{field}: {}",
                errors[0].message
            );
        }
    }

    #[test]
    fn unknown_columns_and_duplicate_users_are_refused() {
        let errors = read(Format::Csv, "username,colour\nann,red\n").unwrap_err();
        assert!(errors[0].message.contains("colour"));
        let rows = read(
            Format::Json,
            r#"[{"username": "ann"}, {"username": "ANN"}]"#,
        )
        .unwrap();
        let errors = check(&rows, None).unwrap_err();
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("twice"));
    }

    #[test]
    fn json_comes_bare_or_wrapped_and_unknown_fields_are_named() {
        assert_eq!(
            read(Format::Json, r#"{"users": [{"username": "a"}]}"#)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            read(Format::Json, r#"[{"username": "a"}, {"username": "b"}]"#)
                .unwrap()
                .len(),
            2
        );
        let errors = read(
            Format::Json,
            r#"[{"username": "a"}, {"username": "b", "isRoot": true}]"#,
        )
        .unwrap_err();
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("isRoot"));
        assert!(read(Format::Json, "{").is_err());
    }

    #[test]
    fn secrets_come_as_base32_or_otpauth_uris() {
        let (secret, params, name) = parse_secret(
            "otpauth://totp/Acme:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme&digits=8&algorithm=SHA256",
        )
        .unwrap();
        assert_eq!(secret.bytes(), b"12345678901234567890");
        assert_eq!((params.digits, params.algorithm), (8, Algorithm::Sha256));
        assert_eq!(name.unwrap().as_str(), "ann@example.com");
        assert!(parse_secret("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").is_ok());
        assert!(parse_secret("otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").is_err());
        assert!(parse_secret("otpauth://totp/x?issuer=y").is_err());
        assert!(parse_secret("not base32!").is_err());
    }

    #[test]
    fn an_authy_user_needs_a_phone_and_gets_an_sms_method() {
        let rows = read(
            Format::Json,
            r#"[{"username": "a", "authyMigrated": true}]"#,
        )
        .unwrap();
        assert!(
            check(&rows, None).unwrap_err()[0]
                .message
                .contains("mobilePhone")
        );
        let rows = read(
            Format::Json,
            r#"[{"username": "a", "authyMigrated": true, "mobilePhone": "+1 303 555 1212"}]"#,
        )
        .unwrap();
        let users = check(&rows, None).unwrap();
        assert_eq!(users[0].sms_phone.as_ref().unwrap().e164(), "+13035551212");
        assert_eq!(users[0].password_hash.as_str(), NO_PASSWORD);
    }
}
