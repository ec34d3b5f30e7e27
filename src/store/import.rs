use super::UserStore;
use super::groups::join_by_name_in;
use super::two_factor::insert_method_in;
use super::users::insert_user_in;
use super::{StoreError, audit};
use crate::audit::AuditEvent;
use crate::domain::GroupName;
use crate::store::{NewMethod, NewUser};

/// A user to import, with their methods and the names of their groups.
#[derive(Debug, Clone)]
pub struct ImportedUser {
    pub user: NewUser,
    pub methods: Vec<NewMethod>,
    pub groups: Vec<GroupName>,
}

impl UserStore {
    /// Stores imported users, their methods and memberships in one transaction (a group named
    /// and missing is made, with `group_made` as its event); users whose username or email is
    /// taken are left alone, and so are their groups. Returns (created, unchanged).
    pub async fn import_users(
        &self,
        users: &[ImportedUser],
        event: &AuditEvent,
        group_made: &AuditEvent,
    ) -> Result<(u64, u64), StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        let (mut created, mut unchanged) = (0, 0);
        for imported in users {
            if insert_user_in(&mut tx, &imported.user, now, true)
                .await?
                .is_none()
            {
                unchanged += 1;
                continue;
            }
            created += 1;
            for method in &imported.methods {
                insert_method_in(&mut tx, method, now).await?;
            }
            join_by_name_in(&mut tx, imported.user.id, &imported.groups, group_made).await?;
        }
        let event = event
            .clone()
            .detail("created", created)
            .detail("unchanged", unchanged);
        audit::record(&mut tx, &event).await?;
        tx.commit().await?;
        Ok((created, unchanged))
    }
}
