//! The label sets of the proxy's metrics, each a closed list: methods (custom ones count as
//! `other`), failure reasons, limits, directions, message kinds and exit causes. A label value
//! never comes from input, so no client can create new series.

use crate::budget::OverBudget;
use crate::frame::FrameKind;

/// MCP methods that get their own `method` label; everything else is `other`, so custom
/// methods cannot create unbounded label values.
pub const METHODS: [&str; 17] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/list",
    "tasks/cancel",
    "other",
];

/// Index of a method's label in [`METHODS`].
pub fn method_label(method: Option<&str>) -> usize {
    let other = METHODS.len() - 1;
    method
        .and_then(|name| METHODS[..other].iter().position(|known| *known == name))
        .unwrap_or(other)
}

/// Why a request failed, as the `reason` label of `requests_failed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The MCP server answered with a JSON-RPC error.
    ErrorResponse,
    /// The MCP server process exited while the request was in flight.
    ChildExited,
    /// `--request-timeout` expired.
    Timeout,
    /// A limit refused it (`--max-inflight`, restart queue, stdin queue).
    Limit,
    /// The session ended (DELETE, idle, shutdown, restart limit).
    SessionClosed,
    /// The proxy is shutting down.
    Shutdown,
    /// The MCP server's answer could not be read (not JSON-RPC, or over
    /// `--max-message-bytes`).
    Unreadable,
}

impl FailReason {
    pub(super) const ALL: [FailReason; 7] = [
        FailReason::ErrorResponse,
        FailReason::ChildExited,
        FailReason::Timeout,
        FailReason::Limit,
        FailReason::SessionClosed,
        FailReason::Shutdown,
        FailReason::Unreadable,
    ];

    pub(super) fn label(self) -> &'static str {
        match self {
            FailReason::ErrorResponse => "error_response",
            FailReason::ChildExited => "child_exited",
            FailReason::Timeout => "timeout",
            FailReason::Limit => "limit",
            FailReason::SessionClosed => "session_closed",
            FailReason::Shutdown => "shutdown",
            FailReason::Unreadable => "unreadable_answer",
        }
    }
}

/// A limit that refused work, as the `limit` label of `limit_hits_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `--max-sessions`: an initialize got 503.
    MaxSessions = 0,
    /// `--max-inflight`: a request got 429.
    MaxInflight = 1,
    /// A session's mailbox was full: a message got 429.
    Mailbox = 2,
    /// `--max-body-bytes`: a body got 413.
    MaxBodyBytes = 3,
    /// `--max-message-bytes`: a child's stdout line was dropped.
    MaxMessageBytes = 4,
    /// A child's stdin queue was full: a message was refused.
    StdinQueue = 5,
    /// Too many requests waiting for a restarting child.
    RestartQueue = 6,
    /// `--max-session-buffer-bytes`: a session holds too much queued data.
    SessionBufferBytes = 7,
    /// `--max-buffer-bytes`: all sessions together hold too much queued data.
    BufferBytes = 8,
    /// A child sent more requests to the client than `--max-inflight` at once.
    ServerRequests = 9,
    /// `--max-connections`: a new connection got 503 (or was closed) at once.
    MaxConnections = 10,
    /// `--header-read-timeout`: a connection was closed before sending a whole request head.
    HeaderReadTimeout = 11,
}

pub(super) const LIMITS: [&str; 12] = [
    "max_sessions",
    "max_inflight",
    "mailbox",
    "max_body_bytes",
    "max_message_bytes",
    "stdin_queue",
    "restart_queue",
    "session_buffer_bytes",
    "buffer_bytes",
    "server_requests",
    "max_connections",
    "header_read_timeout",
];

impl From<OverBudget> for Limit {
    fn from(over: OverBudget) -> Limit {
        match over {
            OverBudget::Session => Limit::SessionBufferBytes,
            OverBudget::Global => Limit::BufferBytes,
        }
    }
}

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the HTTP client to the child's stdin.
    ClientToChild = 0,
    /// From the child's stdout to the HTTP client.
    ChildToClient = 1,
}

/// Why a spare child was replaced, as the `reason` label of `spare_children_replaced_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpareReplaced {
    /// The spare exited (crashed, was killed) while it waited for a session.
    Exited = 0,
    /// The spare waited longer than `--prespawn-max-age` and was stopped.
    Expired = 1,
}

pub(super) const SPARE_REPLACED: [&str; 2] = ["exited", "expired"];

/// Values of the `cause` label of `child_exits_total`.
pub const EXIT_CAUSES: [&str; 4] = ["exit_code", "signal", "unknown", "stopped"];

pub(super) const DIRECTIONS: [&str; 2] = ["client_to_child", "child_to_client"];
pub(super) const KINDS: [&str; 4] = ["request", "notification", "response", "error"];

pub(super) fn kind_index(kind: FrameKind) -> usize {
    match kind {
        FrameKind::Request => 0,
        FrameKind::Notification => 1,
        FrameKind::Response => 2,
        FrameKind::Error => 3,
    }
}
