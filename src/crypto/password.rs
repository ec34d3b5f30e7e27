//! Argon2id password hashing on blocking threads, a bounded number at once.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::Semaphore;

use crate::config::Argon2Config;
use crate::domain::Password;

/// A PHC string (`$argon2id$v=19$m=…`). Not secret in the way a password is, but kept out of
/// logs all the same.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Wrong,
    /// Right, and the hash already uses the configured parameters.
    Right,
    /// Right, but made with other parameters (or another algorithm): hash it again.
    RightButOutdated,
}

impl Verification {
    pub fn is_right(self) -> bool {
        !matches!(self, Verification::Wrong)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the password hashing pool is closed")]
    Closed,
}

/// Hashes and verifies passwords. Each call runs on Tokio's blocking pool after taking a permit,
/// so at most `max_concurrent` hashes run at once and the async threads keep serving.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Checked when the user does not exist, so that a miss costs as much as a wrong password.
    dummy: PasswordHash,
}

impl PasswordHasher {
    pub fn new(config: &Argon2Config, max_concurrent: usize) -> Result<Self, HashError> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| HashError::Hash(e.to_string()))?;
        let dummy = hash_now(&params, "tessera-dummy-password")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy,
        })
    }

    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let params = self.params.clone();
        let password = password.clone();
        self.run(move || hash_now(&params, password.expose())).await?
    }

    pub async fn verify(
        &self,
        password: &Password,
        stored: &PasswordHash,
    ) -> Result<Verification, HashError> {
        let params = self.params.clone();
        let password = password.clone();
        let stored = stored.clone();
        self.run(move || Ok(verify_now(&params, password.expose(), &stored)))
            .await?
    }

    /// Spends the time of a verification on the dummy hash; the result is always "wrong".
    pub async fn verify_dummy(&self, password: &Password) -> Result<Verification, HashError> {
        let dummy = self.dummy.clone();
        self.verify(password, &dummy).await?;
        Ok(Verification::Wrong)
    }

    /// One hash timed on this thread: what the login benchmark compares a login against.
    pub fn hash_blocking(&self, password: &str) -> Result<PasswordHash, HashError> {
        hash_now(&self.params, password)
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| HashError::Hash(e.to_string()))
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn hash_now(params: &Params, password: &str) -> Result<PasswordHash, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2(params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| PasswordHash(h.to_string()))
        .map_err(|e| HashError::Hash(e.to_string()))
}

fn verify_now(params: &Params, password: &str, stored: &PasswordHash) -> Verification {
    let Ok(parsed) = argon2::PasswordHash::new(stored.as_str()) else {
        return Verification::Wrong;
    };
    // Verification follows the parameters inside the stored hash, not the configured ones.
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verification::Wrong;
    }
    let current = parsed.algorithm == argon2::ARGON2ID_IDENT
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == params.m_cost()
                && p.t_cost() == params.t_cost()
                && p.p_cost() == params.p_cost()
        });
    if current {
        Verification::Right
    } else {
        Verification::RightButOutdated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(iterations: u32) -> PasswordHasher {
        let config = Argon2Config {
            memory_kib: 64,
            iterations,
            parallelism: 1,
            max_concurrent: 2,
        };
        PasswordHasher::new(&config, 2).unwrap()
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = cheap(1);
        let password = Password::attempt("correct horse").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert_eq!(hasher.verify(&password, &hash).await.unwrap(), Verification::Right);
        let wrong = Password::attempt("wrong horse").unwrap();
        assert_eq!(hasher.verify(&wrong, &hash).await.unwrap(), Verification::Wrong);
    }

    #[tokio::test]
    async fn a_hash_made_with_other_parameters_is_flagged_for_rehashing() {
        let password = Password::attempt("correct horse").unwrap();
        let old = cheap(1).hash(&password).await.unwrap();
        let verdict = cheap(2).verify(&password, &old).await.unwrap();
        assert_eq!(verdict, Verification::RightButOutdated);
    }

    #[tokio::test]
    async fn a_garbled_stored_hash_is_a_wrong_password_not_a_crash() {
        let hasher = cheap(1);
        let password = Password::attempt("whatever1").unwrap();
        let garbage = PasswordHash::from_stored("not a phc string".into());
        assert_eq!(hasher.verify(&password, &garbage).await.unwrap(), Verification::Wrong);
    }
}
