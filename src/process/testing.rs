//! Test helpers for the process layer: shell commands, reading a child's first line, and
//! waiting (with a deadline) for what `/proc` shows.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::ChildStdout;

use crate::config::CommandSpec;

/// How long a condition may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(5);

/// `sh -c script`.
pub(super) fn sh(script: &str) -> CommandSpec {
    CommandSpec {
        program: PathBuf::from("sh"),
        args: vec!["-c".into(), script.into()],
    }
}

/// Polls `condition` until it holds; panics naming `what` after [`DEADLINE`].
pub(super) async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Reads the first line the child writes (a pid, in these tests).
pub(super) async fn first_line(stdout: &mut ChildStdout) -> String {
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    let read = reader.read_line(&mut line);
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("the child wrote no line in time")
        .expect("cannot read the child's stdout");
    line.trim().to_string()
}

/// Whether `pid` has been SIGKILLed: gone, dead (zombie), or with SIGKILL pending, which the
/// kernel records the moment `kill` returns, before the process gets to run again.
pub(super) fn killed(pid: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    let pending = |name: &str| {
        u64::from_str_radix(&field(name), 16)
            .is_ok_and(|mask| mask & (1 << (libc::SIGKILL - 1)) != 0)
    };
    let state = field("State:");
    state.starts_with('Z') || state.starts_with('X') || pending("SigPnd:") || pending("ShdPnd:")
}
