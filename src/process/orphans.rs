//! Orphan reaping: the proxy adopts what its children leave behind and reaps it.
//!
//! [`become_subreaper`] makes the proxy a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`): a
//! process whose parent dies is re-parented to the proxy instead of init. A child's grandchild
//! killed with its group (`npx → node`, `uvx → python`, `sh -c`), or a helper that daemonized
//! itself, then becomes the proxy's zombie. When the proxy is PID 1 in a container this happens
//! with or without the flag. [`start_orphan_reaper`] runs a task that reaps such zombies.
//!
//! It must not steal an exit status someone else waits for, so there is no `waitpid(-1)`. On
//! every SIGCHLD, and every `SWEEP_PERIOD` as a backstop, it lists our zombie children (from
//! `/proc/self/task/*/children`, or a scan of `/proc` where that file is missing) and reaps with
//! `waitpid(pid, WNOHANG)` only those that are
//! - not a leader spawned by a `ManagedProcess` (the registry; its watcher reaps it), and
//! - not in the proxy's own process group: a child spawned by other code (`std::process`,
//!   tokio) without a group of its own waits for itself. An orphan is always in the group of
//!   the child it came from, or in a group of its own.
//!
//! Limits: Linux only (elsewhere both functions do nothing). A child spawned by other code with
//! a group of its own (`process_group(0)`) would be taken for an orphan; the proxy has none.
//! The reaper task lives on the runtime that started it and ends with it; calling
//! [`start_orphan_reaper`] again from another runtime starts a new one.

/// How often the reaper looks for zombies without being woken by a SIGCHLD.
#[cfg(target_os = "linux")]
const SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(10);

/// How long the reaper waits before retrying when a spawn holds the registry.
#[cfg(target_os = "linux")]
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// Makes the proxy a child subreaper: orphaned descendants are re-parented to it, not to init.
/// Pair it with [`start_orphan_reaper`], or the adopted orphans stay zombies.
#[cfg(target_os = "linux")]
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer and touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Other Unix systems have no subreaper; orphans go to init (or launchd) as usual.
#[cfg(not(target_os = "linux"))]
pub fn become_subreaper() -> std::io::Result<()> {
    Ok(())
}

/// Starts the orphan reaper on the current runtime, unless one is running. Without a runtime
/// it logs a warning and does nothing.
#[cfg(target_os = "linux")]
pub fn start_orphan_reaper() {
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Whether a reaper task is alive; its guard clears it when the task is dropped.
    static RUNNING: AtomicBool = AtomicBool::new(false);
    struct Running;
    impl Drop for Running {
        fn drop(&mut self) {
            RUNNING.store(false, Ordering::SeqCst);
        }
    }

    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("the orphan reaper needs a tokio runtime; orphaned processes stay zombies");
        return;
    };
    if RUNNING.swap(true, Ordering::SeqCst) {
        return;
    }
    let running = Running;
    runtime.spawn(async move {
        let _running = running;
        reap_forever().await;
    });
}

/// Other Unix systems: nothing is re-parented to the proxy, so there is nothing to reap.
#[cfg(not(target_os = "linux"))]
pub fn start_orphan_reaper() {}

/// The reaper task's loop.
#[cfg(target_os = "linux")]
async fn reap_forever() {
    use tokio::signal::unix::{SignalKind, signal};

    let mut sigchld = match signal(SignalKind::child()) {
        Ok(sigchld) => Some(sigchld),
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGCHLD; orphans are reaped every {SWEEP_PERIOD:?}");
            None
        }
    };
    let mut period = tokio::time::interval(SWEEP_PERIOD);
    period.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The first tick is immediate: zombies adopted before the task started are reaped too.
        tokio::select! {
            _ = period.tick() => {}
            Some(()) = async {
                match sigchld.as_mut() {
                    Some(sigchld) => sigchld.recv().await,
                    None => std::future::pending().await,
                }
            } => {}
        }
        loop {
            match reap_orphans() {
                Some(reaped) => {
                    if reaped > 0 {
                        tracing::debug!(reaped, "reaped orphaned processes");
                    }
                    break;
                }
                None => tokio::time::sleep(BUSY_RETRY).await,
            }
        }
    }
}

