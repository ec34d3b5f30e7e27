//! Argon2id password hashing on threads of its own, a bounded number at once.
//!
//! Each hash needs `m` KiB of working memory (19 MiB by default). Allocated per hash, that
//! memory may be mapped fresh and faulted in page by page every time, a large share of the
//! hash's cost, so the hasher keeps one buffer per concurrent hash and reuses it (figures in
//! BENCHMARKS.md, "Why the constants are what they are"). Argon2 writes every block before
//! reading it, so a reused buffer gives the same result as a fresh one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{Output, ParamsString, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;
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

/// Hashes and verifies passwords. Each call takes a permit, then runs on one of
/// `max_concurrent` hashing threads, so the async threads keep serving.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    threads: HashingThreads,
    memory: Arc<MemoryPool>,
    /// Checked when the user does not exist, so that a miss costs as much as a wrong password.
    dummy: PasswordHash,
    /// Passwords compared with a hash so far, the dummy's included: the work logins cost.
    verifications: Arc<AtomicU64>,
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
        let max_concurrent = max_concurrent.max(1);
        let memory = Arc::new(MemoryPool::new(max_concurrent));
        let dummy = dummy_hash(&params)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent)),
            threads: HashingThreads::start(max_concurrent)?,
            memory,
            dummy,
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let params = self.params.clone();
        let memory = self.memory.clone();
        let password = password.clone();
        self.run(move || hash_now(&params, &memory, password.expose()))
            .await?
    }

    pub async fn verify(
        &self,
        password: &Password,
        stored: &PasswordHash,
    ) -> Result<Verification, HashError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("tessera_password_verifications_total").increment(1);
        let params = self.params.clone();
        let memory = self.memory.clone();
        let password = password.clone();
        let stored = stored.clone();
        self.run(move || {
            let verdict = verify_now(&params, &memory, password.expose(), &stored);
            // A hash made before passwords were normalised was made from the password as it
            // was typed then: one more check as typed now, and a match is hashed again in the
            // normal form. Only an attempt that is not already normal pays for it, known or
            // unknown user alike (`verify_dummy`).
            match (verdict, password.as_typed()) {
                (Verification::Wrong, Some(typed)) => {
                    Ok(match verify_now(&params, &memory, typed, &stored) {
                        Verification::Wrong => Verification::Wrong,
                        _ => Verification::RightButOutdated,
                    })
                }
                _ => Ok(verdict),
            }
        })
        .await?
    }

    /// Spends the time of a verification on the dummy hash; the result is always "wrong".
    pub async fn verify_dummy(&self, password: &Password) -> Result<Verification, HashError> {
        let dummy = self.dummy.clone();
        self.verify(password, &dummy).await?;
        Ok(Verification::Wrong)
    }

    /// How many passwords this hasher (and its clones) compared with a hash since it started.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// One hash timed on this thread: what the login benchmark compares a login against.
    pub fn hash_blocking(&self, password: &str) -> Result<PasswordHash, HashError> {
        hash_now(&self.params, &self.memory, password)
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
        self.threads.run(job).await
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads that only hash, at the lowest scheduling priority (SCHED_IDLE), below the threads
/// that serve requests. A flood of password guesses then fills the idle CPU but hardly delays a code
/// check, which is short and waited for; alone, hashes still get every core.
#[derive(Clone)]
struct HashingThreads {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl HashingThreads {
    fn start(count: usize) -> Result<Self, HashError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("tessera-hash-{index}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        // The lock is held only while waiting: one thread takes the next job.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            // A panic loses its own answer (the caller sees `Closed`), not the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| HashError::Hash(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // The caller may have gone (a dropped request); the hash is then wasted, no more.
                let _ = answer.send(job());
            }))
            .map_err(|_| HashError::Closed)?;
        answered.await.map_err(|_| HashError::Closed)
    }
}

fn lower_this_threads_priority() {
    use thread_priority::ThreadPriority;
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    // SCHED_IDLE: any thread serving a request that wakes up takes the core from a hash at once,
    // and hashes get every core nobody else wants. Lowering one's own priority needs no
    // privilege; where it fails anyway, hashing runs at the normal priority.
    if let Err(error) = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    ) {
        tracing::warn!(
            ?error,
            "cannot lower the priority of a password hashing thread"
        );
    }
}

/// Reusable Argon2 working memory, at most one buffer per permitted concurrent hash.
struct MemoryPool {
    free: Mutex<Vec<Vec<Block>>>,
    keep: usize,
}

