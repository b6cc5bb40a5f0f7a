//! `Cli`: every flag of the command line, with its environment variable and default. These
//! are the product's public interface (documented in README.md); `config.rs` turns them into
//! a validated [`super::Config`].

use std::time::Duration;

use clap::Parser;

use super::{ChildEraSetting, LogFormat, ModernMode, parse_duration, parse_instance_id};
use crate::session_id::InstanceId;

/// `hyper-mcp-proxy [OPTIONS] [-- <COMMAND> [ARGS...]]`
#[derive(Debug, Clone, Parser)]
#[command(
    name = "hyper-mcp-proxy",
    version,
    about = "Serve a stdio MCP server over Streamable HTTP, one supervised child process per session",
    after_help = "With no COMMAND, the built-in demo MCP server is spawned for each session."
)]
pub struct Cli {
    /// Address to bind the HTTP listener to: an IP address or a host name (e.g. localhost).
    #[arg(
        short = 'H',
        long,
        env = "HYPER_MCP_PROXY_HOST",
        default_value = "127.0.0.1"
    )]
    pub host: String,

    /// Port to bind to (0 picks a free port; the startup log line says which).
    #[arg(
        short = 'p',
        long,
        env = "HYPER_MCP_PROXY_PORT",
        default_value_t = 8080
    )]
    pub port: u16,

    /// URL path the MCP endpoint is mounted on.
    #[arg(
        short = 'e',
        long,
        env = "HYPER_MCP_PROXY_ENDPOINT",
        default_value = "/mcp"
    )]
    pub endpoint: String,

    /// Largest accepted HTTP request body, in bytes (larger bodies get 413).
    /// At most --max-session-buffer-bytes.
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest line the child may write to stdout, in bytes (longer lines are dropped and logged).
    /// At most --max-session-buffer-bytes.
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_MESSAGE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Most bytes of message data one session may hold queued in each direction (client to
    /// server and server to client counted separately). At most --max-buffer-bytes.
    #[arg(
        long,
        env = "HYPER_MCP_PROXY_MAX_SESSION_BUFFER_BYTES",
        default_value_t = 64 * 1024 * 1024
    )]
    pub max_session_buffer_bytes: usize,

    /// Most bytes of message data all sessions together may hold queued in each direction.
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_BUFFER_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub max_buffer_bytes: usize,

    /// Extra allowed `Origin` values (e.g. https://app.example.com), or `*` for any.
    /// Localhost origins are always allowed.
    #[arg(
        long = "allow-origin",
        env = "HYPER_MCP_PROXY_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    pub allow_origin: Vec<String>,

    /// Extra allowed `Host` header names while bound to loopback (e.g. proxy.internal), or `*`.
    #[arg(
        long = "allow-host",
        env = "HYPER_MCP_PROXY_ALLOW_HOST",
        value_delimiter = ','
    )]
    pub allow_host: Vec<String>,

    /// Seconds between SSE keep-alive comments on idle streams (0 disables; at most 7 days).
    #[arg(long, env = "HYPER_MCP_PROXY_SSE_KEEPALIVE", default_value_t = 15)]
    pub sse_keepalive: u64,

    /// Most concurrent sessions; further initialize requests get 503 with Retry-After.
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_SESSIONS", default_value_t = 1024)]
    pub max_sessions: usize,

    /// Started, not yet initialized children of the command kept ready: a new session (or a
    /// restart) takes one, so its `initialize` goes to a process that has already loaded its
    /// code, and a replacement starts in the background. Spares are extra processes beyond
    /// --max-sessions (at most 1024, and at most --max-sessions).
    #[arg(
        long,
        env = "HYPER_MCP_PROXY_PRESPAWN",
        value_name = "N",
        default_value_t = 0
    )]
    pub prespawn: usize,

    /// A spare child waiting this long is stopped and replaced by a fresh one (0: never).
    #[arg(long, env = "HYPER_MCP_PROXY_PRESPAWN_MAX_AGE", default_value = "10m", value_parser = parse_duration)]
    pub prespawn_max_age: Duration,

    /// Most requests in flight per session; further requests get 429.
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_INFLIGHT", default_value_t = 256)]
    pub max_inflight: usize,

    /// A session with no request in flight, no open stream and no traffic for this long ends
    /// itself (0 disables).
    #[arg(long, env = "HYPER_MCP_PROXY_SESSION_IDLE_TIMEOUT", default_value = "30m", value_parser = parse_duration)]
    pub session_idle_timeout: Duration,

    /// Each step of stopping a child (stdin closed → SIGTERM → SIGKILL) waits this long.
    #[arg(long, env = "HYPER_MCP_PROXY_KILL_GRACE", default_value = "2s", value_parser = parse_duration)]
    pub kill_grace: Duration,

    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish before every session
    /// is stopped anyway. A second signal skips the wait.
    #[arg(long, env = "HYPER_MCP_PROXY_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// After the session drain, how long open HTTP connections may take to finish their
    /// current response before they are closed (0 closes them at once).
    #[arg(long, env = "HYPER_MCP_PROXY_SHUTDOWN_GRACE", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Most open HTTP connections; beyond it a new connection gets 503 with Retry-After and is
    /// closed. Default: (descriptor limit - 128) / 2, read after raising the soft limit to the
    /// hard limit.
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// A connection must deliver a whole request head (request line and headers) within this
    /// long of being opened, or of its first byte after an idle period; else it is closed.
    #[arg(long, env = "HYPER_MCP_PROXY_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// A kept-alive connection with no request in progress and no byte received for this long
    /// is closed.
    #[arg(long, env = "HYPER_MCP_PROXY_IDLE_CONNECTION_TIMEOUT", default_value = "75s", value_parser = parse_duration)]
    pub idle_connection_timeout: Duration,

    /// Serve /metrics, /healthz, /readyz and /sessions on this separate address (then
    /// /metrics is not served on the main listener).
    #[arg(long, env = "HYPER_MCP_PROXY_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Log format: `text` (human-readable) or `json` (one JSON object per line).
    #[arg(long, env = "HYPER_MCP_PROXY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Threads serving HTTP and the session actors. One is enough for tens of thousands of
    /// calls a second and avoids cross-thread wake-ups; raise it on busy many-core hosts.
    #[arg(long, env = "HYPER_MCP_PROXY_WORKER_THREADS", default_value_t = 1)]
    pub worker_threads: usize,

    /// Most child restarts allowed within --restart-window; beyond it the session ends.
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_RESTARTS", default_value_t = 5)]
    pub max_restarts: u32,

    /// Window in which restarts are counted (and uptime after which backoff resets).
    #[arg(long, env = "HYPER_MCP_PROXY_RESTART_WINDOW", default_value = "60s", value_parser = parse_duration)]
    pub restart_window: Duration,

    /// First restart backoff (doubles per consecutive restart, with jitter).
    #[arg(long, env = "HYPER_MCP_PROXY_RESTART_BACKOFF_MIN", default_value = "100ms", value_parser = parse_duration)]
    pub restart_backoff_min: Duration,

    /// Largest restart backoff.
    #[arg(long, env = "HYPER_MCP_PROXY_RESTART_BACKOFF_MAX", default_value = "10s", value_parser = parse_duration)]
    pub restart_backoff_max: Duration,

    /// Ping the child this often to catch hung servers (0 = off).
    #[arg(long, env = "HYPER_MCP_PROXY_PING_INTERVAL", default_value = "0", value_parser = parse_duration)]
    pub ping_interval: Duration,

    /// A child that does not answer a ping within this time is killed and restarted.
    #[arg(long, env = "HYPER_MCP_PROXY_PING_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub ping_timeout: Duration,

    /// Answer requests that take longer with a JSON-RPC error and cancel them (0 = off).
    #[arg(long, env = "HYPER_MCP_PROXY_REQUEST_TIMEOUT", default_value = "0", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Longest a client may take to send a request body once its headers are in; a slower
    /// body gets 408 (0 = no deadline).
    #[arg(long, env = "HYPER_MCP_PROXY_BODY_READ_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub body_read_timeout: Duration,

    /// A request with nothing to send back after this long is answered with an SSE stream at
    /// once (priming event, keep-alives, then the answer), so proxies and load balancers do
    /// not cut a long call (0 = wait for the first message, however long).
    #[arg(long, env = "HYPER_MCP_PROXY_SSE_AFTER", default_value = "2s", value_parser = parse_duration)]
    pub sse_after: Duration,

    /// Name of this proxy instance behind a load balancer: letters, digits and `-`. Session ids
    /// become `NAME.<random hex>`, metrics get an `instance_id` label, session log lines an
    /// `instance` field, and a request for another instance's session is answered 404 and
    /// counted as misrouted.
    #[arg(long, env = "HYPER_MCP_PROXY_INSTANCE_ID", value_name = "NAME", value_parser = parse_instance_id)]
    pub instance_id: Option<InstanceId>,

    /// Serving MCP 2026-07-28 clients: `auto` passes them through to a child that speaks
    /// 2026-07-28 and refuses them (so they fall back to a session) for a legacy-only child;
    /// `translate` also serves them from a legacy-only child, over a pool of shared,
    /// pre-initialized children; `off` never serves them.
    #[arg(long, env = "HYPER_MCP_PROXY_MODERN", value_enum, default_value_t = ModernMode::Auto)]
    pub modern: ModernMode,

    /// What the command's server speaks: `auto` probes a throwaway child with
    /// `server/discover` at startup; `legacy` or `modern` skip the probe.
    #[arg(long, env = "HYPER_MCP_PROXY_CHILD_ERA", value_enum, default_value_t = ChildEraSetting::Auto)]
    pub child_era: ChildEraSetting,

    /// Longest wait for the probe child's answer; silence counts as legacy.
    #[arg(long, env = "HYPER_MCP_PROXY_CHILD_ERA_PROBE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub child_era_probe_timeout: Duration,

    /// Pooled children for modern clients started at startup and kept ready (translated:
    /// of the partition without interactive capabilities).
    #[arg(long, env = "HYPER_MCP_PROXY_MODERN_POOL_MIN", default_value_t = 1)]
    pub modern_pool_min: usize,

    /// Most pooled children for modern clients: per capability partition when translating,
    /// in total when passing through. Requests share them (multiplexed).
    #[arg(long, env = "HYPER_MCP_PROXY_MODERN_POOL_MAX", default_value_t = 4)]
    pub modern_pool_max: usize,

    /// Longest a modern request waits for a pooled child; then 503 with Retry-After.
    #[arg(long, env = "HYPER_MCP_PROXY_MODERN_LEASE_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub modern_lease_wait: Duration,

    /// A request header (e.g. the authenticated principal set by a gateway) whose value
    /// partitions translated children: callers with different values never share a child.
    #[arg(
        long,
        env = "HYPER_MCP_PROXY_MODERN_PARTITION_HEADER",
        value_name = "HEADER"
    )]
    pub modern_partition_header: Option<String>,

    /// A pooled child is replaced after this many requests (0: never).
    #[arg(
        long,
        env = "HYPER_MCP_PROXY_MODERN_RECYCLE_AFTER",
        default_value_t = 10_000
    )]
    pub modern_recycle_after: u64,

    /// A pooled child is replaced once this old (0: never).
    #[arg(long, env = "HYPER_MCP_PROXY_MODERN_MAX_AGE", default_value = "1h", value_parser = parse_duration)]
    pub modern_max_age: Duration,

    /// A pooled child with no request for this long is stopped (the warm partition keeps
    /// --modern-pool-min children; 0: never).
    #[arg(long, env = "HYPER_MCP_PROXY_MODERN_IDLE_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub modern_idle_timeout: Duration,

    /// How long a modern call parked on an InputRequiredResult (elicitation, sampling, roots)
    /// waits for the client's retry; then the server's request is answered as cancelled.
    #[arg(long, env = "HYPER_MCP_PROXY_MODERN_INPUT_TTL", default_value = "10m", value_parser = parse_duration)]
    pub modern_input_ttl: Duration,

    /// Root URIs (comma-separated) a pooled child gets when it asks `roots/list` outside an
    /// interactive modern request (default: no roots).
    #[arg(
        long,
        env = "HYPER_MCP_PROXY_ROOTS",
        value_delimiter = ',',
        value_name = "URI"
    )]
    pub roots: Vec<String>,

    /// The stdio MCP server to spawn per session: program and arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}
