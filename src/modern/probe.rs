//! The era probe: whether the stdio MCP server of a configured command speaks MCP 2026-07-28.
//!
//! A throwaway child of the command gets one `server/discover` request carrying the 2026-07-28
//! envelope, and nothing else. A `DiscoverResult` whose `supportedVersions` lists 2026-07-28
//! makes the command modern; every other outcome (a result without it, a JSON-RPC error, an
//! exit, silence until the deadline, a failed spawn, an answer that cannot be read) makes it
//! legacy, as the TypeScript SDK client decides when it probes on a disposable sibling
//! process.
//!
//! Why a throwaway child: dual-era servers pin their era per process on the first request
//! (the Python SDK pins modern on `server/discover`), and some legacy servers (the official
//! Rust SDK) exit on any request before `initialize`. So the probe child is always stopped,
//! whatever the verdict, and never serves traffic.
//!
//! The child belongs to the process layer (`crate::process::ManagedProcess`): its own process
//! group, a parent-death signal, and a watcher that reaps it. Stopping is graceful with
//! escalation (stdin closed, SIGTERM, SIGKILL, each after `kill_grace`); if the probe future
//! is dropped instead, dropping the `ManagedProcess` kills the group and the watcher reaps it.

use std::convert::Infallible;
use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::watch;
use tokio::time::Instant;

use super::MODERN_VERSION;
use crate::config::CommandSpec;
use crate::frame::{Frame, FrameKind};
use crate::id_sniff::top_level_id;
use crate::line_reader::{Line, LineReader};
use crate::process::{ChildPipes, ExitReport, ManagedProcess};

#[cfg(test)]
mod tests;

/// The JSON-RPC id of the probe request; a string no client-facing id table ever holds.
const PROBE_ID: &str = "hyper-mcp-proxy-era-probe";
/// Longest stdout line read whole. A `DiscoverResult` is small; a server's `instructions`
/// may make it a few KiB.
const PROBE_LINE_LIMIT: usize = 1024 * 1024;
/// Read buffer for the child's stdout and stderr.
const PROBE_READ_BUFFER: usize = 8 * 1024;
/// Longest stderr line kept whole when logging it.
const STDERR_LINE_LIMIT: usize = 16 * 1024;
/// Stderr lines logged per probe; the rest is drained unlogged.
const STDERR_LINES_LOGGED: usize = 50;

/// The protocol era a command's server speaks on stdio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEra {
    /// 2025-11-25 and earlier: `initialize` first, one session per process.
    Legacy,
    /// 2026-07-28: every request carries its envelope, no handshake.
    Modern,
}

impl ChildEra {
    /// The era as a metric label or log field.
    pub fn label(self) -> &'static str {
        match self {
            ChildEra::Legacy => "legacy",
            ChildEra::Modern => "modern",
        }
    }
}

/// Why the probe reached its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeReason {
    /// The `DiscoverResult` lists 2026-07-28 (modern).
    Offered,
    /// A `DiscoverResult` without 2026-07-28.
    NotOffered,
    /// A JSON-RPC error with this code.
    ErrorAnswer(i64),
    /// The child exited (or closed its stdout) before answering.
    Exited,
    /// No answer before the deadline.
    TimedOut,
    /// The command could not be started; the OS's reason.
    SpawnFailed(String),
    /// The answer carried the probe's id but was not a readable response (not JSON-RPC, a
    /// result that is not an object, an error without an integer code, longer than the line
    /// limit), or stdout could not be read.
    Unreadable,
}

impl ProbeReason {
    /// The reason as a metric label.
    pub fn label(&self) -> &'static str {
        match self {
            ProbeReason::Offered => "offered",
            ProbeReason::NotOffered => "not_offered",
            ProbeReason::ErrorAnswer(_) => "error",
            ProbeReason::Exited => "exited",
            ProbeReason::TimedOut => "timeout",
            ProbeReason::SpawnFailed(_) => "spawn_failed",
            ProbeReason::Unreadable => "unreadable",
        }
    }
}

