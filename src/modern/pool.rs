//! `ChildPool`: the modern leg's shared children. Each pooled child is an ordinary
//! `SessionSupervisor` (opened through the router, so it is supervised, restarted, counted
//! against `--max-sessions` and drained like any session) whose client is the proxy.
//!
//! Children are grouped in partitions: for a translated (legacy-only) child, by the
//! capabilities the proxy declared in its `initialize` and, with `--modern-partition-header`,
//! by principal, so a child is only ever asked what its callers can answer and principals never
//! share one; passthrough children form one partition. Requests share the children of their
//! partition (multiplexed, least loaded first, up to `--max-inflight` each); a partition grows
//! to `--modern-pool-max` children on demand, and a request waits up to `--modern-lease-wait`
//! for room before it is refused.
//!
//! A child is retired (drained: it finishes what it serves, then ends) after
//! `--modern-recycle-after` requests or `--modern-max-age`; one that ends by itself (restart
//! limit, failed start) is dropped from its partition and replaced on demand.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ractor::ActorRef;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::client_capabilities::partition_key;
use super::listen::ChangeFeed;
use super::pooled_child::{PooledChild, StartError, open_pooled};
use crate::config::ModernConfig;
use crate::index::SessionIndex;
use crate::protocol::{RouterMsg, SessionKind, SessionMsg};
use crate::session_id::SessionId;

/// A failed start is retried on demand no sooner than this: a command that cannot start must
/// not be spawned once per request.
const RETRY_START_AFTER: Duration = Duration::from_secs(1);
/// How often idle children are looked for.
const REAP_PERIOD: Duration = Duration::from_secs(10);

/// The shared children of one era.
#[derive(Clone)]
pub struct ChildPool(Arc<PoolShared>);

struct PoolShared {
    kind: SessionKind,
    router: ActorRef<RouterMsg>,
    index: Arc<SessionIndex>,
    config: ModernConfig,
    /// Requests one child takes at once (`--max-inflight`, a session's own limit).
    max_inflight: usize,
    partitions: Mutex<HashMap<String, Partition>>,
    /// Woken when a lease ends or a child is ready or failed to start.
    changed: Notify,
    /// The first `InitializeResult` of a translated child: `server/discover` and the
    /// `serverInfo` of results are built from it.
    initialized: watch::Sender<Option<Arc<Value>>>,
    /// Where the children's change notifications go (translated children: listen streams).
    changes: Option<ChangeFeed>,
}

/// One partition's children.
struct Partition {
    /// What the proxy declares to a translated child of this partition.
    capabilities: Value,
    children: Vec<Arc<PooledChild>>,
    /// Children being started.
    starting: usize,
    /// The last failed start: its cause, and when.
    failed: Option<(String, Instant)>,
}

/// Why no child could be leased.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Every child is busy and the partition is at `--modern-pool-max`.
    #[error(
        "every pooled MCP server child is busy (--modern-pool-max, --max-inflight); retry shortly"
    )]
    Exhausted,
    /// The command cannot be started (or refused the proxy's `initialize`).
    #[error("the MCP server cannot be started: {0}")]
    Unavailable(String),
}

/// A request's hold on a pooled child: released (and waiters woken) when dropped.
pub struct Lease {
    child: Arc<PooledChild>,
    pool: ChildPool,
}

impl Lease {
    pub fn child(&self) -> &PooledChild {
        &self.child
    }

    /// The leased child, to address after the lease ends (the listener child of listens).
    pub fn shared(&self) -> Arc<PooledChild> {
        self.child.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.child.inflight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.child.mark_idle();
        }
        self.pool.0.changed.notify_waiters();
    }
}

impl ChildPool {
    pub fn new(
        kind: SessionKind,
        router: ActorRef<RouterMsg>,
        index: Arc<SessionIndex>,
        config: ModernConfig,
        max_inflight: usize,
        changes: Option<ChangeFeed>,
    ) -> ChildPool {
        let pool = ChildPool(Arc::new(PoolShared {
            kind,
            router,
            index,
            config,
            max_inflight: max_inflight.max(1),
            partitions: Mutex::new(HashMap::new()),
            changed: Notify::new(),
            initialized: watch::Sender::new(None),
            changes,
        }));
        pool.reap_idle_children();
        pool
    }

