//! `ChildProcess`: the actor that owns one OS process of a session's MCP server.
//!
//! Its mailbox is the child's stdin queue. Two pump tasks read the child's output: stdout lines
//! become frames cast to the session (tagged with this child's generation), stderr lines become
//! log lines in the session's span. When the process exits (or its stdout closes), the actor
//! sweeps the process group, lets the pumps drain what the child wrote last, and stops with the
//! exit report as the reason, which the supervisor sees as a `SupervisionEvent`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::io::AsyncWriteExt;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;
use tracing::Span;

use crate::frame::Frame;
use crate::index::SessionId;
use crate::line_reader::{Line, LineReader};
use crate::mailbox::{MailboxBound, MailboxPermit};
use crate::metrics::{Limit, ProxyMetrics};
use crate::process::{ChildPipes, ExitReport, ManagedProcess};
use crate::session::SessionMsg;

// ============================ ChildProcess actor ============================

/// The actor owning one child process.
pub struct ChildProcess;

/// What the child actor is asked to do.
pub enum ChildMsg {
    /// Write one serialized frame (already ending in `\n`) to the child's stdin; the permit is
    /// the frame's room in the bounded stdin queue.
    Write(Bytes, MailboxPermit),
    /// The stdout pump reached end of file: the child is exiting.
    StdoutClosed,
    /// The process exited (even if something it forked still holds its stdout open).
    ProcessExited,
    /// Stop the process gracefully and report how it ended.
    Stop(RpcReplyPort<ExitReport>),
}

/// Everything a new child actor needs.
pub struct ChildArgs {
    /// The freshly spawned process.
    pub process: ManagedProcess,
    /// Its pipes.
    pub pipes: ChildPipes,
    /// Where frames go.
    pub session: ActorRef<SessionMsg>,
    /// The session's mailbox bound: the pump waits for room, pushing back on the child.
    pub inbox: MailboxBound,
    /// Where dropped over-long lines are counted.
    pub metrics: Arc<ProxyMetrics>,
    /// Restart generation, so the session can drop messages of a child it replaced.
    pub generation: u64,
    /// Longest stdout line accepted.
    pub max_message_bytes: usize,
    /// How long each step of the graceful stop waits.
    pub kill_grace: Duration,
    /// The session's span: every log line about this child carries the session id.
    pub span: Span,
    /// The session id, repeated in the child's own span so JSON logs carry it.
    pub session_id: SessionId,
    /// Last stderr lines, kept so startup failures can say why.
    pub stderr_tail: StderrTail,
}

/// The child actor's state.
pub struct ChildState {
    /// The OS process (its `Drop` kills the group if nothing else did).
    process: ManagedProcess,
    /// `None` once closed (stop requested or the child stopped reading).
    stdin: Option<ChildStdin>,
    /// How long each step of the graceful stop waits.
    kill_grace: Duration,
    /// Span with session id, pid and generation.
    span: Span,
    /// The stdout pump; awaited (bounded) before the actor reports an exit, so the child's last
    /// answers are delivered; aborted when the actor stops so no task outlives it.
    stdout_pump: JoinHandle<()>,
    /// The stderr pump; awaited (bounded) before the actor reports an exit, so the session's
    /// error report has the child's last stderr lines; then aborted like the stdout pump.
    stderr_pump: JoinHandle<()>,
    /// Set when the exit is being reported: the second exit signal (stdout EOF or process
    /// exit, whichever came last) is ignored, and the pumps are awaited only once.
    exiting: bool,
}

