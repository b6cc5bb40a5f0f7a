//! Command line and environment → a validated [`Config`].
//!
//! Flag names, defaults and environment variables here are the product's public interface and
//! are documented in README.md; change them only together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::backoff::RestartPolicy;
use crate::session_id::{InstanceId, InvalidInstanceId};

mod checks;
mod duration;

pub use checks::ConfigError;
pub use duration::{MAX_DURATION, parse_duration};

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

    /// The stdio MCP server to spawn per session: program and arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the span fields (session id, child pid, generation).
    Json,
}

/// The program a session spawns, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// Executable path or name looked up in `PATH`.
    pub program: PathBuf,
    /// Arguments passed verbatim (no shell).
    pub args: Vec<String>,
}

impl CommandSpec {
    /// How the command is shown in logs and errors.
    pub fn display(&self) -> String {
        let mut shown = self.program.display().to_string();
        for arg in &self.args {
            shown.push(' ');
            shown.push_str(arg);
        }
        shown
    }
}

/// Everything a session needs to know, shared by all sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// What to spawn.
    pub command: CommandSpec,
    /// Cap on one stdout line of the child.
    pub max_message_bytes: usize,
    /// Capacity of each client stream's channel; a full channel detaches that stream.
    pub stream_capacity: usize,
    /// How long each step of a child's graceful stop waits before escalating.
    pub kill_grace: Duration,
    /// When to restart a crashed child and when to give up.
    pub restart: RestartPolicy,
    /// Period of liveness pings to the child, if enabled.
    pub ping_interval: Option<Duration>,
    /// How long a ping may go unanswered.
    pub ping_timeout: Duration,
    /// Longest a client request may wait for the child, if enabled.
    pub request_timeout: Option<Duration>,
    /// Most client requests kept waiting while the child restarts.
    pub restart_queue_limit: usize,
    /// Most requests in flight per session.
    pub max_inflight: usize,
    /// Idle time after which a session ends itself, if enabled.
    pub idle_timeout: Option<Duration>,
    /// Most messages waiting in a session's mailbox (client messages and child frames).
    pub mailbox_capacity: usize,
    /// Most frames waiting to be written to a child's stdin.
    pub stdin_queue_capacity: usize,
    /// Most bytes of message data this session may hold queued, per direction
    /// (`--max-session-buffer-bytes`).
    pub session_buffer_bytes: usize,
    /// Most bytes of message data all sessions may hold queued, per direction
    /// (`--max-buffer-bytes`); the router builds the one shared budget from it.
    pub global_buffer_bytes: usize,
    /// Longest a request may wait for a restarting child.
    pub restart_queue_timeout: Duration,
    /// `--instance-id`: the prefix of minted session ids.
    pub instance_id: Option<InstanceId>,
}

/// Limits and timeouts of the HTTP connections on the main listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionConfig {
    /// Most open connections; `None` derives it from the descriptor limit at startup.
    pub max_connections: Option<usize>,
    /// Longest wait for a whole request head.
    pub header_read_timeout: Duration,
    /// Longest a kept-alive connection may sit with no request.
    pub idle_timeout: Duration,
    /// How long connections may finish after the session drain.
    pub shutdown_grace: Duration,
}

/// Pre-spawned children (`--prespawn`, `--prespawn-max-age`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrespawnConfig {
    /// How many spares to keep ready (0: none, every child is spawned on demand).
    pub count: usize,
    /// Age at which a waiting spare is replaced, if enabled.
    pub max_age: Option<Duration>,
}

/// Validated configuration of the whole proxy.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP endpoint path, always starting with `/`.
    pub endpoint: String,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Extra allowed origins (`*` allows all).
    pub allow_origin: Vec<String>,
    /// Extra allowed host names when bound to loopback (`*` allows all).
    pub allow_host: Vec<String>,
    /// SSE keep-alive period; `None` disables keep-alive comments.
    pub sse_keepalive: Option<Duration>,
    /// Most concurrent sessions.
    pub max_sessions: usize,
    /// Spare children kept ready.
    pub prespawn: PrespawnConfig,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// Separate listener for metrics and `/sessions`, if any.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Limits and timeouts of HTTP connections.
    pub connections: ConnectionConfig,
    /// Per-session settings.
    pub session: Arc<SessionConfig>,
    /// Deadline for reading a request body, if any.
    pub body_read_timeout: Option<Duration>,
    /// Delay after which a request without answer yet switches to SSE, if enabled.
    pub sse_after: Option<Duration>,
}

impl Config {
    /// `--instance-id`, if set (kept in the per-session settings, which mint the ids).
    pub fn instance_id(&self) -> Option<&InstanceId> {
        self.session.instance_id.as_ref()
    }
}

impl Cli {
    /// Checks the flags and resolves the command (the built-in demo server when none is given).
    pub fn into_config(self) -> Result<Config, ConfigError> {
        checks::check(&self)?;
        let command = match self.command.split_first() {
            Some((program, args)) => CommandSpec {
                program: PathBuf::from(program),
                args: args.to_vec(),
            },
            None => CommandSpec {
                program: std::env::current_exe().map_err(ConfigError::CurrentExe)?,
                args: vec![DEMO_SERVER_SUBCOMMAND.to_string()],
            },
        };
        Ok(Config {
            endpoint: self.endpoint,
            max_body_bytes: self.max_body_bytes,
            allow_origin: self.allow_origin,
            allow_host: self.allow_host,
            sse_keepalive: (self.sse_keepalive > 0)
                .then(|| Duration::from_secs(self.sse_keepalive)),
            max_sessions: self.max_sessions,
            prespawn: PrespawnConfig {
                count: self.prespawn,
                max_age: nonzero(self.prespawn_max_age),
            },
            shutdown_timeout: self.shutdown_timeout,
            metrics_addr: self.metrics_addr,
            connections: ConnectionConfig {
                max_connections: self.max_connections,
                header_read_timeout: self.header_read_timeout,
                idle_timeout: self.idle_connection_timeout,
                shutdown_grace: self.shutdown_grace,
            },
            session: Arc::new(SessionConfig {
                command,
                max_message_bytes: self.max_message_bytes,
                stream_capacity: 1024,
                kill_grace: self.kill_grace,
                restart: RestartPolicy {
                    max_restarts: self.max_restarts,
                    window: self.restart_window,
                    backoff_min: self.restart_backoff_min,
                    backoff_max: self.restart_backoff_max,
                },
                ping_interval: nonzero(self.ping_interval),
                ping_timeout: self.ping_timeout,
                request_timeout: nonzero(self.request_timeout),
                restart_queue_limit: self.max_inflight,
                max_inflight: self.max_inflight,
                idle_timeout: nonzero(self.session_idle_timeout),
                mailbox_capacity: self.max_inflight.saturating_add(1024),
                stdin_queue_capacity: 4096,
                session_buffer_bytes: self.max_session_buffer_bytes,
                global_buffer_bytes: self.max_buffer_bytes,
                restart_queue_timeout: self.restart_backoff_max.max(Duration::from_secs(30)),
                instance_id: self.instance_id,
            }),
            body_read_timeout: nonzero(self.body_read_timeout),
            sse_after: nonzero(self.sse_after),
        })
    }
}

/// `--instance-id`'s parser: the error names the rule.
fn parse_instance_id(name: &str) -> Result<InstanceId, InvalidInstanceId> {
    InstanceId::parse(name)
}

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// First argument that makes this binary act as the built-in demo stdio MCP server.
pub const DEMO_SERVER_SUBCOMMAND: &str = "demo-server";

#[cfg(test)]
mod tests;