impl fmt::Display for ProbeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeReason::Offered => write!(
                f,
                "the MCP server answered server/discover offering {MODERN_VERSION}"
            ),
            ProbeReason::NotOffered => write!(
                f,
                "the MCP server answered server/discover without offering {MODERN_VERSION}"
            ),
            ProbeReason::ErrorAnswer(code) => {
                write!(
                    f,
                    "the MCP server answered server/discover with JSON-RPC error {code}"
                )?;
                match *code {
                    -32601 => write!(f, " (method not found: a server without {MODERN_VERSION})"),
                    -32022 => write!(
                        f,
                        " (unsupported protocol version: the server speaks other versions than {MODERN_VERSION})"
                    ),
                    _ => Ok(()),
                }
            }
            ProbeReason::Exited => write!(
                f,
                "the MCP server exited before answering server/discover (some legacy servers end on any request before initialize)"
            ),
            ProbeReason::TimedOut => {
                write!(f, "the MCP server did not answer server/discover in time")
            }
            ProbeReason::SpawnFailed(why) => {
                write!(
                    f,
                    "the MCP server could not be started for the probe: {why}"
                )
            }
            ProbeReason::Unreadable => write!(
                f,
                "the MCP server's answer to server/discover could not be read (not a JSON-RPC response, or longer than {PROBE_LINE_LIMIT} bytes)"
            ),
        }
    }
}

/// What the probe found out about a command.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeVerdict {
    /// The era to serve the command's children in.
    pub era: ChildEra,
    /// Why.
    pub reason: ProbeReason,
    /// The child's `DiscoverResult`, when modern.
    pub discover: Option<Value>,
}

impl ProbeVerdict {
    /// A legacy verdict for `reason`.
    fn legacy(reason: ProbeReason) -> ProbeVerdict {
        ProbeVerdict {
            era: ChildEra::Legacy,
            reason,
            discover: None,
        }
    }
}

/// Probes a throwaway child of `command`: spawns it, sends one `server/discover` at
/// 2026-07-28, waits for the answer, its exit or `timeout` (spawn included), then stops it
/// with `kill_grace` per escalation step. The child is gone (reaped, its group killed) when
/// this returns, and also when the future is dropped early (then a moment later).
pub async fn probe_child_era(
    command: &CommandSpec,
    timeout: Duration,
    kill_grace: Duration,
) -> ProbeVerdict {
    let deadline = Instant::now() + timeout;
    let (mut process, pipes) =
        match tokio::time::timeout_at(deadline, ManagedProcess::spawn(command)).await {
            Ok(Ok(spawned)) => spawned,
            Ok(Err(err)) => return ProbeVerdict::legacy(ProbeReason::SpawnFailed(err.to_string())),
            // The spawner drops the process it answers too late, which kills its group.
            Err(_elapsed) => return ProbeVerdict::legacy(ProbeReason::TimedOut),
        };
    let ChildPipes {
        stdin,
        stdout,
        stderr,
    } = pipes;
    let shown = command.display();
    let verdict = converse(
        stdin,
        stdout,
        stderr,
        process.exit_watch(),
        deadline,
        &shown,
    )
    .await;
    // Stdin was closed (dropped) by `converse`; the read ends too, so a child blocked writing
    // gets EPIPE or SIGPIPE instead of ignoring its stop.
    let report = process.stop(None, kill_grace).await;
    tracing::debug!(
        command = %shown,
        era = verdict.era.label(),
        reason = %verdict.reason,
        exit = %report,
        "MCP era probe finished; its child is stopped"
    );
    verdict
}

/// The `server/discover` request line, with the 2026-07-28 envelope and no capabilities.
fn discover_request_line() -> bytes::Bytes {
    let params = json!({
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {
                "name": "hyper-mcp-proxy",
                "version": env!("CARGO_PKG_VERSION"),
            },
        }
    });
    Frame::request(Value::from(PROBE_ID), "server/discover", Some(params)).to_line()
}

/// Writes the request and reads until the verdict, while draining stderr. Holds stdin open
/// until then: a server may abandon requests once its input ends.
async fn converse(
    mut stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: ChildStderr,
    mut exit: watch::Receiver<Option<ExitReport>>,
    deadline: Instant,
    shown: &str,
) -> ProbeVerdict {
    let drain = drain_stderr(stderr, shown);
    tokio::pin!(drain);
    let write = async {
        stdin.write_all(&discover_request_line()).await?;
        stdin.flush().await
    };
    // The line is far smaller than a pipe buffer, so the write only waits for a child that
    // never reads, and then only until the deadline. A failed write means the child closed
    // its stdin or exited; reading on tells which.
    tokio::select! {
        written = write => if let Err(err) = written {
            tracing::debug!(command = %shown, error = %err, "cannot write the era probe request");
        },
        never = &mut drain => match never {},
        () = tokio::time::sleep_until(deadline) => return ProbeVerdict::legacy(ProbeReason::TimedOut),
    }
    // One future for the whole read, polled across the loop: a line read is not cancel-safe.
    let answer = read_answer(stdout, shown);
    tokio::pin!(answer);
    let mut exited = false;
    loop {
        tokio::select! {
            verdict = &mut answer => return verdict,
            // The answer may still sit in the pipe after an exit: keep reading until EOF.
            _ = exit.wait_for(Option::is_some), if !exited => exited = true,
            never = &mut drain => match never {},
            () = tokio::time::sleep_until(deadline) => {
                // An exited child whose stdout is held open by an escaped descendant.
                let reason = if exited { ProbeReason::Exited } else { ProbeReason::TimedOut };
                return ProbeVerdict::legacy(reason);
            }
        }
    }
}