    /// Retires, every [`REAP_PERIOD`], children idle for `--modern-idle-timeout` beyond the
    /// warm partition's `--modern-pool-min`: a burst grows a partition to
    /// `--modern-pool-max`, and the quiet that follows gives the processes back. The task
    /// holds the pool weakly and ends with it.
    fn reap_idle_children(&self) {
        let Some(idle) = self.0.config.idle_timeout else {
            return;
        };
        let weak = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(REAP_PERIOD.min(idle));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                let pool = ChildPool(shared);
                let warm = partition_key(&Value::Object(Default::default()));
                let mut partitions = pool.partitions();
                for (key, partition) in partitions.iter_mut() {
                    let floor = if *key == warm {
                        pool.0.config.pool_min
                    } else {
                        0
                    };
                    pool.tidy(partition);
                    partition.retire_idle(idle, floor);
                }
            }
        });
    }

    pub fn kind(&self) -> SessionKind {
        self.0.kind
    }

    /// Leases the least loaded child of partition `key` (created with `capabilities` if new),
    /// starting one if the partition has room, waiting up to `--modern-lease-wait`. An
    /// `exclusive` lease takes a child with nothing else in flight and holds it alone: a
    /// legacy child's server→client request can then only belong to this lease's request.
    pub async fn lease(
        &self,
        key: &str,
        capabilities: &Value,
        exclusive: bool,
    ) -> Result<Lease, LeaseError> {
        let room = if exclusive { 1 } else { self.0.max_inflight };
        let deadline = Instant::now() + self.0.config.lease_wait;
        let mut seen_failure: Option<Instant> = None;
        loop {
            let changed = self.0.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut partitions = self.partitions();
                let partition = partitions
                    .entry(key.to_owned())
                    .or_insert_with(|| Partition::new(capabilities.clone()));
                self.tidy(partition);
                if let Some(child) = partition.least_loaded(room) {
                    child.inflight.fetch_add(1, Ordering::Relaxed);
                    child.served.fetch_add(1, Ordering::Relaxed);
                    return Ok(Lease {
                        child,
                        pool: self.clone(),
                    });
                }
                if let Some((cause, at)) = &partition.failed
                    && partition.children.is_empty()
                    && partition.starting == 0
                {
                    // Only a failure seen after this request began waiting refuses it: an old
                    // one is retried below, once `RETRY_START_AFTER` has passed.
                    if seen_failure.is_some_and(|seen| seen < *at)
                        || at.elapsed() < RETRY_START_AFTER
                    {
                        return Err(LeaseError::Unavailable(cause.clone()));
                    }
                    seen_failure = Some(*at);
                }
                // One start at a time per partition: a waiter woken by another partition's
                // news must not start a second child while the first is on its way.
                if partition.starting == 0 && partition.children.len() < self.0.config.pool_max {
                    partition.starting += 1;
                    self.start(key.to_owned(), partition.capabilities.clone());
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Err(LeaseError::Exhausted);
            }
        }
    }

    /// Leases the child of pooled session `id`, wherever it is (a retry that must return to the
    /// child holding its state); `None` if that child is gone or retired.
    pub fn lease_child(&self, id: &SessionId) -> Option<Lease> {
        let partitions = self.partitions();
        let child = partitions
            .values()
            .flat_map(|partition| partition.children.iter())
            .find(|child| child.id == *id && child.entry.is_open())?
            .clone();
        child.inflight.fetch_add(1, Ordering::Relaxed);
        child.served.fetch_add(1, Ordering::Relaxed);
        Some(Lease {
            child,
            pool: self.clone(),
        })
    }

    /// Starts children of partition `key` until it has `count` (used for warm-up and to keep
    /// `--modern-pool-min` children ready).
    pub fn keep_warm(&self, key: &str, capabilities: &Value, count: usize) {
        let mut partitions = self.partitions();
        let partition = partitions
            .entry(key.to_owned())
            .or_insert_with(|| Partition::new(capabilities.clone()));
        self.tidy(partition);
        let retry_allowed = partition
            .failed
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() >= RETRY_START_AFTER);
        while retry_allowed && partition.children.len() + partition.starting < count {
            partition.starting += 1;
            self.start(key.to_owned(), partition.capabilities.clone());
        }
    }

    /// The first `InitializeResult` a translated child gave, waiting up to `wait` for one.
    pub async fn initialize_result(&self, wait: Duration) -> Option<Arc<Value>> {
        let mut seen = self.0.initialized.subscribe();
        tokio::time::timeout(wait, seen.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|result| result.ok().and_then(|value| value.clone()))
    }

    fn partitions(&self) -> MutexGuard<'_, HashMap<String, Partition>> {
        // A poisoned lock means a panic while holding it; the map is still consistent,
        // because every critical section only pushes, removes or counts.
        self.0
            .partitions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops children that ended and retires those past their request count or age.
    fn tidy(&self, partition: &mut Partition) {
        let config = &self.0.config;
        partition.children.retain(|child| {
            if !child.entry.is_open() {
                tracing::info!(parent: &child.span, "a pooled MCP server session ended; it is replaced on demand");
                return false;
            }
            let worn = config
                .recycle_after
                .is_some_and(|limit| child.served.load(Ordering::Relaxed) >= limit);
            let old = config.max_age.is_some_and(|age| child.born.elapsed() >= age);
            if worn || old {
                tracing::info!(parent: &child.span, served = child.served.load(Ordering::Relaxed), age_s = child.born.elapsed().as_secs(), "retiring a pooled MCP server child (--modern-recycle-after, --modern-max-age): it ends once its requests are answered");
                let _ = child.entry.actor.cast(SessionMsg::Drain);
                return false;
            }
            true
        });
    }

    /// Starts one child of partition `key` in the background.
    fn start(&self, key: String, capabilities: Value) {
        let pool = self.clone();
        tokio::spawn(async move {
            let started = open_pooled(
                pool.0.kind,
                &pool.0.router,
                &pool.0.index,
                &capabilities,
                pool.0.changes.clone(),
                pool.0.config.roots.clone().into(),
            )
            .await;
            pool.finish_start(&key, started);
        });
    }

    fn finish_start(&self, key: &str, started: Result<PooledChild, StartError>) {
        let mut partitions = self.partitions();
        let Some(partition) = partitions.get_mut(key) else {
            return;
        };
        partition.starting = partition.starting.saturating_sub(1);
        match started {
            Ok(child) => {
                if let Some(result) = &child.initialize_result {
                    self.0.initialized.send_if_modified(|first| {
                        first
                            .is_none()
                            .then(|| *first = Some(result.clone()))
                            .is_some()
                    });
                }
                partition.failed = None;
                partition.children.push(Arc::new(child));
            }
            Err(err) => {
                tracing::error!(error = %err, kind = self.0.kind.label(), "cannot start a pooled MCP server child for modern clients; check the command and its stderr");
                partition.failed = Some((err.to_string(), Instant::now()));
            }
        }
        drop(partitions);
        self.0.changed.notify_waiters();
    }
}

impl Partition {
    fn new(capabilities: Value) -> Partition {
        Partition {
            capabilities,
            children: Vec::new(),
            starting: 0,
            failed: None,
        }
    }

    /// Retires children idle for `idle` or longer, newest first, keeping at least `floor`.
    fn retire_idle(&mut self, idle: Duration, floor: usize) {
        let mut keep = self.children.len();
        self.children.retain(|child| {
            let retire = keep > floor
                && child.inflight.load(Ordering::Relaxed) == 0
                && child.idle_for() >= idle;
            if retire {
                keep -= 1;
                tracing::info!(parent: &child.span, idle_s = child.idle_for().as_secs(), "retiring an idle pooled MCP server child (--modern-idle-timeout)");
                let _ = child.entry.actor.cast(SessionMsg::Drain);
            }
            !retire
        });
    }

    /// The open child with the fewest requests in flight, if one has room.
    fn least_loaded(&self, max_inflight: usize) -> Option<Arc<PooledChild>> {
        self.children
            .iter()
            .filter(|child| child.inflight.load(Ordering::Relaxed) < max_inflight)
            .min_by_key(|child| child.inflight.load(Ordering::Relaxed))
            .cloned()
    }
}
