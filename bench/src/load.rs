//! The load: N connections, each a worker that repeats one operation until the deadline, and
//! the figures of a run (rate, latency percentiles, outcomes by status).
//!
//! Replay protection accepts a TOTP step once per authenticator, so codes come from a pool of
//! credentials ("slots": one TOTP secret of one user), each remembering the last step it used.
//! A worker takes the least recently used slot and the earliest step the server will still
//! accept, and gives the slot back when its request is answered: one slot is never in two
//! requests at once, so its steps reach the server in order and no code is ever refused as
//! replayed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tessera::otp::{Algorithm, hotp};

pub const PERIOD_SECONDS: u64 = 30;
/// Tessera's default `totpSkewSteps`.
const SKEW_STEPS: u64 = 1;
/// A request may take this long to reach the server's check: a step is used only if the server
/// still accepts it that much later (and already accepts it that much earlier).
const FLIGHT_MARGIN_SECONDS: u64 = 2;

pub fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn totp_code(secret: &[u8], step: u64) -> String {
    format!("{:06}", hotp(secret, step, 6, Algorithm::Sha1))
}

/// One TOTP secret of one user, with what it has been used for.
pub struct Slot {
    pub user: usize,
    pub secret: Arc<[u8]>,
    next_step: u64,
    /// Challenges (twoFactorId, methodId) created beforehand for this user, used one per request.
    pub challenges: VecDeque<(String, String)>,
}

impl Slot {
    pub fn new(user: usize, secret: Arc<[u8]>) -> Self {
        Self {
            user,
            secret,
            next_step: 0,
            challenges: VecDeque::new(),
        }
    }
}

pub enum Take {
    /// A slot and the step to use; give it back with `put_back`.
    Ready(Box<Slot>, u64),
    /// Every slot has used every step the server accepts now: wait for the next step.
    Wait,
    /// No slot is left (their challenges are spent).
    Empty,
}

pub struct SlotPool {
    queue: Mutex<VecDeque<Box<Slot>>>,
    needs_challenge: bool,
    /// False for SMS codes, which the server makes: any slot is ready at any time.
    uses_totp: bool,
}

impl SlotPool {
    pub fn new(slots: Vec<Slot>, needs_challenge: bool, uses_totp: bool) -> Self {
        Self {
            queue: Mutex::new(slots.into_iter().map(Box::new).collect()),
            needs_challenge,
            uses_totp,
        }
    }

    pub fn take(&self) -> Take {
        let now = unix_seconds();
        let lowest = (now + FLIGHT_MARGIN_SECONDS) / PERIOD_SECONDS - SKEW_STEPS;
        let highest = now.saturating_sub(FLIGHT_MARGIN_SECONDS) / PERIOD_SECONDS + SKEW_STEPS;
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(slot) = queue.pop_front() {
            if self.needs_challenge && slot.challenges.is_empty() {
                continue;
            }
            if !self.uses_totp {
                return Take::Ready(slot, 0);
            }
            let step = slot.next_step.max(lowest);
            if step <= highest {
                return Take::Ready(slot, step);
            }
            // The least recently used slot has no step left, so none has: wait for time.
            queue.push_front(slot);
            return Take::Wait;
        }
        Take::Empty
    }

    pub fn put_back(&self, mut slot: Box<Slot>, used_step: u64) {
        if self.uses_totp {
            slot.next_step = used_step + 1;
        }
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(slot);
    }
}

/// What one operation came to: the status that decides it (the first unexpected one, or the
/// final expected one) and whether it counts as a success.
pub struct Outcome {
    pub label: String,
    pub ok: bool,
}

impl Outcome {
    pub fn status(status: u16, expected: u16) -> Self {
        Self {
            label: status.to_string(),
            ok: status == expected,
        }
    }

    pub fn failed(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            ok: false,
        }
    }
}

#[derive(Default)]
pub struct RunFigures {
    pub elapsed: Duration,
    pub latencies_us: Vec<u64>,
    pub outcomes: BTreeMap<String, u64>,
    pub errors: u64,
    /// Time workers spent waiting for a fresh TOTP step (should be zero: more users if not).
    pub waited_for_codes: Duration,
    /// The run stopped before its duration because every prepared challenge was used.
    pub ran_out: bool,
}

impl RunFigures {
    /// One run's figures from several windows of it (the time is the windows' sum).
    pub fn merge(parts: Vec<RunFigures>) -> RunFigures {
        let mut total = RunFigures::default();
        for part in parts {
            total.elapsed += part.elapsed;
            total.latencies_us.extend(part.latencies_us);
            for (label, n) in part.outcomes {
                *total.outcomes.entry(label).or_default() += n;
            }
            total.errors += part.errors;
            total.waited_for_codes += part.waited_for_codes;
            total.ran_out |= part.ran_out;
        }
        total.latencies_us.sort_unstable();
        total
    }

