//! The OS side of a child MCP server: spawn it in its own process group, stop it gracefully,
//! and make sure that neither it nor anything it forked outlives its session.
//!
//! A watcher task owns the OS handle and reaps the child the moment it exits, publishing how it
//! ended; so an exit is noticed even when a grandchild keeps the child's stdout open, and no
//! child is ever left a zombie. Stopping is: close stdin, wait `grace`, SIGTERM the whole group,
//! wait `grace`, SIGKILL the group. `Drop` is the safety net for every path that skips the
//! graceful stop.

use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::{ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::watch;

use crate::config::CommandSpec;

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

/// How a child ended, in the words a user understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReport {
    /// It exited by itself with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
    /// Its status could not be read.
    Unknown,
}

impl ExitReport {
    /// Converts an OS exit status.
    pub fn from_status(status: ExitStatus) -> ExitReport {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitReport::Code(code),
            (None, Some(signal)) => ExitReport::Signal(signal),
            _ => ExitReport::Unknown,
        }
    }
}

impl ExitReport {
    /// Encodes the report as an actor stop reason (ractor carries reasons as strings).
    pub fn encode(&self) -> String {
        match self {
            ExitReport::Code(code) => format!("code:{code}"),
            ExitReport::Signal(signal) => format!("signal:{signal}"),
            ExitReport::Unknown => "unknown".to_string(),
        }
    }

    /// Decodes [`ExitReport::encode`]; anything else is `Unknown`.
    pub fn decode(reason: Option<&str>) -> ExitReport {
        let parse = |text: &str| text.parse::<i32>().ok();
        match reason.and_then(|r| r.split_once(':')) {
            Some(("code", code)) => parse(code).map_or(ExitReport::Unknown, ExitReport::Code),
            Some(("signal", sig)) => parse(sig).map_or(ExitReport::Unknown, ExitReport::Signal),
            _ => ExitReport::Unknown,
        }
    }

    /// The report as JSON for error `data`: `{"code": 1}` or `{"signal": 9}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ExitReport::Code(code) => serde_json::json!({ "code": code }),
            ExitReport::Signal(signal) => serde_json::json!({ "signal": signal }),
            ExitReport::Unknown => serde_json::json!({}),
        }
    }
}

impl fmt::Display for ExitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReport::Code(code) => write!(f, "exit code {code}"),
            ExitReport::Signal(signal) => write!(f, "killed by signal {signal}"),
            ExitReport::Unknown => write!(f, "unknown exit status"),
        }
    }
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
    /// How the child ended, published by the watcher task that reaped it.
    exit: watch::Receiver<Option<ExitReport>>,
    /// The process group id (equal to the child's pid), used to signal all descendants.
    pgid: i32,
    /// Set once the child has been reaped and its group has been swept.
    finished: Option<ExitReport>,
}

impl ManagedProcess {
    /// Spawns `spec` directly (no shell) in a new process group, with piped stdio.
    pub fn spawn(spec: &CommandSpec) -> Result<(ManagedProcess, ChildPipes), SpawnError> {
        let fail = |source| SpawnError {
            command: spec.display(),
            source,
        };
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            // The safety net of last resort: tokio kills the leader if the handle is dropped.
            .kill_on_drop(true);
        // SAFETY: the closure runs in the forked child before exec and only calls prctl, which
        // is async-signal-safe. It asks the kernel to SIGKILL the child if the proxy dies, so
        // even a `kill -9` of the proxy leaves no server running.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(fail)?;
        let pid = child.id().ok_or_else(|| {
            fail(std::io::Error::other(
                "the child exited before its pid could be read",
            ))
        })?;
        let missing = || {
            fail(std::io::Error::other(
                "a stdio pipe of the child is missing",
            ))
        };
        let pipes = ChildPipes {
            stdin: child.stdin.take().ok_or_else(missing)?,
            stdout: child.stdout.take().ok_or_else(missing)?,
            stderr: child.stderr.take().ok_or_else(missing)?,
        };
        let pgid = i32::try_from(pid).map_err(|_| fail(std::io::Error::other("pid overflow")))?;
        let (published, exit) = watch::channel(None);
        tokio::spawn(async move {
            let report = child
                .wait()
                .await
                .map(ExitReport::from_status)
                .unwrap_or(ExitReport::Unknown);
            let _ = published.send(Some(report));
        });
        Ok((
            ManagedProcess {
                exit,
                pgid,
                finished: None,
            },
            pipes,
        ))
    }

