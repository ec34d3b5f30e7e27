//! The applications a person let in, as their security settings show them (what they allowed,
//! and the sign-ins that still hold tokens), and taking that back: the consent forgotten and
//! every grant revoked at once. A user's live grants as the console shows them, each revoked by
//! an administrator.

use std::collections::BTreeMap;

use super::grants::grant_live;
use super::{Oidc, OidcError};
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::domain::UserId;
use crate::store::{ConsentRecord, GrantRecord};

/// An application a person allowed or is signed in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub client_id: String,
    pub client_name: String,
    /// What the person allowed it; without a consent (the site's own application), what its
    /// sign-ins hold.
    pub scopes: Vec<String>,
    /// When the person allowed it, if they were asked.
    pub allowed_at: Option<Instant>,
    /// When it last received tokens for the person.
    pub last_used: Option<Instant>,
    /// Its sign-ins whose tokens still work.
    pub live_grants: usize,
}

/// A live grant, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantView {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    pub since: Instant,
    /// `offline_access`: it outlives the sign-in's session.
    pub offline: bool,
}

impl Oidc {
    /// The applications the person allowed or holds live grants with, by name.
    pub async fn applications_of(
        &self,
        user: UserId,
        now: Instant,
    ) -> Result<Vec<Application>, OidcError> {
        let consents = self.oidc_store.consents_of(user).await?;
        let grants = self.grants_of(user, now).await?;
        let last_used = self.oidc_store.last_tokens_of(user).await?;
        let names = self.client_names().await?;
        Ok(applications(&consents, &grants, &last_used, &names))
    }

    /// The person takes back what they allowed a client: the consent is forgotten (the next
    /// sign-in asks again) and every grant of theirs with it is revoked (its tokens stop
    /// working), in one transaction with its event. Only access is taken away, so it asks for
    /// no re-authentication. `false`: there was nothing to take back.
    pub async fn revoke_application(
        &self,
        user: UserId,
        client_id: &str,
        origin: &Origin,
        now: Instant,
    ) -> Result<bool, OidcError> {
        let event = AuditEvent::new(
            EventKind::OidcApplicationRevoke,
            Actor::User(user),
            origin,
            now,
        )
        .target(user)
        .detail("clientId", client_id.to_owned());
        let withdrawn = self
            .oidc_store
            .withdraw_application(user, client_id, event)
            .await?;
        Ok(withdrawn.consent || withdrawn.grants > 0)
    }

    /// The user's grants whose tokens still work, newest first.
    pub async fn grants_of(&self, user: UserId, now: Instant) -> Result<Vec<GrantView>, OidcError> {
        let names = self.client_names().await?;
        let mut live = Vec::new();
        for grant in self.oidc_store.live_grants_of(user, now).await? {
            let session = if grant.offline {
                None
            } else {
                self.session_store.session(&grant.session_id).await?
            };
            if grant_live(&grant, session.as_ref(), now) {
                live.push(grant_view(&grant, &names));
            }
        }
        Ok(live)
    }