impl MemoryPool {
    fn new(keep: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            keep,
        }
    }

    fn with_blocks<T>(&self, count: usize, job: impl FnOnce(&mut [Block]) -> T) -> T {
        let mut buffer = self
            .free
            .lock()
            .map(|mut free| free.pop())
            .unwrap_or_default()
            .unwrap_or_default();
        if buffer.len() < count {
            buffer.resize(count, Block::default());
        }
        let result = job(&mut buffer[..count]);
        if let Ok(mut free) = self.free.lock()
            && free.len() < self.keep
        {
            free.push(buffer);
        }
        result
    }
}

/// The raw Argon2 output for these inputs, computed in pooled memory.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    memory: &MemoryPool,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let argon2 = Argon2::new(algorithm, version, params.clone());
    memory.with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt, out, blocks)
    })
}

fn hash_now(
    params: &Params,
    memory: &MemoryPool,
    password: &str,
) -> Result<PasswordHash, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| hash_error(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params,
        memory,
        password.as_bytes(),
        raw_salt,
        &mut out,
    )
    .map_err(|e| hash_error(&e))?;
    phc_string(params, &salt, &out)
}

/// What an unknown user's password is checked against, so that a login for nobody takes as
/// long as one for somebody: the configured parameters, a random salt and a random output.
/// Verifying against it costs one hash like any other, and no password can match it (a real
/// hash of a fixed dummy password would match that password). Drawn, not computed, so that a
/// start does not pay for a hash before the server listens (figures in BENCHMARKS.md, "Why the
/// constants are what they are").
fn dummy_hash(params: &Params) -> Result<PasswordHash, HashError> {
    use rand::RngCore;
    let salt = SaltString::generate(&mut OsRng);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    OsRng.fill_bytes(&mut out);
    phc_string(params, &salt, &out)
}

fn phc_string(params: &Params, salt: &SaltString, out: &[u8]) -> Result<PasswordHash, HashError> {
    let phc = argon2::PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| hash_error(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(out).map_err(|e| hash_error(&e))?),
    };
    Ok(PasswordHash(phc.to_string()))
}

fn hash_error(error: &dyn std::fmt::Display) -> HashError {
    HashError::Hash(error.to_string())
}

/// The hash formats an import may bring, checked for shape: Argon2 (PHC string), bcrypt
/// (`$2b$…`) and Django's PBKDF2-SHA256 (`pbkdf2_sha256$<iterations>$<salt>$<base64>`). They are
/// verified as they are and replaced by Argon2id at the first login.
pub fn check_imported_hash(stored: &str) -> Result<(), String> {
    if stored.starts_with("$argon2") {
        let parsed = argon2::PasswordHash::new(stored)
            .map_err(|e| format!("not a valid Argon2 hash: {e}"))?;
        if !imported_argon2_params_affordable(&parsed) {
            return Err(format!(
                "Argon2 parameters beyond what a login can afford: at most \
                 m={IMPORTED_ARGON2_MAX_KIB} (1 GiB), t={IMPORTED_ARGON2_MAX_PASSES}, \
                 p={IMPORTED_ARGON2_MAX_LANES}"
            ));
        }
        let complete = parsed.hash.is_some()
            && parsed.salt.is_some()
            && Algorithm::try_from(parsed.algorithm).is_ok()
            && Params::try_from(&parsed).is_ok();
        return if complete {
            Ok(())
        } else {
            Err("not a complete Argon2 hash (algorithm, parameters, salt and hash)".into())
        };
    }
    if is_bcrypt(stored) {
        return Ok(());
    }
    if stored.starts_with("pbkdf2_sha256$") {
        return django_pbkdf2(stored).map(|_| ()).ok_or_else(|| {
            "not a valid PBKDF2-SHA256 hash (pbkdf2_sha256$iterations$salt$base64)".to_owned()
        });
    }
    Err(
        "an unknown hash format: use Argon2 ($argon2id$…), bcrypt ($2b$…) or pbkdf2_sha256$…"
            .into(),
    )
}

/// The most an imported Argon2 hash may ask of a login: 1 GiB of memory (libsodium's most
/// demanding preset), 16 passes, 64 lanes. A login verifies with the hash's own parameters, so
/// without a bound one imported row could make it allocate 4 TiB (m = 2^32 - 1 KiB: the process
/// aborts) or spin for hours.
const IMPORTED_ARGON2_MAX_KIB: u32 = 1 << 20;
const IMPORTED_ARGON2_MAX_PASSES: u32 = 16;
const IMPORTED_ARGON2_MAX_LANES: u32 = 64;

/// Whether every m, t and p of an imported hash is within the bounds above. Checked before
/// argon2 reads them: argon2 0.5 computes 8 x p before it bounds p, an overflow for p above
/// 2^29 (found by the password_hash fuzz target).
fn imported_argon2_params_affordable(parsed: &argon2::PasswordHash) -> bool {
    parsed.params.iter().all(|(name, value)| {
        let limit = match name.as_str() {
            "m" => IMPORTED_ARGON2_MAX_KIB,
            "t" => IMPORTED_ARGON2_MAX_PASSES,
            "p" => IMPORTED_ARGON2_MAX_LANES,
            _ => return true,
        };
        value.decimal().is_ok_and(|v| v <= limit)
    })
}