    /// A receiver that turns `Some` when the child has exited (and was reaped).
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
        self.pgid.unsigned_abs()
    }

    /// Waits for the child to exit by itself (after its stdout closed), up to `grace`, then
    /// escalates like [`ManagedProcess::stop`]. Always sweeps the group afterwards.
    pub async fn reap(&mut self, grace: Duration) -> ExitReport {
        self.stop(None, grace).await
    }

    /// Graceful stop: close stdin (if still held), wait, SIGTERM the group, wait, SIGKILL it.
    /// Returns how the child ended. Any remaining member of the group is killed afterwards.
    pub async fn stop(&mut self, stdin: Option<ChildStdin>, grace: Duration) -> ExitReport {
        if let Some(report) = self.finished {
            return report;
        }
        drop(stdin);
        let report = match tokio::time::timeout(grace, self.exited()).await {
            Ok(report) => report,
            Err(_elapsed) => {
                signal_group(self.pgid, libc::SIGTERM);
                match tokio::time::timeout(grace, self.exited()).await {
                    Ok(report) => report,
                    Err(_elapsed) => {
                        signal_group(self.pgid, libc::SIGKILL);
                        self.exited().await
                    }
                }
            }
        };
        // The leader is gone; anything it forked into its group goes with it.
        signal_group(self.pgid, libc::SIGKILL);
        self.finished = Some(report);
        report
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if self.finished.is_none() {
            // Paths that skipped the graceful stop (an aborted actor, a panic): kill the whole
            // group now. The watcher task reaps the killed leader.
            signal_group(self.pgid, libc::SIGKILL);
        }
    }
}

/// Kills the whole process group of a child that is hung; its actor then sees stdout close
/// and reports the exit as usual.
pub fn kill_group(pid: u32) {
    if let Ok(pgid) = i32::try_from(pid) {
        signal_group(pgid, libc::SIGKILL);
    }
}

/// Sends `signal` to every process in group `pgid`; a group that no longer exists is fine.
fn signal_group(pgid: i32, signal: libc::c_int) {
    if pgid <= 1 {
        // Never signal our own group or init by accident (pgid 0 means "my group").
        return;
    }
    // SAFETY: killpg has no memory-safety preconditions; ESRCH (no such group) is expected.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn sh(script: &str) -> CommandSpec {
        CommandSpec {
            program: PathBuf::from("sh"),
            args: vec!["-c".into(), script.into()],
        }
    }

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
        let (mut process, pipes) = ManagedProcess::spawn(&sh("cat >/dev/null; exit 3")).unwrap();
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
        .unwrap();
        let pgid = process.pid() as i32;
        let report = process
            .stop(Some(pipes.stdin), Duration::from_millis(200))
            .await;
        assert_eq!(report, ExitReport::Signal(libc::SIGKILL));
        wait_until_group_gone(pgid).await;
    }

    #[tokio::test]
    async fn drop_kills_the_group() {
        let (process, _pipes) = ManagedProcess::spawn(&sh("sleep 1000 & sleep 1000")).unwrap();
        let pgid = process.pid() as i32;
        drop(process);
        wait_until_group_gone(pgid).await;
    }

    #[test]
    fn exit_reports_survive_encoding() {
        for report in [
            ExitReport::Code(3),
            ExitReport::Signal(9),
            ExitReport::Unknown,
        ] {
            assert_eq!(ExitReport::decode(Some(&report.encode())), report);
        }
        assert_eq!(ExitReport::decode(None), ExitReport::Unknown);
    }

    #[tokio::test]
    async fn spawn_error_names_the_command_and_cause() {
        let spec = CommandSpec {
            program: PathBuf::from("/nonexistent/server"),
            args: vec!["--x".into()],
        };
        let err = ManagedProcess::spawn(&spec).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("cannot start `/nonexistent/server --x`: No such file"),
            "{text}"
        );
    }
}
