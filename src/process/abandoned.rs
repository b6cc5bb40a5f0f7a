//! The reaper of abandoned leaders: children whose watcher task was dropped (its runtime shut
//! down) after their group was SIGKILLed, and that nobody would reap otherwise.
//!
//! One thread, started on first use, waits for each in turn. It keeps the pid in the registry
//! until the reap, so the orphan reaper leaves it alone, and on Linux it reaps under the
//! registry lock after waiting with `WNOWAIT`, so a new child given the same pid right after
//! the reap is never forgotten in its place. Should the thread be unavailable, the pid is
//! untracked at once and left to the orphan reaper (a leader is outside the proxy's group).

use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

use super::registry;

/// The channel to the reaper thread, created with the thread on first use.
static PIDS: Mutex<Option<mpsc::Sender<i32>>> = Mutex::new(None);

/// Name of the thread, as shown in `/proc/<pid>/task/*/comm`.
const THREAD_NAME: &str = "child-reaper";

/// Has the killed leader `pid` (a tracked, unreaped child of ours) reaped in the background.
pub(super) fn reap_later(pid: i32) {
    let mut pids = PIDS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(sender) = pids.as_ref()
        && sender.send(pid).is_ok()
    {
        return;
    }
    let (sender, receiver) = mpsc::channel();
    let started = std::thread::Builder::new()
        .name(THREAD_NAME.to_string())
        .spawn(move || receiver.into_iter().for_each(reap_when_exited));
    if started.is_ok() && sender.send(pid).is_ok() {
        *pids = Some(sender);
        return;
    }
    tracing::warn!(
        pid,
        "cannot start the child reaper thread; leaving the child to the orphan reaper"
    );
    registry::lock().remove(pid);
}

/// Blocks until `pid` has exited, then reaps and untracks it.
fn reap_when_exited(pid: i32) {
    wait_for_exit(pid);
    let mut tracked = registry::lock();
    let mut status = 0;
    // SAFETY: `status` is a writable int; `pid` is our child, reaped by nobody else while it
    // is tracked.
    unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG);
    }
    tracked.remove(pid);
}

/// Blocks until child `pid` has exited, leaving it unreaped.
#[cfg(target_os = "linux")]
fn wait_for_exit(pid: i32) {
    let Ok(id) = libc::id_t::try_from(pid) else {
        return;
    };
    // SAFETY: siginfo_t is a plain C struct for which all zero bytes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t that outlives the call.
    while unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) } == -1 {
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

/// Without a reliable `WNOWAIT`, waiting is reaping; the untracking follows at once.
#[cfg(not(target_os = "linux"))]
fn wait_for_exit(pid: i32) {
    let mut status = 0;
    // SAFETY: `status` is a writable int; `pid` is our child.
    while unsafe { libc::waitpid(pid, &mut status, 0) } == -1 {
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_killed_child_is_reaped_and_untracked() {
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        registry::lock().insert(pid);
        child.kill().unwrap();
        reap_later(pid);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while registry::lock().contains(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "{pid} is still tracked"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Reaped by the thread: nothing is left for the `Child`.
        assert_eq!(
            child.try_wait().unwrap_err().raw_os_error(),
            Some(libc::ECHILD)
        );
    }
}
