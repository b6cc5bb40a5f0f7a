//! `SessionIndex`: the concurrent map from session id to the session's actor, read by every
//! HTTP handler and written only by the `SessionRouter`.
//!
//! Handlers clone the `ActorRef` out and never hold a map guard across an `.await`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use ractor::ActorRef;
use tokio::sync::watch;

use crate::mailbox::MailboxBound;
use crate::session::SessionMsg;

/// A session id: at least 128 bits from the OS CSPRNG, as lowercase hex (visible ASCII).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

impl SessionId {
    /// Mints a fresh id from the OS random source.
    pub fn mint() -> Result<SessionId, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        let mut text = String::with_capacity(32);
        for byte in bytes {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Ok(SessionId(Arc::from(text)))
    }

    /// Wraps an id received from a client (only ever used as a lookup key).
    pub fn from_header(text: &str) -> SessionId {
        SessionId(Arc::from(text))
    }

    /// The id as sent in `Mcp-Session-Id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What the index holds for one live session.
#[derive(Clone)]
pub struct SessionEntry {
    /// The session's supervisor, addressed directly by handlers (the hot path).
    pub actor: ActorRef<SessionMsg>,
    /// The bound of the session's mailbox: handlers reserve room before they send.
    pub inbox: MailboxBound,
    /// Live state the session publishes for metrics and `/sessions`.
    pub stats: Arc<SessionStats>,
}

/// The lifecycle state of a session, as shown in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPhase {
    /// Waiting for the child to answer the client's initialize.
    Starting = 0,
    /// Messages flow.
    Ready = 1,
    /// The child crashed and is being restarted.
    Restarting = 2,
    /// Shutdown: finishing requests in flight.
    Draining = 3,
}

impl SessionPhase {
    /// Every phase, in label order.
    pub const ALL: [SessionPhase; 4] = [
        SessionPhase::Starting,
        SessionPhase::Ready,
        SessionPhase::Restarting,
        SessionPhase::Draining,
    ];

    /// The `state` label.
    pub fn label(self) -> &'static str {
        match self {
            SessionPhase::Starting => "starting",
            SessionPhase::Ready => "ready",
            SessionPhase::Restarting => "restarting",
            SessionPhase::Draining => "draining",
        }
    }
}

/// Numbers a session publishes after each message it handles (relaxed atomics: a scrape sees
/// a recent value, never a torn one), read by metrics and `/sessions` without asking the actor.
#[derive(Debug)]
pub struct SessionStats {
    /// `SessionPhase` as a number.
    phase: AtomicU8,
    /// Pid of the current child (0 when none).
    child_pid: AtomicU32,
    /// Generation of the current child.
    generation: AtomicU64,
    /// Restarts so far.
    restarts: AtomicU64,
    /// Requests in flight on the child (plus those held during a restart).
    inflight: AtomicUsize,
    /// Whether the client's GET stream is open.
    standalone_open: AtomicBool,
    /// When the session was opened.
    created: std::time::Instant,
    /// Milliseconds after `created` of the last message in either direction.
    last_activity_ms: AtomicU64,
    /// Bound of the current child's stdin queue, for its mailbox depth.
    child_stdin: std::sync::Mutex<Option<MailboxBound>>,
}

impl Default for SessionStats {
    fn default() -> SessionStats {
        SessionStats {
            phase: AtomicU8::new(SessionPhase::Starting as u8),
            child_pid: AtomicU32::new(0),
            generation: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            inflight: AtomicUsize::new(0),
            standalone_open: AtomicBool::new(false),
            created: std::time::Instant::now(),
            last_activity_ms: AtomicU64::new(0),
            child_stdin: std::sync::Mutex::new(None),
        }
    }
}

impl SessionStats {
    /// Publishes the session's current phase, load and activity.
    pub fn publish(&self, phase: SessionPhase, inflight: usize, standalone_open: bool) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.inflight.store(inflight, Ordering::Relaxed);
        self.standalone_open
            .store(standalone_open, Ordering::Relaxed);
        let since = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_activity_ms.store(since, Ordering::Relaxed);
    }

    /// Publishes a new child.
    pub fn child_started(&self, pid: u32, generation: u64, stdin: MailboxBound) {
        self.child_pid.store(pid, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Relaxed);
        if let Ok(mut slot) = self.child_stdin.lock() {
            *slot = Some(stdin);
        }
    }

    /// Publishes that the child is gone.
    pub fn child_gone(&self) {
        self.child_pid.store(0, Ordering::Relaxed);
        if let Ok(mut slot) = self.child_stdin.lock() {
            *slot = None;
        }
    }

    /// Counts a restart.
    pub fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// The published phase.
    pub fn phase(&self) -> SessionPhase {
        let raw = self.phase.load(Ordering::Relaxed);
        SessionPhase::ALL
            .into_iter()
            .find(|phase| *phase as u8 == raw)
            .unwrap_or(SessionPhase::Starting)
    }

    /// Requests in flight.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }

    /// Whether the GET stream is open.
    pub fn standalone_open(&self) -> bool {
        self.standalone_open.load(Ordering::Relaxed)
    }

    /// Current child pid (0 when none).
    pub fn child_pid(&self) -> u32 {
        self.child_pid.load(Ordering::Relaxed)
    }

    /// Current child generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Age of the session.
    pub fn age(&self) -> std::time::Duration {
        self.created.elapsed()
    }

    /// Time since the last message.
    pub fn idle(&self) -> std::time::Duration {
        let last = std::time::Duration::from_millis(self.last_activity_ms.load(Ordering::Relaxed));
        self.created.elapsed().saturating_sub(last)
    }

    /// Depth of the current child's stdin queue.
    pub fn child_mailbox_depth(&self) -> usize {
        self.child_stdin
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(MailboxBound::depth))
            .unwrap_or(0)
    }
}

/// All live sessions by id.
pub struct SessionIndex {
    /// Sharded map: lookups from many handler tasks never contend on one lock.
    sessions: DashMap<SessionId, SessionEntry>,
    /// Number of live sessions, watched by the shutdown drain.
    count: watch::Sender<usize>,
}

impl Default for SessionIndex {
    fn default() -> SessionIndex {
        SessionIndex {
            sessions: DashMap::new(),
            count: watch::Sender::new(0),
        }
    }
}

impl SessionIndex {
    /// Looks a session up, cloning its entry out of the map.
    pub fn get(&self, id: &SessionId) -> Option<SessionEntry> {
        self.sessions.get(id).map(|entry| entry.clone())
    }

    /// Completes when no session is left.
    pub async fn wait_empty(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|&n| n == 0).await;
    }

    /// Every live entry (for metrics and inspection).
    pub fn entries(&self) -> Vec<(SessionId, SessionEntry)> {
        self.sessions
            .iter()
            .map(|entry| (entry.key().clone(), entry.value().clone()))
            .collect()
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are no live sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Adds a session (router only).
    pub(crate) fn insert(&self, id: SessionId, entry: SessionEntry) {
        self.sessions.insert(id, entry);
        self.count.send_replace(self.sessions.len());
    }

    /// Removes a session (router only), returning its actor if it was there.
    pub(crate) fn remove(&self, id: &SessionId) -> Option<ActorRef<SessionMsg>> {
        let removed = self.sessions.remove(id).map(|(_, entry)| entry.actor);
        self.count.send_replace(self.sessions.len());
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_128_bit_hex_and_distinct() {
        let a = SessionId::mint().unwrap();
        let b = SessionId::mint().unwrap();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
