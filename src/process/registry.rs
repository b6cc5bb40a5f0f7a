//! The registry of child pids whose exit status belongs to someone else (tokio, through a
//! `ManagedProcess`), so the orphan reaper never takes it.
//!
//! The lock is the point: the spawner holds it from before `fork` until the new pid is
//! recorded, and the watcher holds it while it reaps a leader and forgets its pid. The orphan
//! reaper holds it while it reaps, so it never sees a pid of ours in the window between its
//! birth and its registration, or between its reaping and its removal.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The pids of unreaped leaders the proxy spawned.
static TRACKED: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

/// The locked registry.
pub(super) struct Tracked(MutexGuard<'static, Option<HashSet<i32>>>);

/// Locks the registry, waiting for the holder.
pub(super) fn lock() -> Tracked {
    // Inserting and removing pids cannot leave the set half-updated, so a panic while it was
    // held does not matter.
    Tracked(TRACKED.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Locks the registry if nobody holds it (a spawn in progress holds it for a fork and exec).
#[cfg(target_os = "linux")]
pub(super) fn try_lock() -> Option<Tracked> {
    match TRACKED.try_lock() {
        Ok(guard) => Some(Tracked(guard)),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(Tracked(poisoned.into_inner())),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

impl Tracked {
    /// Records a freshly spawned leader.
    pub(super) fn insert(&mut self, pid: i32) {
        self.0.get_or_insert_with(HashSet::new).insert(pid);
    }

    /// Forgets a leader that was reaped (or handed to tokio's orphan queue).
    pub(super) fn remove(&mut self, pid: i32) {
        if let Some(pids) = self.0.as_mut() {
            pids.remove(&pid);
        }
    }

    /// Whether `pid` is a leader whose status is someone else's to collect.
    #[cfg(target_os = "linux")]
    pub(super) fn contains(&self, pid: i32) -> bool {
        self.0.as_ref().is_some_and(|pids| pids.contains(&pid))
    }
}
