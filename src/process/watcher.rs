//! The watcher task of one child: notices the leader's exit without reaping it, kills what is
//! left of its process group while the zombie leader still pins the group id, then reaps the
//! leader and publishes how it ended.
//!
//! Noticing an exit without reaping (Linux): the pidfd the spawn got from `clone`
//! (`CLONE_PIDFD`, or `pidfd_open` on a kernel that ignored the flag) turns readable once the
//! whole thread group has exited, and is awaited through the runtime's epoll. Where pidfds are
//! refused (older kernels, seccomp filters), `waitid(P_PID, WEXITED | WNOHANG | WNOWAIT)` peeks
//! at the status on every SIGCHLD (or, without a signal driver, every `POLL_PERIOD`). Either way
//! the status stays in the kernel until the watcher's own `waitpid`, the only reap, which it
//! makes after the sweep and under the registry lock.
//!
//! If the task is dropped before it reaped (its runtime shuts down), the group is swept at once
//! and released, and the leader goes to the [`abandoned`] reaper thread.
//!
//! Other Unix systems (macOS): no pidfd and no reliable `WNOWAIT`, so the leader is reaped first
//! and the group swept right after. A group id reused within that instant would be hit; the
//! chance is tiny but not zero.

use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::exit_report::ExitReport;
use super::group::Group;
use super::{abandoned, registry};

/// How often a child's exit is polled for when neither a pidfd nor SIGCHLD can announce it.
const POLL_PERIOD: Duration = Duration::from_millis(50);

/// Watches the child `pid` (also its group id) until it ended, then publishes how. `pidfd`
/// refers to it, if the spawn got one.
pub(super) async fn watch(
    pid: i32,
    pidfd: Option<OwnedFd>,
    group: Arc<Group>,
    published: watch::Sender<Option<ExitReport>>,
) {
    let mut abandon = Abandon {
        pid,
        group: group.clone(),
        armed: true,
    };
    let status = wait_and_reap(pid, pidfd, &group).await;
    abandon.armed = false;
    let report = status.map_or(ExitReport::Unknown, ExitReport::from_status);
    let _ = published.send(Some(report));
}

/// Waits for the exit without reaping, sweeps the group, then reaps.
#[cfg(target_os = "linux")]
async fn wait_and_reap(pid: i32, pidfd: Option<OwnedFd>, group: &Group) -> io::Result<ExitStatus> {
    exited_unreaped(pid, pidfd).await;
    loop {
        if let Some(status) = sweep_then_reap(pid, group) {
            return status;
        }
        // Seen as exited but not yet waitable: cannot last.
        tokio::time::sleep(POLL_PERIOD).await;
    }
}

/// Other Unix systems: the exit cannot be seen before the reap, so reap first, sweep after.
#[cfg(not(target_os = "linux"))]
async fn wait_and_reap(pid: i32, _pidfd: Option<OwnedFd>, group: &Group) -> io::Result<ExitStatus> {
    use tokio::signal::unix::{SignalKind, signal};
    // Listening starts before the first try, so an exit between the two still wakes us.
    let mut sigchld = signal(SignalKind::child()).ok();
    loop {
        if let Some(status) = reap_then_sweep(pid, group) {
            return status;
        }
        match sigchld.as_mut() {
            Some(stream) => {
                if stream.recv().await.is_none() {
                    sigchld = None;
                }
            }
            None => tokio::time::sleep(POLL_PERIOD).await,
        }
    }
}

/// Kills the group of an exited, unreaped leader, then reaps it. `None` if the leader turns
/// out not to be waitable yet.
#[cfg(target_os = "linux")]
fn sweep_then_reap(pid: i32, group: &Group) -> Option<io::Result<ExitStatus>> {
    let mut leader = group.lock();
    // The zombie leader keeps the group id allocated: this reaches only its own group.
    leader.signal(libc::SIGKILL);
    // Reaping and forgetting the pid happen under the registry lock, so the orphan reaper
    // never sees the pid of ours untracked, and a new child given the same pid right after
    // the reap is not forgotten in its place.
    let mut tracked = registry::lock();
    let status = reap(pid).transpose()?;
    tracked.remove(pid);
    leader.release();
    Some(status)
}

/// Reaps the leader if it has exited, then kills the rest of its group: too late to be
/// certain the group id is still the child's, but the best there is without `WNOWAIT`.
#[cfg(not(target_os = "linux"))]
fn reap_then_sweep(pid: i32, group: &Group) -> Option<io::Result<ExitStatus>> {
    let mut leader = group.lock();
    let mut tracked = registry::lock();
    let status = reap(pid).transpose()?;
    leader.signal(libc::SIGKILL);
    tracked.remove(pid);
    leader.release();
    Some(status)
}

/// Reaps child `pid` if it has exited (`None` if it has not).
fn reap(pid: i32) -> io::Result<Option<ExitStatus>> {
    use std::os::unix::process::ExitStatusExt;
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid, writable int that outlives the call.
        match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
            0 => return Ok(None),
            -1 => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
            _ => return Ok(Some(ExitStatus::from_raw(status))),
        }
    }
}

/// Sweeps and releases the group if the watcher is dropped before it reaped the leader (its
/// runtime shut down); the leader is then reaped by [`abandoned`].
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
            leader.release();
            abandoned::reap_later(self.pid);
        }
    }
}

/// Waits until the process `pid`, a child of ours, has exited, without reaping it: through
/// `pidfd` (or one opened now), else on every SIGCHLD, else by polling.
#[cfg(target_os = "linux")]
async fn exited_unreaped(pid: i32, pidfd: Option<OwnedFd>) {
    let pidfd = match pidfd {
        Some(pidfd) => Ok(pidfd),
        None => pidfd_open(pid),
    };
    let outcome = match pidfd {
        Ok(pidfd) => exited_per_pidfd(pidfd).await,
        Err(err) => Err(err),
    };
    let Err(err) = outcome else {
        return;
    };
    tracing::debug!(pid, error = %err, "cannot watch the child's exit through a pidfd; waiting for SIGCHLD");
    let Err(err) = peek_on_every_sigchld(pid).await else {
        return;
    };
    tracing::debug!(pid, error = %err, "cannot watch the child's exit on SIGCHLD; polling");
    while !has_exited(pid).unwrap_or(true) {
        tokio::time::sleep(POLL_PERIOD).await;
    }
}

/// Waits until `pidfd` turns readable: its process has exited.
#[cfg(target_os = "linux")]
async fn exited_per_pidfd(pidfd: OwnedFd) -> io::Result<()> {
    use tokio::io::{Interest, unix::AsyncFd};
    // SAFETY: `OwnedFd` owns an open fd and always returns that same fd; it is closed only
    // when the `AsyncFd` (its owner) is dropped.
    let pidfd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE)? };
    // Readable means exited; the guard is dropped without clearing, nothing is read.
    let _ready = pidfd.readable().await?;
    Ok(())
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
        tokio::time::timeout(Duration::from_secs(5), exited_unreaped(pid, None))
            .await
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
