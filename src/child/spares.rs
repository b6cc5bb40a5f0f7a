//! `SparePool`: keeps N started, not yet initialized children of the command ready
//! (`--prespawn N`), so a session's `initialize` goes to a process that has already loaded its
//! code instead of waiting for `node`, `uvx` or a JVM to start.
//!
//! - Spares are started exactly like session children, through [`ManagedProcess::spawn`]
//!   (same command, environment, directory, process group, parent-death signal), by one
//!   background task, the *maintainer*, one spawn at a time.
//! - [`SparePool::take`] hands out the oldest live spare at once (or nothing: the caller then
//!   spawns as without a pool) and wakes the maintainer, which starts a replacement once
//!   [`PoolConfig::refill_pause`] has passed since the take: a starting server (node: a
//!   third of a second of CPU on several threads) would otherwise compete for the cores with
//!   the taken process answering its first `initialize`, the one moment a warm start is for.
//!   The pause counts from the first take since the last refill began, so under a stream of
//!   takes refills are delayed once, not starved, and it ends early once every taken spare
//!   has written its first answer ([`FirstAnswer`]). The
//!   session's child still receives the client's own `initialize`: a spare has been sent
//!   nothing.
//! - While a spare waits, nothing reads its stdout or stderr. A server writes nothing on
//!   stdout before `initialize`; stderr has the pipe's buffer (64 KiB on Linux), and what a
//!   spare logged there is read (and logged under its session) once a session takes it.
//! - Watched: a small task per spare waits on its exit watch and wakes the maintainer, which
//!   drops the exited spare (counted `spare_children_replaced_total{reason="exited"}`) and
//!   starts another after a backoff (`--restart-backoff-min` doubling up to
//!   `--restart-backoff-max`), so a command that cannot start, or exits at once, is retried
//!   slowly instead of in a hot loop. A spare older than `--prespawn-max-age` is stopped like
//!   any child (stdin closed, then SIGTERM and SIGKILL to its group, each after
//!   `--kill-grace`) and replaced (`reason="expired"`).
//! - Bounded: at most N spares exist, counting those being stopped; a replacement for an
//!   expired spare starts once it has exited.
//! - [`SparePool::drain`] (shutdown begins) stops the refills; [`SparePool::shutdown`] (the
//!   sessions are gone) stops every spare and waits for them, bounded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::backoff::{Backoff, random_jitter};
use crate::config::CommandSpec;
use crate::metrics::{ProxyMetrics, SpareReplaced};
use crate::process::{ChildPipes, ExitReport, ManagedProcess};
pub use first_answer::{AnswerWatch, FirstAnswer};
use spare::{AbortOnDrop, Spare, stop};

/// How the pool is configured.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// What to start.
    pub command: CommandSpec,
    /// Spares to keep ready.
    pub count: usize,
    /// Age at which a waiting spare is replaced, if enabled.
    pub max_age: Option<Duration>,
    /// Each step of stopping a spare waits this long.
    pub kill_grace: Duration,
    /// First delay after a spare failed to start or exited while waiting.
    pub backoff_min: Duration,
    /// Largest such delay.
    pub backoff_max: Duration,
    /// How long after a take the replacement waits ([`REFILL_PAUSE`] in the proxy).
    pub refill_pause: Duration,
}

/// The proxy's pause between a take and its replacement: long enough for a warm server to
/// answer `initialize` (about 1 ms for a small binary, 7 ms for node's server-everything),
/// short next to the start-up it defers (hundreds of milliseconds for node, uvx or a JVM).
pub const REFILL_PAUSE: Duration = Duration::from_millis(50);

/// The spare children of the command and the task that keeps them ready.
pub struct SparePool {
    config: PoolConfig,
    metrics: Arc<ProxyMetrics>,
    /// `spare_children`: the number of ready spares.
    gauge: Gauge,
    state: Mutex<PoolState>,
    /// Wakes the maintainer: a spare was taken or exited, or the mode changed.
    wake: Arc<Notify>,
    maintainer: Mutex<Option<JoinHandle<()>>>,
}

/// What the pool does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Keeps `count` spares ready.
    Filling,
    /// Shutdown has begun: taken, exited or expired spares are not replaced.
    Draining,
    /// Every spare is to be stopped.
    Closed,
}

struct PoolState {
    /// Ready spares, oldest first.
    ready: VecDeque<Spare>,
    mode: Mode,
    /// A live spare was taken since the maintainer last looked: the command works, so the
    /// backoff starts over.
    taken_live: bool,
    /// The first take since the last refill began: refills wait for the pause after it.
    first_take: Option<Instant>,
    /// Spares handed out whose process has not written anything yet: while there are any,
    /// refills wait (for the pause at most).
    awaiting_answer: usize,
}

