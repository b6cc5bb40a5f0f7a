//! The watcher task of one child: notices the leader's exit without reaping it, kills what is
//! left of its process group while the zombie leader still pins the group id, then reaps the
//! leader and publishes how it ended.
//!
//! Noticing an exit without reaping (Linux): a pidfd (`pidfd_open`, Linux 5.3) turns readable
//! once the whole thread group has exited, and is awaited through the runtime's epoll. Where
//! pidfds are refused (older kernels, seccomp filters), `waitid(P_PID, WEXITED | WNOHANG |
//! WNOWAIT)` peeks at the status on every SIGCHLD. Either way the status stays in the kernel for
//! tokio's `Child::try_wait`, which is the only reap.
//!
//! tokio never reaps a child on its own while the `Child` is alive and its `wait` is not
//! polled (its pidfd and SIGCHLD machinery only wake a pending `wait`); it reaps by itself only
//! a dropped `Child`, through its global orphan queue. So the watcher keeps the `Child` and
//! calls `try_wait` only after the sweep. If the task is dropped before that (its runtime shuts
//! down), the group is swept at once and released before the `Child` goes to that queue.
//!
//! Other Unix systems (macOS): no pidfd and no reliable `WNOWAIT`, so the leader is reaped first
//! and the group swept right after. A group id reused within that instant would be hit; the
//! chance is tiny but not zero.

use std::io;
use std::process::ExitStatus;
use std::sync::Arc;

use tokio::process::Child;
use tokio::sync::watch;

use super::exit_report::ExitReport;
use super::group::Group;
use super::registry;

/// Watches `child` (whose pid, and group id, is `pid`) until it ended, then publishes it.
pub(super) async fn watch(
    child: Child,
    pid: i32,
    group: Arc<Group>,
    published: watch::Sender<Option<ExitReport>>,
) {
    let mut child = child;
    // Declared after `child`, so it is dropped first: the sweep happens before tokio gets the
    // `Child` back.
    let mut abandon = Abandon {
        pid,
        group: group.clone(),
        armed: true,
    };
    let peeked = match exited_unreaped(pid).await {
        Ok(()) => sweep_then_reap(&mut child, pid, &group),
        Err(err) => {
            tracing::debug!(pid, error = %err, "cannot watch the child's exit without reaping it; reaping first");
            None
        }
    };
    let status = match peeked {
        Some(status) => status,
        None => {
            let status = child.wait().await;
            let mut leader = group.lock();
            // Too late to be certain the group is still the child's, but the best there is.
            leader.signal(libc::SIGKILL);
            leader.release();
            registry::lock().remove(pid);
            status
        }
    };
    abandon.armed = false;
    let report = status.map_or(ExitReport::Unknown, ExitReport::from_status);
    let _ = published.send(Some(report));
}

/// Kills the group of an exited, unreaped leader, then reaps it. `None` if the leader turns
/// out not to be waitable yet (then the caller waits for it the ordinary way).
fn sweep_then_reap(child: &mut Child, pid: i32, group: &Group) -> Option<io::Result<ExitStatus>> {
    let mut leader = group.lock();
    // The zombie leader keeps the group id allocated: this reaches only its own group.
    leader.signal(libc::SIGKILL);
    let mut tracked = registry::lock();
    let status = match child.try_wait() {
        Ok(Some(status)) => Ok(status),
        Ok(None) => return None,
        Err(err) => Err(err),
    };
    tracked.remove(pid);
    leader.release();
    Some(status)
}

/// Sweeps and releases the group if the watcher is dropped before it reaped the leader.
struct Abandon {
    pid: i32,
    group: Arc<Group>,
    armed: bool,
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if self.armed {
            let mut leader = self.group.lock();
            // The leader is not reaped yet, so the group id is still the child's.
            leader.signal(libc::SIGKILL);
            // The `Child` is dropped next; tokio's orphan queue reaps it whenever it likes.
            leader.release();
            registry::lock().remove(self.pid);
        }
    }
}

/// Waits until the process `pid`, a child of ours, has exited, without reaping it.
#[cfg(target_os = "linux")]
async fn exited_unreaped(pid: i32) -> io::Result<()> {
    match pidfd_open(pid) {
        Ok(pidfd) => {
            use tokio::io::{Interest, unix::AsyncFd};
            // SAFETY: `OwnedFd` owns an open fd and always returns that same fd; it is closed
            // only when the `AsyncFd` (its owner) is dropped.
            let pidfd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE)? };
            // Readable means exited; the guard is dropped without clearing, nothing is read.
            let _ready = pidfd.readable().await?;
            Ok(())
        }
        Err(_) => peek_on_every_sigchld(pid).await,
    }
}

/// Without pidfds or `WNOWAIT`, the exit cannot be seen before the reap.
#[cfg(not(target_os = "linux"))]
async fn exited_unreaped(_pid: i32) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Opens a pidfd for `pid` (always close-on-exec).
#[cfg(target_os = "linux")]
fn pidfd_open(pid: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is shared.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// The pidfd-less fallback: peek after every SIGCHLD.
#[cfg(target_os = "linux")]
async fn peek_on_every_sigchld(pid: i32) -> io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Listening starts before the first peek, so an exit between the two still wakes us.
    let mut sigchld = signal(SignalKind::child())?;
    while !has_exited(pid)? {
        if sigchld.recv().await.is_none() {
            return Err(io::Error::other("the SIGCHLD stream ended"));
        }
    }
    Ok(())
}

/// Whether child `pid` has exited, leaving its status to be collected (`WNOWAIT`).
#[cfg(target_os = "linux")]
fn has_exited(pid: i32) -> io::Result<bool> {
    let id = libc::id_t::try_from(pid).map_err(|_| io::Error::other("negative pid"))?;
    // SAFETY: siginfo_t is a plain C struct for which all zero bytes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        // SAFETY: `info` is a valid, writable siginfo_t that outlives the call.
        if unsafe { libc::waitid(libc::P_PID, id, &mut info, flags) } == 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    // With WNOHANG and no exited child, waitid returns 0 and leaves si_pid zero.
    // SAFETY: waitid filled `info` (or left it zeroed), and si_pid is valid for SIGCHLD info.
    Ok(unsafe { info.si_pid() } != 0)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::time::Duration;

    use super::*;

    fn spawn_std(program: &str, args: &[&str]) -> (std::process::Child, i32) {
        let child = std::process::Command::new(program)
            .args(args)
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        (child, pid)
    }

    #[tokio::test]
    async fn the_pidfd_sees_an_exit_and_leaves_the_status_to_collect() {
        let (mut child, pid) = spawn_std("sh", &["-c", "exit 7"]);
        tokio::time::timeout(Duration::from_secs(5), exited_unreaped(pid))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(7));
    }

    #[tokio::test]
    async fn the_sigchld_fallback_sees_an_exit_and_leaves_the_status_to_collect() {
        let (mut child, pid) = spawn_std("sleep", &["0.05"]);
        assert!(!has_exited(pid).unwrap());
        tokio::time::timeout(Duration::from_secs(5), peek_on_every_sigchld(pid))
            .await
            .unwrap()
            .unwrap();
        assert!(has_exited(pid).unwrap(), "peeking twice must not reap");
        assert!(child.wait().unwrap().success());
    }
}