/// Reaps every zombie orphan now. Returns how many were reaped, or `None` if a spawn holds the
/// registry (try again shortly).
#[cfg(target_os = "linux")]
fn reap_orphans() -> Option<usize> {
    let mut children = children_of_our_threads().unwrap_or_else(every_process);
    // Leaders a `ManagedProcess` tracks are their watchers' to reap: leave them out before
    // reading any stat, or every child's exit would read the stat of every live child
    // (O(sessions) per exit). `reap_listed` checks again under the lock.
    {
        let tracked = super::registry::try_lock()?;
        children.retain(|&pid| !tracked.contains(pid));
    }
    let candidates = zombie_orphans_among(children);
    if candidates.is_empty() {
        return Some(0);
    }
    reap_listed(&candidates)
}

/// Reaps those of `candidates` (zombie children of ours) that no `ManagedProcess` tracks.
#[cfg(target_os = "linux")]
fn reap_listed(candidates: &[i32]) -> Option<usize> {
    let tracked = super::registry::try_lock()?;
    let mut reaped = 0;
    for &pid in candidates {
        // A zombie child of ours keeps its pid until we reap it, so `pid` is still that zombie
        // (unless it is tracked: then it was just spawned or is about to be reaped by its
        // watcher, and is skipped).
        if tracked.contains(pid) {
            continue;
        }
        let mut status = 0;
        // SAFETY: `status` is a valid, writable int; waitpid touches nothing else.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            reaped += 1;
        }
    }
    Some(reaped)
}

/// Our zombie children that look like orphans: outside our own process group.
#[cfg(all(test, target_os = "linux"))]
fn zombie_orphans() -> Vec<i32> {
    zombie_orphans_among(children_of_our_threads().unwrap_or_else(every_process))
}

/// Those of `pids` that are zombie children of ours outside our own process group.
#[cfg(target_os = "linux")]
fn zombie_orphans_among(pids: Vec<i32>) -> Vec<i32> {
    let own_pid = std::process::id();
    // SAFETY: getpgrp has no preconditions and cannot fail.
    let own_group = unsafe { libc::getpgrp() };
    pids.into_iter()
        .filter(|&pid| {
            stat_of(pid).is_some_and(|stat| {
                stat.state == 'Z' && stat.ppid == own_pid && stat.pgrp != own_group
            })
        })
        .collect()
}

/// The children of every thread of ours, from `/proc/self/task/*/children` (kernels built with
/// `CONFIG_PROC_CHILDREN`). `None` if that file is missing.
#[cfg(target_os = "linux")]
fn children_of_our_threads() -> Option<Vec<i32>> {
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        match std::fs::read_to_string(task.path().join("children")) {
            Ok(list) => pids.extend(
                list.split_whitespace()
                    .filter_map(|pid| pid.parse::<i32>().ok()),
            ),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                // A thread that just exited, or a kernel without the file: tell them apart.
                if task.path().exists() {
                    return None;
                }
            }
            Err(_) => {}
        }
    }
    Some(pids)
}

/// Every pid in `/proc`.
#[cfg(target_os = "linux")]
fn every_process() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

/// The fields of `/proc/<pid>/stat` the reaper needs.
#[cfg(target_os = "linux")]
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Stat {
    /// `R`, `S`, `Z`, ...
    state: char,
    /// The parent's pid.
    ppid: u32,
    /// The process group id.
    pgrp: i32,
}

