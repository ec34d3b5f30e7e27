use super::UserStore;
use super::two_factor::insert_method_in;
use super::users::insert_user_in;
use super::{StoreError, audit};
use crate::audit::AuditEvent;
use crate::store::{NewMethod, NewUser};

impl UserStore {
    /// Stores imported users and their methods in one transaction; users whose username or
    /// email is taken are left alone. Returns (created, unchanged).
    pub async fn import_users(
        &self,
        users: &[(NewUser, Vec<NewMethod>)],
        event: &AuditEvent,
    ) -> Result<(u64, u64), StoreError> {
        let now = event.at;
        let mut tx = self.store.writes().begin().await?;
        let (mut created, mut unchanged) = (0, 0);
        for (user, methods) in users {
            if insert_user_in(&mut tx, user, now, true).await?.is_none() {
                unchanged += 1;
                continue;
            }
            created += 1;
            for method in methods {
                insert_method_in(&mut tx, method, now).await?;
            }
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