fn is_bcrypt(stored: &str) -> bool {
    // The cost is read as bytes: slicing the str there panicked when a multi-byte character
    // straddled byte 6 (an imported "hash" found by the password_hash fuzz target).
    stored.len() == 60
        && ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p))
        && stored.as_bytes()[4..6].iter().all(u8::is_ascii_digit)
}

/// Django's `pbkdf2_sha256$iterations$salt$hash`: (iterations, salt, hash).
fn django_pbkdf2(stored: &str) -> Option<(u32, &str, Vec<u8>)> {
    use base64::Engine;
    let mut parts = stored.split('$');
    let (Some("pbkdf2_sha256"), Some(iterations), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let iterations: u32 = iterations
        .parse()
        .ok()
        .filter(|i| (1..=10_000_000).contains(i))?;
    let hash = base64::engine::general_purpose::STANDARD
        .decode(hash)
        .ok()?;
    (!salt.is_empty() && (16..=64).contains(&hash.len())).then_some((iterations, salt, hash))
}

/// Verifies a password against a hash from another system: `None` when it is no such hash.
fn verify_foreign(password: &str, stored: &str) -> Option<bool> {
    if is_bcrypt(stored) {
        return Some(bcrypt::verify(password, stored).unwrap_or(false));
    }
    let (iterations, salt, expected) = django_pbkdf2(stored)?;
    let mut out = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut out);
    Some(bool::from(out.as_slice().ct_eq(&expected)))
}