/// Reads `/proc/<pid>/stat`; `None` if the process is gone.
#[cfg(target_os = "linux")]
fn stat_of(pid: i32) -> Option<Stat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is parenthesised and may itself contain ") ", so split at the last one.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, ppid, pgrp })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::time::Duration;

    use super::super::testing::{eventually, first_line, sh};
    use super::super::{ExitReport, ManagedProcess, registry};
    use super::*;

    /// Whether `pid` is a zombie child of ours (not reaped by anyone yet).
    fn our_zombie(pid: i32) -> bool {
        stat_of(pid).is_some_and(|stat| stat.state == 'Z' && stat.ppid == std::process::id())
    }

    /// Spawns `true` with the standard library; `own_group` puts it in a group of its own.
    fn exiting_child(own_group: bool) -> (std::process::Child, i32) {
        let mut command = std::process::Command::new("true");
        if own_group {
            command.process_group(0);
        }
        let child = command.spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        (child, pid)
    }

    #[tokio::test]
    async fn an_orphaned_grandchild_is_reaped() {
        become_subreaper().unwrap();
        // The leader exits at once; the watcher kills the grandchild with the group.
        let (process, mut pipes) = ManagedProcess::spawn(&sh("sleep 1000 & echo $!; exit 0"))
            .await
            .unwrap();
        let grandchild: i32 = first_line(&mut pipes.stdout).await.parse().unwrap();
        let mut exit = process.exit_watch();
        let report = exit.wait_for(Option::is_some).await.unwrap().unwrap();
        assert_eq!(report, ExitReport::Code(0));
        // As a subreaper, the proxy adopted it; nobody reaps it until the reaper runs.
        eventually("the grandchild is our zombie", || our_zombie(grandchild)).await;
        start_orphan_reaper();
        eventually("the grandchild is reaped", || {
            stat_of(grandchild).is_none_or(|stat| stat.ppid != std::process::id())
        })
        .await;
    }

    #[tokio::test]
    async fn a_child_in_our_own_group_is_left_to_its_owner() {
        let (mut child, pid) = exiting_child(false);
        eventually("the child is a zombie", || our_zombie(pid)).await;
        assert!(!zombie_orphans().contains(&pid));
        assert!(child.wait().unwrap().success());
    }

    #[tokio::test]
    async fn a_tracked_leader_is_left_to_its_watcher() {
        let (mut child, pid) = {
            let mut tracked = registry::lock();
            let (child, pid) = exiting_child(true);
            tracked.insert(pid);
            (child, pid)
        };
        eventually("the child is a zombie", || our_zombie(pid)).await;
        assert!(zombie_orphans().contains(&pid));
        // `None` means the registry was busy (a test in this process spawning at that
        // instant): the reaper then skips its turn; wait for a turn that ran.
        let mut turn = reap_listed(&[pid]);
        eventually("a reaping turn gets the registry", || {
            turn = turn.or_else(|| reap_listed(&[pid]));
            turn.is_some()
        })
        .await;
        assert_eq!(turn, Some(0));
        assert!(child.wait().unwrap().success());
        registry::lock().remove(pid);
    }

    #[tokio::test]
    async fn an_untracked_zombie_in_another_group_is_reaped() {
        let (mut child, pid) = exiting_child(true);
        // A reaper task of another test (in a shared test process) may take it first.
        eventually("the child is a zombie", || {
            our_zombie(pid) || stat_of(pid).is_none()
        })
        .await;
        if our_zombie(pid) {
            assert!(zombie_orphans().contains(&pid));
        }
        while reap_listed(&[pid]).is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(stat_of(pid).is_none(), "the orphan was not reaped");
        // Its status is gone: the owner's wait fails, which is why owned pids are skipped.
        assert!(child.wait().is_err());
    }

    #[test]
    fn stat_reads_our_parent_and_group() {
        let stat = stat_of(i32::try_from(std::process::id()).unwrap()).unwrap();
        assert_eq!(stat.ppid, std::os::unix::process::parent_id());
        // SAFETY: getpgrp has no preconditions.
        assert_eq!(stat.pgrp, unsafe { libc::getpgrp() });
    }
}
