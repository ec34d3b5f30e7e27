//! The delivery settings in force: an administrator's stored copy, sealed whole because it
//! holds the provider's credentials, or else the configuration's.

use super::Delivery;
use crate::audit::{Actor, AuditEvent, EventKind, Origin};
use crate::clock::Instant;
use crate::crypto::cipher::Sealed;
use crate::delivery_settings::{DeliveryChange, DeliverySettings};
use crate::domain::FieldError;

const SETTINGS_KEY: &str = "delivery";

#[derive(Debug, thiserror::Error)]
pub enum DeliverySettingsError {
    /// 400: the settings are refused; nothing changed.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for DeliverySettingsError {
    fn from(error: crate::store::StoreError) -> Self {
        DeliverySettingsError::Internal(error.into())
    }
}

impl Delivery {
    /// The delivery settings in force: the stored ones when an administrator saved some, else
    /// the configuration's. The stored copy is sealed whole: it holds the Auth Token.
    pub async fn delivery_settings(&self) -> Result<DeliverySettings, anyhow::Error> {
        let Some(stored) = self.setting_store.setting(SETTINGS_KEY).await? else {
            return Ok(DeliverySettings::clone(&self.defaults));
        };
        let (key_id, ciphertext): (String, String) = serde_json::from_str(&stored)?;
        let sealed = Sealed { key_id, ciphertext };
        let json = self.secrets.open(&sealed, SETTINGS_KEY)?;
        Ok(serde_json::from_slice(&json)?)
    }

    /// Makes an administrator's change: the whole document or one sender's section, secrets
    /// left out keeping their value. Checked whole before anything is stored, so a refused
    /// change leaves every setting as it was. Answers the settings as stored, secrets read as
    /// "set".
    pub async fn change_delivery_settings(
        &self,
        change: DeliveryChange,
        actor: Actor,
        origin: &Origin,
        now: Instant,
    ) -> Result<DeliverySettings, DeliverySettingsError> {
        let current = self.delivery_settings().await?;
        let section = change.section();
        let settings = change.applied_to(&current);
        settings.check().map_err(DeliverySettingsError::Invalid)?;
        let json = serde_json::to_vec(&settings).map_err(anyhow::Error::from)?;
        let sealed = self.secrets.seal(&json, SETTINGS_KEY);
        let stored = serde_json::to_string(&(sealed.key_id, sealed.ciphertext))
            .map_err(anyhow::Error::from)?;
        let event = AuditEvent::new(EventKind::SettingsChange, actor, origin, now)
            .detail("key", SETTINGS_KEY)
            .detail("section", section)
            .detail(
                "provider",
                serde_json::to_value(settings.provider).unwrap_or_default(),
            )
            .detail(
                "sender",
                serde_json::to_value(settings.sender).unwrap_or_default(),
            );
        self.setting_store
            .put_setting(SETTINGS_KEY, &stored, &event)
            .await?;
        Ok(settings.redacted())
    }
}