fn verify_now(
    params: &Params,
    memory: &MemoryPool,
    password: &str,
    stored: &PasswordHash,
) -> Verification {
    if let Some(right) = verify_foreign(password, stored.as_str()) {
        // Right with a foreign hash: it is replaced by Argon2id at once.
        return if right {
            Verification::RightButOutdated
        } else {
            Verification::Wrong
        };
    }
    let Ok(parsed) = argon2::PasswordHash::new(stored.as_str()) else {
        return Verification::Wrong;
    };
    // Verification follows the algorithm and parameters inside the stored hash.
    let (Ok(algorithm), Ok(stored_params), Some(expected), Some(salt)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
        parsed.hash,
        parsed.salt,
    ) else {
        return Verification::Wrong;
    };
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return Verification::Wrong;
    };
    let mut out = vec![0u8; expected.len()];
    if compute(
        algorithm,
        version,
        &stored_params,
        memory,
        password.as_bytes(),
        raw_salt,
        &mut out,
    )
    .is_err()
    {
        return Verification::Wrong;
    }
    if !bool::from(out.as_slice().ct_eq(expected.as_bytes())) {
        return Verification::Wrong;
    }
    let current = algorithm == Algorithm::Argon2id
        && version == Version::V0x13
        && stored_params.m_cost() == params.m_cost()
        && stored_params.t_cost() == params.t_cost()
        && stored_params.p_cost() == params.p_cost();
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

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashes_run_on_their_own_threads_below_every_thread_that_serves() {
        let hasher = cheap(1);
        let (name, stat) = hasher
            .threads
            .run(|| {
                (
                    std::thread::current().name().map(str::to_owned),
                    std::fs::read_to_string("/proc/thread-self/stat"),
                )
            })
            .await
            .unwrap();
        assert!(name.unwrap_or_default().starts_with("tessera-hash-"));
        // proc(5): after the name in parentheses come the fields from the 3rd; the 41st is the
        // scheduling policy, 5 being SCHED_IDLE.
        let stat = stat.expect("/proc/thread-self/stat is readable on Linux");
        let fields = stat.rsplit_once(')').unwrap().1;
        let policy: u32 = fields
            .split_whitespace()
            .nth(41 - 3)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(policy, 5, "the hashing thread should run under SCHED_IDLE");
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = cheap(1);
        let password = Password::attempt("correct horse").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert_eq!(
            hasher.verify(&password, &hash).await.unwrap(),
            Verification::Right
        );
        let wrong = Password::attempt("wrong horse").unwrap();
        assert_eq!(
            hasher.verify(&wrong, &hash).await.unwrap(),
            Verification::Wrong
        );
    }

    #[tokio::test]
    async fn an_unknown_users_check_costs_a_hash_at_the_configured_parameters_and_matches_nothing()
    {
        let hasher = cheap(1);
        let dummy = argon2::PasswordHash::new(hasher.dummy.as_str()).unwrap();
        assert_eq!(dummy.algorithm, argon2::ARGON2ID_IDENT);
        let params = Params::try_from(&dummy).unwrap();
        let costs = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
        assert_eq!(costs(&params), costs(&hasher.params));
        assert_eq!(
            dummy.hash.unwrap().len(),
            Params::DEFAULT_OUTPUT_LEN,
            "the same output length as a real hash, so the same work to check"
        );
        for attempt in ["tessera-dummy-password", "correct horse", "x"] {
            let password = Password::attempt(attempt).unwrap();
            assert_eq!(
                hasher.verify(&password, &hasher.dummy).await.unwrap(),
                Verification::Wrong,
                "{attempt:?} matched the dummy"
            );
        }
        assert_ne!(cheap(1).dummy, hasher.dummy, "each start draws its own");
    }

    #[tokio::test]
    async fn a_hash_made_with_other_parameters_is_flagged_for_rehashing() {
        let password = Password::attempt("correct horse").unwrap();
        let old = cheap(1).hash(&password).await.unwrap();
        let verdict = cheap(2).verify(&password, &old).await.unwrap();
        assert_eq!(verdict, Verification::RightButOutdated);
    }

    #[tokio::test]
    async fn hashes_interoperate_with_the_argon2_crates_own_phc_strings() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = cheap(1);
        let ours = hasher.hash_blocking("interop password").unwrap();
        let parsed = argon2::PasswordHash::new(ours.as_str()).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"interop password", &parsed)
                .is_ok()
        );

        let params = Params::new(64, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"interop password", &salt)
            .unwrap()
            .to_string();
        let password = Password::attempt("interop password").unwrap();
        let verdict = hasher
            .verify(&password, &PasswordHash::from_stored(theirs))
            .await
            .unwrap();
        assert_eq!(verdict, Verification::Right);
    }

    #[tokio::test]
    async fn a_reused_buffer_gives_the_same_answers_as_a_fresh_one() {
        let hasher = cheap(1);
        let hashes: Vec<PasswordHash> = (0..4)
            .map(|i| {
                hasher
                    .hash_blocking(&format!("password number {i}"))
                    .unwrap()
            })
            .collect();
        for (i, hash) in hashes.iter().enumerate() {
            for j in 0..4 {
                let attempt = Password::attempt(&format!("password number {j}")).unwrap();
                assert_eq!(
                    hasher.verify(&attempt, hash).await.unwrap().is_right(),
                    i == j
                );
            }
        }
    }

    #[tokio::test]
    async fn imported_bcrypt_and_pbkdf2_hashes_verify_and_ask_to_be_replaced() {
        let hasher = cheap(1);
        let password = Password::attempt("imported password").unwrap();
        let wrong = Password::attempt("something else").unwrap();
        let bcrypt_hash = bcrypt::hash("imported password", 4).unwrap();
        // Made with Django's own hasher (iterations 1000 to keep the test quick).
        let django = {
            use base64::Engine;
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"imported password", b"somesalt", 1000, &mut out);
            format!(
                "pbkdf2_sha256$1000$somesalt${}",
                base64::engine::general_purpose::STANDARD.encode(out)
            )
        };
        for stored in [bcrypt_hash, django] {
            assert!(check_imported_hash(&stored).is_ok(), "{stored}");
            let stored = PasswordHash::from_stored(stored);
            assert_eq!(
                hasher.verify(&password, &stored).await.unwrap(),
                Verification::RightButOutdated
            );
            assert_eq!(
                hasher.verify(&wrong, &stored).await.unwrap(),
                Verification::Wrong
            );
        }
        for bad in [
            "md5:abc",
            "$2b$xx$short",
            "pbkdf2_sha256$0$salt$AAAA",
            "$argon2id$garbage",
        ] {
            assert!(check_imported_hash(bad).is_err(), "{bad}");
        }
        // 60 bytes, with a two-byte character across the end of the cost field.
        let straddling = format!("$2a$1é{}", "a".repeat(53));
        assert_eq!(straddling.len(), 60);
        assert!(check_imported_hash(&straddling).is_err());
        // Parameters no login can afford (4 TiB of memory; lanes whose 8 x p overflows).
        for costly in [
            "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            "$argon2id$v=19$m=19456,t=100000,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            "$argon2i$m=2952,t=2,p=766499255$c29tZXNhbHQ$RdescudvJCsgt3ubJObG",
        ] {
            let error = check_imported_hash(costly).unwrap_err();
            assert!(error.contains("afford"), "{costly}: {error}");
        }
    }

    #[tokio::test]
    async fn a_garbled_stored_hash_is_a_wrong_password_not_a_crash() {
        let hasher = cheap(1);
        let password = Password::attempt("whatever1").unwrap();
        let garbage = PasswordHash::from_stored("not a phc string".into());
        assert_eq!(
            hasher.verify(&password, &garbage).await.unwrap(),
            Verification::Wrong
        );
    }
}