impl Actor for ChildProcess {
    type Msg = ChildMsg;
    type State = ChildState;
    type Arguments = ChildArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ChildMsg>,
        args: ChildArgs,
    ) -> Result<ChildState, ActorProcessingErr> {
        let pid = args.process.pid();
        let span = tracing::info_span!(parent: &args.span, "child", session = %args.session_id, pid, generation = args.generation);
        let ChildPipes {
            stdin,
            stdout,
            stderr,
        } = args.pipes;
        let stdout_pump = tokio::spawn(pump_stdout(
            stdout,
            StdoutRoute {
                max_line: args.max_message_bytes,
                session: args.session,
                inbox: args.inbox,
                metrics: args.metrics,
                generation: args.generation,
                child: myself.clone(),
                span: span.clone(),
            },
        ));
        let stderr_pump = tokio::spawn(pump_stderr(stderr, span.clone(), args.stderr_tail));
        let mut exit = args.process.exit_watch();
        let notify = myself.clone();
        tokio::spawn(async move {
            if exit.wait_for(Option::is_some).await.is_ok() {
                let _ = notify.cast(ChildMsg::ProcessExited);
            }
        });
        tracing::debug!(parent: &span, "MCP server process started");
        Ok(ChildState {
            process: args.process,
            stdin: Some(stdin),
            kill_grace: args.kill_grace,
            span,
            stdout_pump,
            stderr_pump,
            exiting: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ChildMsg>,
        message: ChildMsg,
        state: &mut ChildState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ChildMsg::Write(line, _permit) => {
                if let Some(stdin) = state.stdin.as_mut()
                    && let Err(err) = stdin.write_all(&line).await
                {
                    // The child stopped reading (usually: it is exiting). Its stdout closing
                    // will tell the session; until then, further writes are dropped.
                    tracing::warn!(parent: &state.span, error = %err, "cannot write to the MCP server's stdin; it is probably exiting");
                    state.stdin = None;
                }
            }
            ChildMsg::StdoutClosed | ChildMsg::ProcessExited if !state.exiting => {
                state.exiting = true;
                // Waits for the exit (escalating if stdout closed but the process lingers), then
                // kills whatever the child forked, which also closes pipes they inherited.
                let report = state.process.reap(state.kill_grace).await;
                // Let the pumps deliver what the child wrote just before exiting: its last
                // answers and the stderr lines that explain a crash.
                let _ = tokio::time::timeout(OUTPUT_DRAIN, &mut state.stdout_pump).await;
                let _ = tokio::time::timeout(OUTPUT_DRAIN, &mut state.stderr_pump).await;
                myself.stop(Some(report.encode()));
            }
            ChildMsg::StdoutClosed | ChildMsg::ProcessExited => {}
            ChildMsg::Stop(reply) => {
                let report = state
                    .process
                    .stop(state.stdin.take(), state.kill_grace)
                    .await;
                let _ = reply.send(report);
                myself.stop(Some(report.encode()));
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ChildMsg>,
        state: &mut ChildState,
    ) -> Result<(), ActorProcessingErr> {
        state.stdout_pump.abort();
        state.stderr_pump.abort();
        Ok(())
    }
}

/// Where the stdout pump sends what it reads, and how.
struct StdoutRoute {
    /// Longest line accepted.
    max_line: usize,
    /// The session that gets the frames.
    session: ActorRef<SessionMsg>,
    /// The session's mailbox bound: the pump waits for room, pushing back on the child.
    inbox: MailboxBound,
    /// Where dropped over-long lines are counted.
    metrics: Arc<ProxyMetrics>,
    /// Tag of every frame, so the session drops frames of a replaced child.
    generation: u64,
    /// This child's actor, told when stdout closes.
    child: ActorRef<ChildMsg>,
    /// The child's span.
    span: Span,
}

/// Reads frames from the child's stdout and casts them to the session.
async fn pump_stdout(stdout: ChildStdout, route: StdoutRoute) {
    let StdoutRoute {
        max_line,
        session,
        inbox,
        metrics,
        generation,
        child,
        span,
    } = route;
    let mut reader = LineReader::new(stdout, max_line, STDOUT_BUFFER);
    loop {
        match reader.next_line().await {
            Ok(Some(Line::Complete(bytes))) => {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match Frame::parse(bytes) {
                    Ok(frame) => {
                        let Some(permit) = inbox.reserve().await else {
                            break;
                        };
                        let message = SessionMsg::FromChild {
                            generation,
                            frame,
                            permit,
                        };
                        if session.cast(message).is_err() {
                            break;
                        }
                    }
                    Err(err) => tracing::warn!(
                        parent: &span,
                        error = %err,
                        line = %String::from_utf8_lossy(&bytes[..bytes.len().min(200)]),
                        "the MCP server wrote a stdout line that is not a JSON-RPC message; dropped (servers must log to stderr, not stdout)"
                    ),
                }
            }
            Ok(Some(Line::TooLong(len))) => {
                metrics.limit_hit(Limit::MaxMessageBytes);
                tracing::error!(
                    parent: &span,
                    bytes = len,
                    limit = max_line,
                    "the MCP server wrote a message larger than --max-message-bytes; dropped (raise the limit if such messages are expected)"
                )
            }
            Ok(None) => break,
            Err(err) => {
                tracing::warn!(parent: &span, error = %err, "cannot read the MCP server's stdout");
                break;
            }
        }
    }
    let _ = child.cast(ChildMsg::StdoutClosed);
}

/// Read buffer of a child's stdout: one per session, so small (measured: 64 KiB buffers were
/// 72% of a session's memory); larger messages are assembled across reads.
const STDOUT_BUFFER: usize = 4 * 1024;
/// Read buffer of a child's stderr, which carries only log lines.
const STDERR_BUFFER: usize = 1024;

/// Longest wait for a dead child's last output to be read.
const OUTPUT_DRAIN: Duration = Duration::from_millis(500);

/// The last few stderr lines of a child, shared with the session for error reports.
#[derive(Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    /// Lines kept.
    const KEEP: usize = 8;

    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == Self::KEEP {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }

    /// A copy of the kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Most stderr lines logged per second; beyond it lines are counted, not logged, so a flood
/// can neither block the child (the pipe is always drained) nor drown the proxy's log.
const STDERR_LINES_PER_SECOND: u32 = 200;

/// Forwards the child's stderr to the log, line by line.
async fn pump_stderr(stderr: ChildStderr, span: Span, tail: StderrTail) {
    let mut reader = LineReader::new(stderr, 16 * 1024, STDERR_BUFFER);
    let mut window_start = tokio::time::Instant::now();
    let mut logged = 0u32;
    let mut suppressed = 0u64;
    loop {
        let line = match reader.next_line().await {
            Ok(Some(Line::Complete(bytes))) => String::from_utf8_lossy(bytes).into_owned(),
            Ok(Some(Line::TooLong(len))) => format!("[{len} bytes of stderr without a newline]"),
            Ok(None) | Err(_) => break,
        };
        let now = tokio::time::Instant::now();
        if now.duration_since(window_start) >= Duration::from_secs(1) {
            if suppressed > 0 {
                tracing::warn!(parent: &span, suppressed, "MCP server stderr flood: lines not logged");
            }
            window_start = now;
            logged = 0;
            suppressed = 0;
        }
        if logged < STDERR_LINES_PER_SECOND {
            logged += 1;
            tracing::info!(target: "hyper_mcp_proxy::child_stderr", parent: &span, "{line}");
        } else {
            suppressed += 1;
        }
        tail.push(line);
    }
    if suppressed > 0 {
        tracing::warn!(parent: &span, suppressed, "MCP server stderr flood: lines not logged");
    }
}
