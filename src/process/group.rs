//! `Group`: the right to signal a child's process group, which lasts exactly as long as the
//! group's leader is not reaped.
//!
//! A process group id is the pid of its leader. While the leader is alive, or a zombie nobody
//! has reaped yet, the kernel keeps that pid allocated, so `killpg` can only reach the child's
//! own group. Once the leader is reaped the id is free and can be handed to an unrelated new
//! group (another session's child, after a pid wrap), so every signal is sent under a lock
//! that the watcher also takes to reap the leader: a signal either happens before the reap
//! or not at all.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// A child's process group and whether it may still be signalled.
#[derive(Debug)]
pub(super) struct Group {
    state: Mutex<Leader>,
}

/// What the lock guards: the group id and whether its leader is still ours.
#[derive(Debug)]
pub(super) struct Leader {
    /// The process group id (the leader's pid).
    pgid: i32,
    /// Set when the leader was reaped, or handed to tokio's orphan queue, which may reap it at
    /// any moment: from then on the group id may belong to someone else.
    released: bool,
}

impl Group {
    /// The group led by `pgid`, which must be an unreaped child of ours.
    pub(super) fn new(pgid: i32) -> Group {
        Group {
            state: Mutex::new(Leader {
                pgid,
                released: false,
            }),
        }
    }

    /// Locks the group: while the guard lives, the leader cannot be reaped by the watcher.
    pub(super) fn lock(&self) -> MutexGuard<'_, Leader> {
        // Every critical section leaves the two fields consistent, so a panic elsewhere
        // cannot have corrupted them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Leader {
    /// Sends `signal` to every process of the group, unless the leader was released. Returns
    /// whether the signal was sent.
    pub(super) fn signal(&self, signal: libc::c_int) -> bool {
        if self.released {
            return false;
        }
        send_to_group(self.pgid, signal);
        true
    }

    /// Records that the leader was reaped (or given up): no signal is sent after this.
    pub(super) fn release(&mut self) {
        self.released = true;
    }

    /// Whether the leader was released.
    #[cfg(test)]
    pub(super) fn released(&self) -> bool {
        self.released
    }
}

/// Sends `signal` to every process in group `pgid`; a group that no longer exists is fine.
pub(super) fn send_to_group(pgid: i32, signal: libc::c_int) {
    if pgid <= 1 {
        // Never signal our own group or init by accident (pgid 0 means "my group").
        return;
    }
    // SAFETY: killpg has no memory-safety preconditions; ESRCH (no such group) is expected.
    unsafe {
        libc::killpg(pgid, signal);
    }
}
