//! Command line and environment → a validated [`Config`].
//!
//! Flag names, defaults and environment variables here are the product's public interface and
//! are documented in README.md; change them only together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::backoff::RestartPolicy;

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
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest line the child may write to stdout, in bytes (longer lines are dropped and logged).
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_message_bytes: usize,

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

    /// Seconds between SSE keep-alive comments on idle streams (0 disables).
    #[arg(long, env = "HYPER_MCP_PROXY_SSE_KEEPALIVE", default_value_t = 15)]
    pub sse_keepalive: u64,

    /// Most concurrent sessions; further initialize requests get 503 with Retry-After.
    #[arg(long, env = "HYPER_MCP_PROXY_MAX_SESSIONS", default_value_t = 1024)]
    pub max_sessions: usize,

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
    /// Longest a request may wait for a restarting child.
    pub restart_queue_timeout: Duration,
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
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// Separate listener for metrics and `/sessions`, if any.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Per-session settings.
    pub session: Arc<SessionConfig>,
}

/// A configuration the proxy refuses to start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The endpoint is not an absolute path.
    #[error("--endpoint must start with '/', got {0:?}")]
    Endpoint(String),
    /// The path of this executable, needed for the built-in demo server, is unknown.
    #[error("cannot find this executable to run the built-in demo server: {0}")]
    CurrentExe(std::io::Error),
    /// A limit was set to zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}

impl Cli {
    /// Checks the flags and resolves the command (the built-in demo server when none is given).
    pub fn into_config(self) -> Result<Config, ConfigError> {
        if !self.endpoint.starts_with('/') {
            return Err(ConfigError::Endpoint(self.endpoint));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::Zero("--max-body-bytes"));
        }
        if self.max_message_bytes == 0 {
            return Err(ConfigError::Zero("--max-message-bytes"));
        }
        if self.max_sessions == 0 {
            return Err(ConfigError::Zero("--max-sessions"));
        }
        if self.max_inflight == 0 {
            return Err(ConfigError::Zero("--max-inflight"));
        }
        if self.worker_threads == 0 {
            return Err(ConfigError::Zero("--worker-threads"));
        }
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
            shutdown_timeout: self.shutdown_timeout,
            metrics_addr: self.metrics_addr,
            session: Arc::new(SessionConfig {
                command,
                max_message_bytes: self.max_message_bytes,
                stream_capacity: 1024,
                kill_grace: self.kill_grace,
                restart: RestartPolicy {
                    max_restarts: self.max_restarts,
                    window: self.restart_window,
                    backoff_min: self.restart_backoff_min,
                    backoff_max: self.restart_backoff_max.max(self.restart_backoff_min),
                },
                ping_interval: nonzero(self.ping_interval),
                ping_timeout: self.ping_timeout,
                request_timeout: nonzero(self.request_timeout),
                restart_queue_limit: self.max_inflight,
                max_inflight: self.max_inflight,
                idle_timeout: nonzero(self.session_idle_timeout),
                mailbox_capacity: self.max_inflight + 1024,
                stdin_queue_capacity: 4096,
                restart_queue_timeout: self.restart_backoff_max.max(Duration::from_secs(30)),
            }),
        })
    }
}

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// Parses a duration flag: `250ms`, `10s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 250ms, 10s, 5m, 1h)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("{text:?}: {err}"))
}

/// First argument that makes this binary act as the built-in demo stdio MCP server.
pub const DEMO_SERVER_SUBCOMMAND: &str = "demo-server";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_reference_cli() {
        let cli = Cli::try_parse_from(["hyper-mcp-proxy"]).unwrap();
        assert_eq!(cli.host, "127.0.0.1");
        assert_eq!(cli.port, 8080);
        assert_eq!(cli.endpoint, "/mcp");
        assert_eq!(cli.max_body_bytes, 67_108_864);
        let config = cli.into_config().unwrap();
        assert_eq!(config.session.command.args, vec!["demo-server".to_string()]);
    }

    #[test]
    fn command_after_double_dash_is_taken_verbatim() {
        let cli = Cli::try_parse_from([
            "hyper-mcp-proxy",
            "-H",
            "0.0.0.0",
            "-p",
            "3000",
            "-e",
            "/v1/mcp",
            "--",
            "my-server",
            "--flag",
            "value",
        ])
        .unwrap();
        let config = cli.into_config().unwrap();
        assert_eq!(config.endpoint, "/v1/mcp");
        assert_eq!(config.session.command.program, PathBuf::from("my-server"));
        assert_eq!(config.session.command.args, vec!["--flag", "value"]);
        assert_eq!(config.session.command.display(), "my-server --flag value");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn restart_flags_have_the_documented_defaults() {
        let config = Cli::try_parse_from(["hyper-mcp-proxy"])
            .unwrap()
            .into_config()
            .unwrap();
        let restart = config.session.restart;
        assert_eq!(restart.max_restarts, 5);
        assert_eq!(restart.window, Duration::from_secs(60));
        assert_eq!(restart.backoff_min, Duration::from_millis(100));
        assert_eq!(restart.backoff_max, Duration::from_secs(10));
        assert_eq!(config.session.ping_interval, None);
        assert_eq!(config.max_sessions, 1024);
        assert_eq!(config.session.max_inflight, 256);
        assert_eq!(config.session.idle_timeout, Some(Duration::from_secs(1800)));
        assert_eq!(config.session.kill_grace, Duration::from_secs(2));
        assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
        assert_eq!(config.session.request_timeout, None);
    }

    #[test]
    fn host_may_be_a_name() {
        let cli = Cli::try_parse_from(["hyper-mcp-proxy", "-H", "localhost"]).unwrap();
        assert_eq!(cli.host, "localhost");
    }

    #[test]
    fn endpoint_must_be_absolute() {
        let cli = Cli::try_parse_from(["hyper-mcp-proxy", "-e", "mcp"]).unwrap();
        assert!(matches!(cli.into_config(), Err(ConfigError::Endpoint(_))));
    }
}
