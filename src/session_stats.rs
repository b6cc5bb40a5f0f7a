//! `SessionStats`: what a session publishes about itself for metrics, `/sessions` and the HTTP
//! handlers, as relaxed atomics (a reader sees a recent value, never a torn one) so nobody has
//! to ask the actor. The `closing` flag is the one the handlers act on: set the moment a
//! session starts to end, it turns every request naming the session into a 404.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::close_reason::CloseReason;

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

/// Numbers a session publishes after each message it handles.
#[derive(Debug)]
pub struct SessionStats {
    phase: AtomicU8,
    /// 0 when the session has no child.
    child_pid: AtomicU32,
    generation: AtomicU64,
    restarts: AtomicU64,
    /// Requests in flight on the child plus those held during a restart.
    inflight: AtomicUsize,
    standalone_open: AtomicBool,
    /// 0 while open, else the [`CloseReason::code`] it ends for.
    closing: AtomicU8,
    created: std::time::Instant,
    /// Milliseconds after `created` of the client's last message: idleness is what the
    /// client does, never what the server sends.
    last_client_activity_ms: AtomicU64,
    /// Frames waiting for the current child's stdin, shared with its writer task.
    child_queue: std::sync::Mutex<Option<Arc<AtomicUsize>>>,
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
            closing: AtomicU8::new(0),
            created: std::time::Instant::now(),
            last_client_activity_ms: AtomicU64::new(0),
            child_queue: std::sync::Mutex::new(None),
        }
    }
}

impl SessionStats {
    /// Publishes the session's current phase and load.
    pub fn publish(&self, phase: SessionPhase, inflight: usize, standalone_open: bool) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.inflight.store(inflight, Ordering::Relaxed);
        self.standalone_open
            .store(standalone_open, Ordering::Relaxed);
    }

    /// Records that the client just sent something.
    pub fn client_active(&self, at: tokio::time::Instant) {
        let since = at.into_std().saturating_duration_since(self.created);
        let ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
        self.last_client_activity_ms.store(ms, Ordering::Relaxed);
    }

    /// Marks the session as ending for `reason` (the first reason wins): from now on it is
    /// unreachable.
    pub fn mark_closing(&self, reason: CloseReason) {
        let _ =
            self.closing
                .compare_exchange(0, reason.code(), Ordering::AcqRel, Ordering::Acquire);
    }

    /// Whether the session has started to end.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire) != 0
    }

    /// Why the session ends, once it does.
    pub fn close_reason(&self) -> Option<CloseReason> {
        CloseReason::from_code(self.closing.load(Ordering::Acquire))
    }

    /// Publishes a new child and the depth counter of its stdin queue.
    pub fn child_started(&self, pid: u32, generation: u64, queue: Arc<AtomicUsize>) {
        self.child_pid.store(pid, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Relaxed);
        if let Ok(mut slot) = self.child_queue.lock() {
            *slot = Some(queue);
        }
    }

    /// Publishes that the child is gone.
    pub fn child_gone(&self) {
        self.child_pid.store(0, Ordering::Relaxed);
        if let Ok(mut slot) = self.child_queue.lock() {
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

    /// Time since the client's last message.
    pub fn idle(&self) -> std::time::Duration {
        let last = self.last_client_activity_ms.load(Ordering::Relaxed);
        self.created
            .elapsed()
            .saturating_sub(std::time::Duration::from_millis(last))
    }

    /// Frames waiting for the current child's stdin.
    pub fn child_queue_depth(&self) -> usize {
        self.child_queue
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(|depth| depth.load(Ordering::Relaxed)))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn idle_time_counts_from_the_clients_last_message() {
        let stats = SessionStats::default();
        stats.client_active(tokio::time::Instant::now());
        assert!(stats.idle() < Duration::from_secs(1));
        assert!(!stats.is_closing());
        stats.mark_closing(CloseReason::Idle);
        stats.mark_closing(CloseReason::Deleted);
        assert!(stats.is_closing());
        assert_eq!(stats.close_reason(), Some(CloseReason::Idle));
    }
}
