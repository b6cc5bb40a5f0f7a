//! The stdout side of a child: the task that turns its lines into frames for the session and,
//! after the last line, reports the exit. Because the same task sends both through the
//! session's mailbox, the exit is always ordered after every frame the child wrote: a server
//! that answers and exits at once still delivers its answer.
//!
//! Lines are decoded lossily (invalid UTF-8 becomes U+FFFD, as the TypeScript SDK reads
//! them). A line that still cannot be used is reported with whatever id could be recovered
//! from it, so the request it answered fails instead of hanging.

use std::sync::Arc;
use std::time::Duration;

use ractor::ActorRef;
use serde_json::Value;
use tokio::io::AsyncRead;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Span;

use super::ChildMsg;
use crate::budget::{Budget, Charge};
use crate::frame::Frame;
use crate::id_sniff::top_level_id;
use crate::line_reader::{Line, LineReader};
use crate::mailbox::{MailboxBound, MailboxPermit};
use crate::metrics::{Limit, ProxyMetrics};
use crate::process::ExitReport;
use crate::protocol::{ChildEvent, LineProblem, SessionMsg};

/// Bytes read at a time from an idle child's stdout. The read lands on the stack and only what
/// arrived is then allocated, so this costs an idle session nothing (measured before: 64 KiB
/// of read buffer per child were 72% of a session's memory); longer messages grow their own
/// buffer, read as much at a time as it has room for.
const STDOUT_READ: usize = 16 * 1024;

/// How long output is still read after the process exited, when something it started keeps
/// its stdout open (the sweep of its process group usually closes it at once).
pub const OUTPUT_DRAIN: Duration = Duration::from_millis(500);

/// Where the reader sends what it reads.
pub struct StdoutRoute {
    pub session: ActorRef<SessionMsg>,
    /// The reader waits for room in the session's mailbox, which pushes back on the child.
    pub inbox: MailboxBound,
    pub metrics: Arc<ProxyMetrics>,
    pub generation: u64,
    pub max_line: usize,
    pub budget: Budget,
    /// Told when stdout closes, so a process that lingers is stopped.
    pub child: ActorRef<ChildMsg>,
    pub exit: watch::Receiver<Option<ExitReport>>,
    /// Awaited (briefly) before the exit is reported, so the report has the last stderr lines.
    pub stderr: JoinHandle<()>,
    pub span: Span,
}

/// Reads the child's stdout to its end, then reports the exit.
pub async fn read_stdout(stdout: Box<dyn AsyncRead + Send + Unpin>, route: StdoutRoute) {
    let mut reader = LineReader::new(stdout, route.max_line, STDOUT_READ);
    let mut exit = route.exit.clone();
    let gave_up = async move {
        let _ = exit.wait_for(Option::is_some).await;
        tokio::time::sleep(OUTPUT_DRAIN).await;
    };
    tokio::pin!(gave_up);
    loop {
        let line = tokio::select! {
            biased;
            line = reader.next_line() => line,
            () = &mut gave_up => {
                tracing::warn!(parent: &route.span, "the MCP server exited but a process it started still holds its stdout; stopped reading it");
                break;
            }
        };
        let event = match line {
            Ok(Some(line)) => match event_of(line, &route) {
                Some(event) => event,
                None => continue,
            },
            Ok(None) => break,
            Err(err) => {
                tracing::warn!(parent: &route.span, error = %err, "cannot read the MCP server's stdout");
                break;
            }
        };
        // Waiting here for room (in bytes, then in messages) is what pushes back on a child
        // whose output the clients do not take: its stdout is not read meanwhile.
        let Some(charge) = route.budget.charge(event.len()).await else {
            return;
        };
        let Some(permit) = route.inbox.reserve().await else {
            return;
        };
        let event = event.into_event(route.generation, permit, charge);
        if route.session.cast(SessionMsg::Child(event)).is_err() {
            return;
        }
    }
    let _ = route.child.cast(ChildMsg::StdoutClosed);
    let mut exit = route.exit.clone();
    let report = match exit.wait_for(Option::is_some).await {
        Ok(report) => report.unwrap_or(ExitReport::Unknown),
        Err(_) => ExitReport::Unknown,
    };
    let _ = tokio::time::timeout(OUTPUT_DRAIN, route.stderr).await;
    let exited = ChildEvent::Exited {
        generation: route.generation,
        report,
    };
    let _ = route.session.cast(SessionMsg::Child(exited));
    let _ = route.child.cast(ChildMsg::OutputFinished);
}

/// What one line becomes, once it has room in the session's mailbox.
enum LineEvent {
    Frame(Frame),
    Unreadable(Option<Value>, LineProblem),
}

impl LineEvent {
    /// Bytes the event holds until the session routes it.
    fn len(&self) -> usize {
        match self {
            LineEvent::Frame(frame) => frame.size_hint(),
            LineEvent::Unreadable(..) => 0,
        }
    }

    fn into_event(self, generation: u64, permit: MailboxPermit, charge: Charge) -> ChildEvent {
        match self {
            LineEvent::Frame(frame) => ChildEvent::Frame {
                generation,
                frame,
                permit,
                charge,
            },
            LineEvent::Unreadable(id, problem) => ChildEvent::Unreadable {
                generation,
                id,
                problem,
                permit,
            },
        }
    }
}

/// What one line becomes; `None` for blank lines. The frame keeps the line's bytes as they
/// were read (no copy), unless they must be repaired first.
fn event_of(line: Line, route: &StdoutRoute) -> Option<LineEvent> {
    match line {
        Line::Complete(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => None,
        Line::Complete(bytes) => {
            let parsed = Frame::parse_bytes(bytes.clone()).or_else(|err| match std::str::from_utf8(&bytes) {
                Ok(_) => Err(err),
                Err(_) => {
                    let lossy = String::from_utf8_lossy(&bytes);
                    tracing::debug!(parent: &route.span, "the MCP server wrote invalid UTF-8; read with U+FFFD replacements");
                    Frame::parse(lossy.as_bytes())
                }
            });
            match parsed {
                Ok(frame) => Some(LineEvent::Frame(frame)),
                Err(err) => {
                    tracing::warn!(
                        parent: &route.span,
                        error = %err,
                        line = %String::from_utf8_lossy(&bytes[..bytes.len().min(200)]),
                        "the MCP server wrote a stdout line that is not a JSON-RPC message; dropped (servers must log to stderr, not stdout)"
                    );
                    let problem = LineProblem::NotJsonRpc(err.to_string());
                    Some(LineEvent::Unreadable(top_level_id(&bytes, b""), problem))
                }
            }
        }
        Line::TooLong { len, head, tail } => {
            route.metrics.limit_hit(Limit::MaxMessageBytes);
            tracing::error!(
                parent: &route.span,
                bytes = len,
                limit = route.max_line,
                "the MCP server wrote a message larger than --max-message-bytes; dropped (raise the limit if such messages are expected)"
            );
            let problem = LineProblem::TooLong {
                bytes: len,
                limit: route.max_line,
            };
            Some(LineEvent::Unreadable(top_level_id(&head, &tail), problem))
        }
    }
}