/// What one look at the ready spares found.
struct Sweep {
    mode: Mode,
    /// Spares left ready.
    ready: usize,
    /// Spares older than `--prespawn-max-age`, removed, to be stopped.
    expired: Vec<Spare>,
    /// Whether a spare had exited (counted and dropped).
    exited_any: bool,
    /// Whether a live spare was taken since the last look.
    taken_live: bool,
    /// When the oldest remaining spare expires.
    next_expiry: Option<Instant>,
    /// Before this instant no refill starts (a spare was taken just now).
    refill_at: Option<Instant>,
}

/// Longest wait for the spares to stop at shutdown, beyond the two grace periods of a stop.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(5);

impl SparePool {
    /// Starts the maintainer, which fills the pool in the background.
    pub fn start(config: PoolConfig, metrics: Arc<ProxyMetrics>) -> Arc<SparePool> {
        let pool = Arc::new(SparePool {
            gauge: metrics.spare_children_gauge(),
            config,
            metrics,
            state: Mutex::new(PoolState {
                ready: VecDeque::new(),
                mode: Mode::Filling,
                taken_live: false,
                first_take: None,
                awaiting_answer: 0,
            }),
            wake: Arc::new(Notify::new()),
            maintainer: Mutex::new(None),
        });
        let task = tokio::spawn(pool.clone().maintain());
        *lock(&pool.maintainer) = Some(task);
        pool
    }

    /// A live spare, the oldest, if one is ready; the maintainer then starts a replacement
    /// once the spare has answered or the refill pause has passed. The caller drops the
    /// [`FirstAnswer`] when the process first writes (see [`AnswerWatch`]). Spares found
    /// exited on the way are dropped and counted.
    pub fn take(self: &Arc<SparePool>) -> Option<(ManagedProcess, ChildPipes, FirstAnswer)> {
        let mut state = lock(&self.state);
        let mut taken = None;
        while let Some(spare) = state.ready.pop_front() {
            match spare.exited() {
                Some(report) => self.count_exited(&spare, report),
                None => {
                    taken = Some(spare);
                    break;
                }
            }
        }
        state.taken_live |= taken.is_some();
        state.first_take.get_or_insert_with(Instant::now);
        state.awaiting_answer += usize::from(taken.is_some());
        self.gauge.set(gauge_value(state.ready.len()));
        drop(state);
        self.wake.notify_one();
        let spare = taken?;
        tracing::debug!(
            pid = spare.process.pid(),
            waited_ms = spare.born.elapsed().as_millis() as u64,
            "a session took a spare child"
        );
        let first_answer = FirstAnswer::new(Arc::downgrade(self));
        Some((spare.process, spare.pipes, first_answer))
    }

    /// Shutdown has begun: no spare is replaced any more.
    pub fn drain(&self) {
        self.set_mode(Mode::Draining);
    }

    /// Stops every spare (gracefully, bounded) and the maintainer; returns once they are gone.
    pub async fn shutdown(&self) {
        self.set_mode(Mode::Closed);
        let task = lock(&self.maintainer).take();
        if let Some(mut task) = task {
            let budget = self
                .config
                .kill_grace
                .saturating_mul(2)
                .saturating_add(SHUTDOWN_SLACK);
            if tokio::time::timeout(budget, &mut task).await.is_err() {
                tracing::warn!("spare children did not stop in time; killing their groups");
                // Dropping the maintainer's spares kills their groups (`ManagedProcess::drop`).
                task.abort();
                let _ = task.await;
            }
        }
        // Spares the maintainer did not get to (it was aborted): killed by their drop.
        let left: Vec<Spare> = lock(&self.state).ready.drain(..).collect();
        drop(left);
        self.gauge.set(0);
    }

    fn set_mode(&self, mode: Mode) {
        lock(&self.state).mode = mode;
        self.wake.notify_one();
    }

    /// Counts a spare that exited while it waited.
    fn count_exited(&self, spare: &Spare, report: ExitReport) {
        tracing::warn!(pid = spare.process.pid(), exit = %report, waited_s = spare.born.elapsed().as_secs_f64(), "a spare child exited while waiting for a session; it is replaced");
        self.metrics.child_exited(exit_cause(report));
        self.metrics.spare_replaced(SpareReplaced::Exited);
    }