    /// An administrator revokes one grant of the user's: its tokens stop working.
    pub async fn revoke_user_grant(
        &self,
        user: UserId,
        grant_id: &str,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<(), OidcError> {
        let grant = self
            .oidc_store
            .grant(grant_id)
            .await?
            .filter(|g| g.user == user)
            .ok_or(OidcError::UnknownGrant)?;
        let event = AuditEvent::new(EventKind::OidcGrantRevoke, actor, origin, now)
            .target(user)
            .detail("clientId", grant.client_id.clone())
            .detail("grantId", grant.id.clone())
            .detail("by", "administrator");
        // Revoked already: the administrator's wish holds all the same.
        self.oidc_store.revoke_grant(&grant.id, &event).await?;
        Ok(())
    }

    async fn client_names(&self) -> Result<BTreeMap<String, String>, OidcError> {
        Ok(self
            .oidc_store
            .clients()
            .await?
            .into_iter()
            .map(|c| (c.client_id, c.name))
            .collect())
    }
}

fn scopes_of(scope: &str) -> Vec<String> {
    scope.split_ascii_whitespace().map(str::to_owned).collect()
}

fn grant_view(grant: &GrantRecord, names: &BTreeMap<String, String>) -> GrantView {
    GrantView {
        id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        client_name: names
            .get(&grant.client_id)
            .cloned()
            .unwrap_or_else(|| grant.client_id.clone()),
        scopes: scopes_of(&grant.scope),
        since: grant.created_at,
        offline: grant.offline,
    }
}

/// One application per client the person allowed or holds a live grant with, by name. A
/// client removed meanwhile is left out: its rows go with it.
fn applications(
    consents: &[ConsentRecord],
    grants: &[GrantView],
    last_used: &[(String, Instant)],
    names: &BTreeMap<String, String>,
) -> Vec<Application> {
    let mut by_client: BTreeMap<String, Application> = BTreeMap::new();
    let clients = consents
        .iter()
        .map(|c| &c.client_id)
        .chain(grants.iter().map(|g| &g.client_id));
    for client_id in clients {
        let Some(name) = names.get(client_id) else {
            continue;
        };
        by_client
            .entry(client_id.clone())
            .or_insert_with(|| Application {
                client_id: client_id.clone(),
                client_name: name.clone(),
                scopes: Vec::new(),
                allowed_at: None,
                last_used: last_used
                    .iter()
                    .find(|(client, _)| client == client_id)
                    .map(|(_, at)| *at),
                live_grants: 0,
            });
    }
    for consent in consents {
        if let Some(app) = by_client.get_mut(&consent.client_id) {
            app.scopes = scopes_of(&consent.scope);
            app.allowed_at = Some(consent.granted_at);
        }
    }
    for grant in grants {
        let Some(app) = by_client.get_mut(&grant.client_id) else {
            continue;
        };
        app.live_grants += 1;
        if app.allowed_at.is_none() {
            for scope in &grant.scopes {
                if !app.scopes.contains(scope) {
                    app.scopes.push(scope.clone());
                }
            }
        }
    }
    let mut found: Vec<Application> = by_client.into_values().collect();
    found.sort_by(|a, b| {
        (a.client_name.to_lowercase(), &a.client_id)
            .cmp(&(b.client_name.to_lowercase(), &b.client_id))
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> BTreeMap<String, String> {
        [("wiki", "Team wiki"), ("grafana", "Grafana")]
            .into_iter()
            .map(|(id, name)| (id.to_owned(), name.to_owned()))
            .collect()
    }

    fn grant(client: &str, scope: &str) -> GrantView {
        GrantView {
            id: format!("gr_{client}"),
            client_id: client.into(),
            client_name: String::new(),
            scopes: scopes_of(scope),
            since: Instant::from_millis(5),
            offline: false,
        }
    }

    #[test]
    fn an_application_is_one_line_whether_allowed_signed_in_or_both() {
        let consents = [ConsentRecord {
            client_id: "wiki".into(),
            scope: "openid email".into(),
            granted_at: Instant::from_millis(1),
        }];
        let grants = [
            grant("wiki", "openid"),
            grant("wiki", "openid email"),
            grant("grafana", "openid profile"),
        ];
        let used = [("wiki".to_owned(), Instant::from_millis(9))];
        let found = applications(&consents, &grants, &used, &names());
        assert_eq!(found.len(), 2);
        let (grafana, wiki) = (&found[0], &found[1]);
        assert_eq!(grafana.client_name, "Grafana", "by name");
        assert_eq!(grafana.scopes, ["openid", "profile"], "its grants' scopes");
        assert_eq!(grafana.allowed_at, None, "the site's own: never asked");
        assert_eq!(wiki.scopes, ["openid", "email"], "what the person allowed");
        assert_eq!(wiki.allowed_at, Some(Instant::from_millis(1)));
        assert_eq!(wiki.last_used, Some(Instant::from_millis(9)));
        assert_eq!(wiki.live_grants, 2);
    }

    #[test]
    fn a_consent_without_sign_ins_is_still_listed_and_a_removed_client_is_not() {
        let consents = [
            ConsentRecord {
                client_id: "grafana".into(),
                scope: "openid".into(),
                granted_at: Instant::from_millis(1),
            },
            ConsentRecord {
                client_id: "gone".into(),
                scope: "openid".into(),
                granted_at: Instant::from_millis(1),
            },
        ];
        let found = applications(&consents, &[], &[], &names());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].client_id, "grafana");
        assert_eq!(found[0].live_grants, 0);
    }
}
