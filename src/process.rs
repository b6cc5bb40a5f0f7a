//! The OS side of a child MCP server: spawn it in its own process group, stop it gracefully,
//! and make sure that neither it nor anything it forked outlives its session.
//!
//! - `spawner`: every child is started by one long-lived thread (parent-death signal), on
//!   Linux with `vfork_spawn` (`clone(CLONE_VM | CLONE_VFORK)`: nothing of the proxy is
//!   copied) from an `exec_plan` prepared beforehand, with `stdio_pipes` as its stdio;
//!   elsewhere with `fork_spawn`.
//! - `watcher`: a task per child notices its exit without reaping it, kills the rest of its
//!   process group while the zombie leader pins the group id, then reaps it and publishes an
//!   [`ExitReport`]; an exit is noticed even when a grandchild keeps the child's stdout open.
//!   `abandoned` reaps the leaders of watchers dropped with their runtime.
//! - `group`: every signal to the group goes through the `ManagedProcess`, and none is sent
//!   once the leader was reaped (its group id may then belong to someone else).
//! - `orphans`: the proxy as a child subreaper that reaps orphaned descendants; `registry`
//!   keeps it away from the leaders whose status belongs to their watcher.
//!
//! Stopping is: close stdin, wait `grace`, SIGTERM the whole group, wait `grace`, SIGKILL the
//! group. `Drop` is the safety net for every path that skips the graceful stop.
//!
//! Portability: Linux has it all. Other Unix systems (macOS) have no parent-death signal (a
//! proxy killed with SIGKILL leaves its children running), no subreaper (orphans go to init),
//! and no way to see an exit before the reap, so the group is swept right after it.

mod abandoned;
#[cfg(target_os = "linux")]
mod exec_plan;
mod exit_report;
#[cfg(not(target_os = "linux"))]
mod fork_spawn;
mod group;
mod orphans;
mod registry;
mod spawner;
mod stdio_pipes;
#[cfg(test)]
mod testing;
#[cfg(target_os = "linux")]
mod vfork_spawn;
mod watcher;

use std::sync::Arc;
use std::time::Duration;

use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::watch;

use crate::config::CommandSpec;
pub use exit_report::ExitReport;
use group::Group;
pub use orphans::{become_subreaper, start_orphan_reaper};

/// Why a child could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start `{command}`: {source}")]
pub struct SpawnError {
    /// The command as the user wrote it.
    pub command: String,
    /// What the OS said.
    #[source]
    pub source: std::io::Error,
}

/// The pipes of a freshly spawned child.
#[derive(Debug)]
pub struct ChildPipes {
    /// Where the proxy writes frames.
    pub stdin: ChildStdin,
    /// Where the child writes frames.
    pub stdout: ChildStdout,
    /// Where the child writes logs.
    pub stderr: ChildStderr,
}

/// A running child process that is the leader of its own process group.
#[derive(Debug)]
pub struct ManagedProcess {
    /// How the child ended, published by the watcher task once it swept the group and reaped.
    exit: watch::Receiver<Option<ExitReport>>,
    /// The child's pid, also its process group id.
    pid: u32,
    /// The right to signal the group, shared with the watcher, which revokes it on reaping.
    group: Arc<Group>,
    /// Set once the graceful stop has completed.
    finished: Option<ExitReport>,
}

impl ManagedProcess {
    /// Spawns `spec` directly (no shell) in a new process group, with piped stdio. The child
    /// is started on the spawner thread; the pipes and the exit watcher belong to the caller's
    /// runtime.
    pub async fn spawn(spec: &CommandSpec) -> Result<(ManagedProcess, ChildPipes), SpawnError> {
        spawner::spawn(spec).await
    }

    /// Wraps a freshly spawned child whose watcher is running.
    fn new(pid: i32, group: Arc<Group>, exit: watch::Receiver<Option<ExitReport>>) -> Self {
        ManagedProcess {
            exit,
            pid: pid.unsigned_abs(),
            group,
            finished: None,
        }
    }