/// Reads stdout lines until the response to the probe; skips everything else (notifications,
/// requests, other responses, log noise that is not JSON).
async fn read_answer(stdout: ChildStdout, shown: &str) -> ProbeVerdict {
    let mut lines = LineReader::new(stdout, PROBE_LINE_LIMIT, PROBE_READ_BUFFER);
    let probe_id = Value::from(PROBE_ID);
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return ProbeVerdict::legacy(ProbeReason::Exited),
            Err(err) => {
                tracing::debug!(command = %shown, error = %err, "cannot read the era probe child's stdout");
                return ProbeVerdict::legacy(ProbeReason::Unreadable);
            }
        };
        let (head, tail) = match line {
            Line::Complete(bytes) => {
                // Servers may write invalid UTF-8 inside strings; read it with replacements.
                match Frame::parse(String::from_utf8_lossy(&bytes).as_bytes()) {
                    Ok(frame) => match frame.kind() {
                        FrameKind::Response | FrameKind::Error if frame.id() == Some(&probe_id) => {
                            return judge(&frame);
                        }
                        _ => continue,
                    },
                    Err(_) => (bytes.to_vec(), Vec::new()),
                }
            }
            Line::TooLong { head, tail, .. } => (head, tail),
        };
        if top_level_id(&head, &tail).as_ref() == Some(&probe_id) {
            return ProbeVerdict::legacy(ProbeReason::Unreadable);
        }
        tracing::debug!(command = %shown, "the era probe child wrote a stdout line that is not JSON-RPC; skipped");
    }
}

/// The verdict for the probe's response or error.
fn judge(frame: &Frame) -> ProbeVerdict {
    if frame.kind() == FrameKind::Error {
        let code = frame.error().and_then(|error| error.get("code"));
        return match code.and_then(Value::as_i64) {
            Some(code) => ProbeVerdict::legacy(ProbeReason::ErrorAnswer(code)),
            None => ProbeVerdict::legacy(ProbeReason::Unreadable),
        };
    }
    let Some(result @ Value::Object(fields)) = frame.result() else {
        return ProbeVerdict::legacy(ProbeReason::Unreadable);
    };
    let offered = fields
        .get("supportedVersions")
        .and_then(Value::as_array)
        .is_some_and(|versions| versions.iter().any(|v| v.as_str() == Some(MODERN_VERSION)));
    if !offered {
        return ProbeVerdict::legacy(ProbeReason::NotOffered);
    }
    ProbeVerdict {
        era: ChildEra::Modern,
        reason: ProbeReason::Offered,
        discover: Some(result.clone()),
    }
}

/// Reads the child's stderr so it never blocks on a full pipe, logging the first lines at
/// debug level; once stderr ends, waits forever (the caller's other arms decide).
async fn drain_stderr(stderr: ChildStderr, shown: &str) -> Infallible {
    drain_lines(stderr, shown).await;
    std::future::pending().await
}

/// Reads `stderr` to its end, logging up to [`STDERR_LINES_LOGGED`] lines.
async fn drain_lines(stderr: impl AsyncRead + Unpin, shown: &str) {
    let mut lines = LineReader::new(stderr, STDERR_LINE_LIMIT, PROBE_READ_BUFFER);
    let mut logged = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        if logged == STDERR_LINES_LOGGED {
            continue;
        }
        logged += 1;
        match line {
            Line::Complete(bytes) => {
                tracing::debug!(command = %shown, "era probe child stderr: {}", String::from_utf8_lossy(&bytes));
            }
            Line::TooLong { len, .. } => {
                tracing::debug!(command = %shown, "era probe child stderr: [{len} bytes without a newline]");
            }
        }
    }
}
