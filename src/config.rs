//! Command line and environment → a validated [`Config`].
//!
//! Flag names, defaults and environment variables here are the product's public interface and
//! are documented in README.md; change them only together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::backoff::RestartPolicy;
use crate::session_id::{InstanceId, InvalidInstanceId};

mod checks;
mod cli;
mod duration;
mod modern;

pub use checks::ConfigError;
pub use cli::Cli;
pub use duration::{MAX_DURATION, parse_duration};
pub use modern::{ChildEraSetting, ModernConfig, ModernMode};

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
    /// The modern leg (2026-07-28 clients).
    pub modern: ModernConfig,
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
            modern: ModernConfig {
                mode: self.modern,
                child_era: self.child_era,
                probe_timeout: self.child_era_probe_timeout,
                pool_min: self.modern_pool_min,
                pool_max: self.modern_pool_max,
                lease_wait: self.modern_lease_wait,
                partition_header: self
                    .modern_partition_header
                    .map(|name| name.to_ascii_lowercase()),
                recycle_after: (self.modern_recycle_after > 0).then_some(self.modern_recycle_after),
                max_age: nonzero(self.modern_max_age),
                idle_timeout: nonzero(self.modern_idle_timeout),
                input_ttl: self.modern_input_ttl,
                roots: self.roots,
            },
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