    /// A receiver that turns `Some` when the child has exited, its group was swept and it
    /// was reaped.
    pub fn exit_watch(&self) -> watch::Receiver<Option<ExitReport>> {
        self.exit.clone()
    }

    /// Waits until the child has exited.
    async fn exited(&mut self) -> ExitReport {
        match self.exit.wait_for(Option::is_some).await {
            Ok(report) => report.unwrap_or(ExitReport::Unknown),
            // The watcher is gone without a report: nothing left to wait for.
            Err(_) => ExitReport::Unknown,
        }
    }

    /// The child's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGKILLs the whole process group now, unless the leader was already reaped (then its
    /// group was swept and the id may be someone else's). The exit is reported as usual.
    pub fn kill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Sends `signal` to the group if the leader is not reaped yet; returns whether it did.
    fn signal(&self, signal: libc::c_int) -> bool {
        self.group.lock().signal(signal)
    }

    /// Waits for the child to exit by itself (after its stdout closed), up to `grace`, then
    /// escalates like [`ManagedProcess::stop`].
    pub async fn reap(&mut self, grace: Duration) -> ExitReport {
        self.stop(None, grace).await
    }

    /// Graceful stop: close stdin (if still held), wait, SIGTERM the group, wait, SIGKILL it.
    /// Returns how the child ended; the rest of its group was killed before it was reaped.
    pub async fn stop(&mut self, stdin: Option<ChildStdin>, grace: Duration) -> ExitReport {
        if let Some(report) = self.finished {
            return report;
        }
        drop(stdin);
        let report = match tokio::time::timeout(grace, self.exited()).await {
            Ok(report) => report,
            Err(_elapsed) => {
                self.signal(libc::SIGTERM);
                match tokio::time::timeout(grace, self.exited()).await {
                    Ok(report) => report,
                    Err(_elapsed) => {
                        self.signal(libc::SIGKILL);
                        self.exited().await
                    }
                }
            }
        };
        self.finished = Some(report);
        report
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        // Paths that skipped the graceful stop (an aborted actor, a panic): kill the whole
        // group now, unless it is already gone. The watcher task reaps the killed leader.
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{eventually, first_line, killed, sh};
    use super::*;
    use std::path::PathBuf;
    use tokio::io::AsyncWriteExt;

    /// Whether any process of group `pgid` is still running (zombies waiting for their
    /// reaper, the proxy or init, do not count: they hold no resources but a pid).
    fn group_alive(pgid: i32) -> bool {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return false;
        };
        entries.flatten().any(|entry| {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                return false;
            };
            // Fields after the parenthesised command: state, ppid, pgrp, ...
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z"
        })
    }

    async fn wait_until_group_gone(pgid: i32) {
        for _ in 0..500 {
            if !group_alive(pgid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("a member of process group {pgid} is still running");
    }

    #[tokio::test]
    async fn closing_stdin_is_enough_for_a_well_behaved_child() {
        let (mut process, pipes) = ManagedProcess::spawn(&sh("cat >/dev/null; exit 3"))
            .await
            .unwrap();
        let report = process
            .stop(Some(pipes.stdin), Duration::from_secs(5))
            .await;
        assert_eq!(report, ExitReport::Code(3));
    }

    #[tokio::test]
    async fn a_child_ignoring_stdin_and_sigterm_is_killed_with_its_group() {
        let (mut process, pipes) = ManagedProcess::spawn(&sh(
            "trap '' TERM; sleep 1000 & while true; do sleep 1; done",
        ))
        .await
        .unwrap();
        let pgid = process.pid() as i32;
        let report = process
            .stop(Some(pipes.stdin), Duration::from_millis(200))
            .await;
        assert_eq!(report, ExitReport::Signal(libc::SIGKILL));
        wait_until_group_gone(pgid).await;
        // Reaped: the group id may be someone else's now, so nothing may be sent to it.
        assert!(!process.signal(libc::SIGKILL));
    }

    #[tokio::test]
    async fn drop_kills_the_group() {
        let (process, _pipes) = ManagedProcess::spawn(&sh("sleep 1000 & sleep 1000"))
            .await
            .unwrap();
        let pgid = process.pid() as i32;
        drop(process);
        wait_until_group_gone(pgid).await;
    }

    #[tokio::test]
    async fn spawn_error_names_the_command_and_cause() {
        let spec = CommandSpec {
            program: PathBuf::from("/nonexistent/server"),
            args: vec!["--x".into()],
        };
        let err = ManagedProcess::spawn(&spec).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot start `/nonexistent/server --x`: No such file"),
            "{text}"
        );
    }

    /// Writes a line to `cat` and reads it back: the pipes work on the caller's runtime.
    async fn echo_through(pipes: &mut ChildPipes) {
        pipes.stdin.write_all(b"ping\n").await.unwrap();
        assert_eq!(first_line(&mut pipes.stdout).await, "ping");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_outlives_the_blocking_thread_that_asked_for_it() {
        // Blocking threads that idle this long exit: a child forked on one would get its
        // parent-death SIGKILL then.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_keep_alive(Duration::from_millis(20))
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (thread, spawned) = tokio::task::spawn_blocking(|| {
                // SAFETY: gettid has no preconditions.
                let thread = unsafe { libc::gettid() };
                let spawned = tokio::runtime::Handle::current()
                    .block_on(ManagedProcess::spawn(&sh("exec cat")));
                (thread, spawned)
            })
            .await
            .unwrap();
            let (mut process, mut pipes) = spawned.unwrap();
            eventually("the blocking thread has exited", || {
                !std::path::Path::new(&format!("/proc/self/task/{thread}")).exists()
            })
            .await;
            // A SIGKILLed `cat` would answer with EOF or a broken pipe.
            echo_through(&mut pipes).await;
            assert_eq!(*process.exit_watch().borrow(), None, "the child died");
            let spawner_alive = std::fs::read_dir("/proc/self/task")
                .unwrap()
                .flatten()
                .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
                .any(|comm| comm.trim() == spawner::THREAD_NAME);
            assert!(spawner_alive, "the spawner thread is gone");
            let report = process
                .stop(Some(pipes.stdin), Duration::from_secs(5))
                .await;
            assert_eq!(report, ExitReport::Code(0));
        });
    }

    #[test]
    fn each_spawn_registers_with_the_runtime_of_its_caller() {
        // One spawner thread serves runtimes that come and go, as the tests' runtimes do.
        for _ in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let (mut process, mut pipes) =
                    ManagedProcess::spawn(&sh("exec cat")).await.unwrap();
                echo_through(&mut pipes).await;
                let report = process
                    .stop(Some(pipes.stdin), Duration::from_secs(5))
                    .await;
                assert_eq!(report, ExitReport::Code(0));
            });
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_group_is_swept_before_the_leader_is_reaped() {
        let (process, mut pipes) = ManagedProcess::spawn(&sh("sleep 1000 & echo $!; exit 0"))
            .await
            .unwrap();
        let grandchild: i32 = first_line(&mut pipes.stdout).await.parse().unwrap();
        let mut exit = process.exit_watch();
        let report = tokio::time::timeout(Duration::from_secs(5), exit.wait_for(Option::is_some))
            .await
            .unwrap()
            .unwrap()
            .unwrap_or(ExitReport::Unknown);
        assert_eq!(report, ExitReport::Code(0));
        // Published only after the sweep: the grandchild already has its SIGKILL.
        assert!(killed(grandchild), "the leader's group was not swept");
        assert!(process.group.lock().released());
        assert!(
            !process.signal(libc::SIGKILL),
            "a reaped group was signalled"
        );
    }

    #[tokio::test]
    async fn kill_ends_the_whole_group() {
        let (mut process, mut pipes) = ManagedProcess::spawn(&sh("sleep 1000 & echo $!; wait"))
            .await
            .unwrap();
        let grandchild: i32 = first_line(&mut pipes.stdout).await.parse().unwrap();
        process.kill();
        let report = process.reap(Duration::from_secs(5)).await;
        assert_eq!(report, ExitReport::Signal(libc::SIGKILL));
        eventually("the grandchild is killed", || killed(grandchild)).await;
    }
}
