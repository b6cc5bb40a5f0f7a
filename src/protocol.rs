//! The protocol between the actors, in one leaf module: what the HTTP side, the child's I/O
//! tasks and the timers tell a session; what anyone tells the router; and the typed reasons a
//! session ends. Actor modules import these types, never each other's internals, so the crate's
//! modules form a DAG (see the layout in `lib.rs`).

use std::time::Duration;

use ractor::{ActorId, RpcReplyPort};
use serde_json::Value;

use crate::budget::Charge;
pub use crate::close_reason::CloseReason;
use crate::frame::Frame;
use crate::mailbox::MailboxPermit;
use crate::process::ExitReport;
use crate::session_id::SessionId;
use crate::stream::{EventId, StreamSender};

/// What a session is told.
pub enum SessionMsg {
    /// A client request, with the stream that carries its answer.
    Request {
        frame: Frame,
        stream: StreamSender,
        /// Room in this session's mailbox, reserved by the sender.
        permit: MailboxPermit,
        /// The body's bytes, held against the client→server budget until written to stdin.
        charge: Charge,
    },
    /// A client notification, or the client's answer to a server→client request.
    ClientMessage {
        frame: Frame,
        permit: MailboxPermit,
        charge: Charge,
    },
    /// The client opened its standalone GET stream, or resumes a stream with `Last-Event-ID`.
    AttachGetStream {
        /// A fresh stream; only its channel is used when an existing stream is resumed.
        stream: StreamSender,
        resume: Option<EventId>,
    },
    /// The client that sent `initialize` went away before its answer: nobody knows this
    /// session's id, so it must not outlive the moment.
    InitializeAbandoned,
    /// Shutdown: refuse new requests, end once the requests in flight are answered.
    Drain,
    /// Output of the current (or a replaced) child, in the order the child wrote it.
    Child(ChildEvent),
    /// A timer the session armed for itself.
    Timer(SessionTimer),
}

/// What a child's I/O tasks report. The exit comes last, after every frame the child wrote,
/// because the same task sends both through the same mailbox.
pub enum ChildEvent {
    /// One message the child wrote.
    Frame {
        /// Which child wrote it; output of a replaced child is dropped.
        generation: u64,
        frame: Frame,
        /// Room in the session's mailbox, reserved by the reader: the reader waits for room,
        /// which pushes back on the child.
        permit: MailboxPermit,
        /// The line's bytes, held against the server→client budget until routed.
        charge: Charge,
    },
    /// A line the proxy could not use. `id` is what could be recovered of the message's
    /// top-level id, so the request it answers fails instead of waiting forever.
    Unreadable {
        generation: u64,
        id: Option<Value>,
        problem: LineProblem,
        permit: MailboxPermit,
    },
    /// The child's process is gone and its stdout is drained.
    Exited { generation: u64, report: ExitReport },
}

/// Why a line of the child's output could not be forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblem {
    /// Not a JSON-RPC message (even read lossily).
    NotJsonRpc(String),
    /// Longer than `--max-message-bytes`.
    TooLong { bytes: usize, limit: usize },
}

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineProblem::NotJsonRpc(why) => {
                write!(
                    f,
                    "the MCP server wrote an answer that is not valid JSON-RPC ({why})"
                )
            }
            LineProblem::TooLong { bytes, limit } => write!(
                f,
                "the MCP server's answer ({bytes} bytes) is larger than --max-message-bytes ({limit})"
            ),
        }
    }
}

/// Timers a session arms for itself with `send_after`.
pub enum SessionTimer {
    /// The restarted child of `generation` must have answered the replayed `initialize`.
    ReplayDeadline { generation: u64 },
    /// Check whether the client has been idle for `--session-idle-timeout`.
    IdleCheck,
    /// Expires parked messages, held requests and timed-out requests.
    Tick,
    /// The restart backoff elapsed: start the next child.
    Respawn,
    /// Time to ping the child (with `--ping-interval`).
    Ping,
    /// The answer to ping `proxy_id` of child `generation` is due.
    PingDeadline { proxy_id: u64, generation: u64 },
}

/// Lifecycle requests to the `SessionRouter`.
pub enum RouterMsg {
    /// Open a session. A client's session comes with its `initialize`, which it forwards as
    /// its first act, so a client session never exists without the request that justifies
    /// it. The modern leg's pooled sessions come with the proxy's own `initialize`
    /// (translated) or none at all (passthrough: the child speaks the stateless revision).
    Open {
        kind: SessionKind,
        initialize: Option<(Frame, StreamSender)>,
        reply: RpcReplyPort<Result<OpenedSession, OpenError>>,
    },
    /// Close a session (DELETE): replies `false` if it was unknown or already ending.
    Close {
        id: SessionId,
        /// `true` once the session and its child are stopped.
        reply: RpcReplyPort<bool>,
    },
    /// A session began to end by itself: unlist it now; it stops on its own.
    Closing { actor: ActorId, reason: CloseReason },
    /// Shutdown: refuse new sessions, let every session finish its requests in flight (up to
    /// `timeout`), then stop them all; replies when every session and child is stopped.
    Drain {
        timeout: Duration,
        reply: RpcReplyPort<()>,
    },
    /// Second signal: stop every session now (children are still stopped properly).
    DrainNow,
}

/// Whose session it is, and so which era its child is pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A 2025 client's session: reachable by its `Mcp-Session-Id`, ends when idle.
    Client,
    /// A pooled child of the modern leg that speaks only the 2025 revision: the proxy is its
    /// client (it sent `initialize`), and translates 2026-07-28 requests for it.
    Translated,
    /// A pooled child of the modern leg that speaks 2026-07-28 itself: no handshake; requests
    /// pass through with their envelope, and a crashed child is restarted without a replay.
    Passthrough,
}

impl SessionKind {
    /// Pooled sessions are the proxy's own: never reachable by a session header, never idle.
    pub fn is_pooled(self) -> bool {
        self != SessionKind::Client
    }

    /// For logs, metrics and `/sessions`.
    pub fn label(self) -> &'static str {
        match self {
            SessionKind::Client => "client",
            SessionKind::Translated => "translated",
            SessionKind::Passthrough => "passthrough",
        }
    }

    /// The era of the child, for metrics and `/sessions`.
    pub fn child_era(self) -> &'static str {
        match self {
            SessionKind::Client | SessionKind::Translated => "legacy",
            SessionKind::Passthrough => "modern",
        }
    }
}

/// A session the router opened.
pub struct OpenedSession {
    pub id: SessionId,
    /// The session's published state, which the handler consults if its stream ends early.
    pub stats: std::sync::Arc<crate::session_stats::SessionStats>,
    /// The session's actor, told if the client goes away before the `initialize` answer.
    pub actor: ractor::ActorRef<SessionMsg>,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the proxy is shutting down and accepts no new sessions")]
    Draining,
    #[error("the proxy already serves its maximum of {0} sessions (--max-sessions)")]
    Full(usize),
    #[error("cannot mint a session id: {0}")]
    Random(getrandom::Error),
    #[error("cannot start the session actor: {0}")]
    Spawn(#[from] ractor::SpawnErr),
}