    /// The maintainer: keeps the pool full, replaces exited and expired spares, and stops
    /// every spare once the pool is closed.
    async fn maintain(self: Arc<SparePool>) {
        let mut backoff = Backoff::new(self.config.backoff_min, self.config.backoff_max);
        // No spawn before this instant (after a failure).
        let mut retry_at: Option<Instant> = None;
        // Expired spares being stopped: they still count towards `count`.
        let mut stopping: JoinSet<()> = JoinSet::new();
        loop {
            let now = Instant::now();
            let Sweep {
                mode,
                ready,
                expired,
                exited_any,
                taken_live,
                next_expiry,
                refill_at,
            } = self.sweep(now);
            if taken_live || !expired.is_empty() {
                // A spare lived until it was used or expired: the command works.
                backoff.succeeded();
            }
            if exited_any {
                // A server that exits at once must not be restarted in a hot loop.
                retry_at = Some(now + backoff.failed(random_jitter()));
            }
            for spare in expired {
                let grace = self.config.kill_grace;
                let metrics = self.metrics.clone();
                stopping.spawn(async move { stop(spare, grace, &metrics).await });
            }
            if mode == Mode::Closed {
                break;
            }
            let due = retry_at.is_none_or(|at| at <= now) && refill_at.is_none_or(|at| at <= now);
            let short = ready + stopping.len() < self.config.count;
            if mode == Mode::Filling && short && due {
                retry_at = None;
                lock(&self.state).first_take = None;
                match ManagedProcess::spawn(&self.config.command).await {
                    Ok((process, pipes)) => {
                        self.metrics.child_spawned(true);
                        self.add(process, pipes);
                    }
                    Err(err) => {
                        self.metrics.child_spawned(false);
                        let delay = backoff.failed(random_jitter());
                        tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "cannot start a spare child");
                        retry_at = Some(Instant::now() + delay);
                    }
                }
                continue;
            }
            let refill_at = refill_at.filter(|_| mode == Mode::Filling && short);
            let wake_at = [next_expiry, retry_at.max(refill_at)]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                () = self.wake.notified() => {}
                () = sleep_until(wake_at) => {}
                Some(_) = stopping.join_next(), if !stopping.is_empty() => {}
            }
        }
        // Closed: stop every ready spare, all at once, and wait for those already stopping.
        let spares: Vec<Spare> = lock(&self.state).ready.drain(..).collect();
        self.gauge.set(0);
        for spare in spares {
            let grace = self.config.kill_grace;
            let metrics = self.metrics.clone();
            stopping.spawn(async move { stop(spare, grace, &metrics).await });
        }
        while stopping.join_next().await.is_some() {}
    }

    /// Removes exited spares (counted) and expired ones (returned, to be stopped).
    fn sweep(&self, now: Instant) -> Sweep {
        let mut state = lock(&self.state);
        let mut sweep = Sweep {
            mode: state.mode,
            ready: 0,
            expired: Vec::new(),
            exited_any: false,
            taken_live: std::mem::take(&mut state.taken_live),
            next_expiry: None,
            refill_at: state
                .first_take
                .filter(|_| state.awaiting_answer > 0)
                .map(|taken| taken + self.config.refill_pause),
        };
        let mut kept = VecDeque::with_capacity(state.ready.len());
        for spare in state.ready.drain(..) {
            if let Some(report) = spare.exited() {
                self.count_exited(&spare, report);
                sweep.exited_any = true;
            } else if self
                .config
                .max_age
                .is_some_and(|age| now.duration_since(spare.born) >= age)
            {
                tracing::debug!(
                    pid = spare.process.pid(),
                    "a spare child reached --prespawn-max-age; it is stopped and replaced"
                );
                self.metrics.spare_replaced(SpareReplaced::Expired);
                sweep.expired.push(spare);
            } else {
                kept.push_back(spare);
            }
        }
        state.ready = kept;
        self.gauge.set(gauge_value(state.ready.len()));
        sweep.ready = state.ready.len();
        sweep.next_expiry = self
            .config
            .max_age
            .and_then(|age| state.ready.front().map(|spare| spare.born + age));
        sweep
    }

    /// Adds a freshly started spare, watched.
    fn add(&self, process: ManagedProcess, pipes: ChildPipes) {
        let mut exit = process.exit_watch();
        let wake = self.wake.clone();
        let watch = tokio::spawn(async move {
            let _ = exit.wait_for(Option::is_some).await;
            wake.notify_one();
        });
        tracing::debug!(pid = process.pid(), "spare child started");
        let spare = Spare {
            process,
            pipes,
            born: Instant::now(),
            _watch: AbortOnDrop(watch.abort_handle()),
        };
        let mut state = lock(&self.state);
        state.ready.push_back(spare);
        self.gauge.set(gauge_value(state.ready.len()));
    }
}

/// The `cause` label of `child_exits_total` for an unexpected exit.
fn exit_cause(report: ExitReport) -> &'static str {
    match report {
        ExitReport::Code(_) => "exit_code",
        ExitReport::Signal(_) => "signal",
        ExitReport::Unknown => "unknown",
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn gauge_value(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
impl SparePool {
    /// Pids of the ready spares, oldest first.
    fn pids(&self) -> Vec<u32> {
        lock(&self.state)
            .ready
            .iter()
            .map(|spare| spare.process.pid())
            .collect()
    }

    /// When each ready spare was started, oldest first.
    fn borns(&self) -> Vec<Instant> {
        lock(&self.state)
            .ready
            .iter()
            .map(|spare| spare.born)
            .collect()
    }
}

mod first_answer;
mod spare;
#[cfg(test)]
mod tests;