    pub fn count(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    pub fn rate(&self) -> f64 {
        self.count() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Nearest-rank percentile, in milliseconds.
    pub fn percentile_ms(&self, percent: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((percent / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us[index] as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latencies_us
            .last()
            .map(|&us| us as f64 / 1000.0)
            .unwrap_or(f64::NAN)
    }

    pub fn outcomes_text(&self) -> String {
        self.outcomes
            .iter()
            .map(|(label, n)| format!("{label}×{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Where `run` appends every request's start and latency (`--latency-log`), if anywhere.
pub static LATENCY_LOG: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// One line per request, `<µs from the run's start> <latency µs>`, after a line naming the
/// run's start on the monotonic clock (`Instant`'s own words), to set beside `perf` timestamps.
fn log_latencies(path: &std::path::Path, started: Instant, figures: &WorkerFigures) {
    use std::io::Write;
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|file| {
            let mut file = std::io::BufWriter::new(file);
            writeln!(file, "# run started {started:?}")?;
            for (began, took) in figures.started_us.iter().zip(&figures.latencies_us) {
                writeln!(file, "{began} {took}")?;
            }
            file.flush()
        });
    if let Err(error) = written {
        eprintln!(
            "tessera-bench: cannot write the latency log {}: {error}",
            path.display()
        );
    }
}

struct WorkerFigures {
    latencies_us: Vec<u64>,
    /// When each request of `latencies_us` began, from the run's start.
    started_us: Vec<u64>,
    outcomes: BTreeMap<String, u64>,
    errors: u64,
    waited: Duration,
    ran_out: bool,
}

/// Runs `connections` workers for `duration`; each calls `operation` with its own client (one
/// keep-alive connection per worker) and a sequence number. `operation` returns `None` when
/// there is nothing left to do (the run then ends for that worker) or the outcome.
pub async fn run<F, Fut>(connections: usize, duration: Duration, operation: F) -> RunFigures
where
    F: Fn(reqwest::Client, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Step> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..connections {
        let operation = operation.clone();
        workers.spawn(async move {
            let client = client();
            let mut figures = WorkerFigures {
                latencies_us: Vec::with_capacity(4096),
                started_us: Vec::with_capacity(4096),
                outcomes: BTreeMap::new(),
                errors: 0,
                waited: Duration::ZERO,
                ran_out: false,
            };
            let mut sequence = worker as u64;
            while Instant::now() < deadline {
                let begun = Instant::now();
                match operation(client.clone(), sequence).await {
                    Step::Done(outcome) => {
                        figures
                            .latencies_us
                            .push(begun.elapsed().as_micros() as u64);
                        figures
                            .started_us
                            .push(begun.duration_since(started).as_micros() as u64);
                        if !outcome.ok {
                            figures.errors += 1;
                        }
                        *figures.outcomes.entry(outcome.label).or_default() += 1;
                    }
                    Step::Wait => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        figures.waited += begun.elapsed();
                    }
                    Step::Exhausted => {
                        figures.ran_out = true;
                        break;
                    }
                    Step::Abandoned => break,
                }
                sequence += connections as u64;
            }
            (figures, Instant::now())
        });
    }
    let mut total = RunFigures::default();
    let mut last_end = started;
    while let Some(joined) = workers.join_next().await {
        let Ok((figures, ended)) = joined else {
            continue;
        };
        last_end = last_end.max(ended);
        if let Some(path) = LATENCY_LOG.get() {
            log_latencies(path, started, &figures);
        }
        total.latencies_us.extend(figures.latencies_us);
        for (label, n) in figures.outcomes {
            *total.outcomes.entry(label).or_default() += n;
        }
        total.errors += figures.errors;
        total.waited_for_codes += figures.waited;
        total.ran_out |= figures.ran_out;
    }
    // Up to the last answer: a run cut short by spent challenges is measured over the time it
    // really ran, and requests in flight at the deadline count with the time they took.
    total.elapsed = last_end.duration_since(started);
    total.latencies_us.sort_unstable();
    total
}

pub enum Step {
    Done(Outcome),
    /// No fresh TOTP step yet: wait a little and try again.
    Wait,
    /// Nothing left to do (the prepared challenges are spent): this client stops.
    Exhausted,
    /// The operation was cut off at the end of the run and is not counted: this client stops.
    Abandoned,
}

/// One HTTP/1.1 keep-alive connection's client.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}
