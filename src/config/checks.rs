//! Which flag values and combinations the proxy refuses to start with, and the
//! [`ConfigError`] that tells the user what to change.

use std::time::Duration;

use super::Cli;
use super::duration::MAX_DURATION;

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
    /// `--modern-pool-min` above `--modern-pool-max`.
    #[error("--modern-pool-min ({min}) must be at most --modern-pool-max ({max})")]
    ModernPool { min: usize, max: usize },
    /// `--modern-partition-header` is not a valid header name.
    #[error("--modern-partition-header {0:?} is not a valid HTTP header name")]
    PartitionHeader(String),
    /// `--restart-window 0`.
    #[error(
        "--restart-window must be greater than zero: with 0 every exit counts as stable and a crash-looping server restarts forever"
    )]
    ZeroRestartWindow,
    /// `--restart-backoff-min` above `--restart-backoff-max`.
    #[error(
        "--restart-backoff-min ({min:?}) is larger than --restart-backoff-max ({max:?}); raise --restart-backoff-max or lower --restart-backoff-min"
    )]
    BackoffOrder {
        /// The first backoff asked for.
        min: Duration,
        /// The largest backoff asked for.
        max: Duration,
    },
    /// `--kill-grace 0`.
    #[error(
        "--kill-grace must be greater than zero: with 0 a server that is exiting on its own is SIGKILLed first and its crash is reported as signal 9; use e.g. 100ms for a fast stop"
    )]
    ZeroKillGrace,
    /// `--ping-timeout 0` while pings are on.
    #[error(
        "--ping-timeout must be greater than zero while --ping-interval is set: with 0 no ping can be answered in time and every ping kills the server; turn pings off with --ping-interval 0 instead"
    )]
    ZeroPingTimeout,
    /// `--sse-keepalive` beyond the duration cap.
    #[error("--sse-keepalive {0} is longer than the 7-day limit ({max} seconds)", max = MAX_DURATION.as_secs())]
    KeepaliveTooLong(u64),
    /// A single message may be larger than a session's buffer budget.
    #[error(
        "{flag} ({bytes}) is larger than --max-session-buffer-bytes ({budget}): a message of the largest allowed size must fit in a session's buffer; raise --max-session-buffer-bytes or lower {flag}"
    )]
    MessageOverSessionBudget {
        /// `--max-body-bytes` or `--max-message-bytes`.
        flag: &'static str,
        /// That flag's value.
        bytes: usize,
        /// `--max-session-buffer-bytes`.
        budget: usize,
    },
    /// A session's budget is larger than the budget of all sessions.
    #[error(
        "--max-session-buffer-bytes ({session}) is larger than --max-buffer-bytes ({global}): one session could never use its budget; raise --max-buffer-bytes or lower --max-session-buffer-bytes"
    )]
    SessionBudgetOverGlobal {
        /// `--max-session-buffer-bytes`.
        session: usize,
        /// `--max-buffer-bytes`.
        global: usize,
    },
    /// `--prespawn` above its cap or above `--max-sessions`.
    #[error(
        "--prespawn ({prespawn}) is larger than {limit}: spares are extra server processes kept idle, at most 1024 and at most --max-sessions ({max_sessions}); lower --prespawn"
    )]
    TooManySpares {
        /// `--prespawn`.
        prespawn: usize,
        /// The bound it broke: `1024` or `--max-sessions`.
        limit: &'static str,
        /// `--max-sessions`.
        max_sessions: usize,
    },
}

/// Most spare children `--prespawn` may ask for.
pub const MAX_PRESPAWN: usize = 1024;

/// Checks every flag that has a value or combination the proxy cannot work with. Durations
/// were already capped by their parser.
pub(super) fn check(cli: &Cli) -> Result<(), ConfigError> {
    if !cli.endpoint.starts_with('/') {
        return Err(ConfigError::Endpoint(cli.endpoint.clone()));
    }
    let nonzero = [
        ("--max-body-bytes", cli.max_body_bytes),
        ("--max-message-bytes", cli.max_message_bytes),
        ("--max-session-buffer-bytes", cli.max_session_buffer_bytes),
        ("--max-buffer-bytes", cli.max_buffer_bytes),
        ("--max-sessions", cli.max_sessions),
        ("--max-inflight", cli.max_inflight),
        ("--worker-threads", cli.worker_threads),
        ("--modern-pool-max", cli.modern_pool_max),
    ];
    if let Some((flag, _)) = nonzero.iter().find(|(_, value)| *value == 0) {
        return Err(ConfigError::Zero(flag));
    }
    if cli.max_connections == Some(0) {
        return Err(ConfigError::Zero("--max-connections"));
    }
    // Zero would close every connection before its first request.
    let nonzero_durations = [
        ("--header-read-timeout", cli.header_read_timeout),
        ("--idle-connection-timeout", cli.idle_connection_timeout),
        ("--child-era-probe-timeout", cli.child_era_probe_timeout),
        ("--modern-lease-wait", cli.modern_lease_wait),
        ("--modern-input-ttl", cli.modern_input_ttl),
    ];
    if let Some((flag, _)) = nonzero_durations.iter().find(|(_, value)| value.is_zero()) {
        return Err(ConfigError::Zero(flag));
    }
    check_byte_budgets(cli)?;
    if cli.restart_window.is_zero() {
        return Err(ConfigError::ZeroRestartWindow);
    }
    // Refused rather than clamped: a silent clamp turns `--restart-backoff-min 30s` (with the
    // default 10s maximum) into a 30s maximum the user never asked for.
    if cli.restart_backoff_min > cli.restart_backoff_max {
        return Err(ConfigError::BackoffOrder {
            min: cli.restart_backoff_min,
            max: cli.restart_backoff_max,
        });
    }
    if cli.kill_grace.is_zero() {
        return Err(ConfigError::ZeroKillGrace);
    }
    if !cli.ping_interval.is_zero() && cli.ping_timeout.is_zero() {
        return Err(ConfigError::ZeroPingTimeout);
    }
    if cli.sse_keepalive > MAX_DURATION.as_secs() {
        return Err(ConfigError::KeepaliveTooLong(cli.sse_keepalive));
    }
    check_modern(cli)?;
    check_prespawn(cli)
}

/// The modern pool's bounds must nest, and its partition header must be a header name.
fn check_modern(cli: &Cli) -> Result<(), ConfigError> {
    if cli.modern_pool_min > cli.modern_pool_max {
        return Err(ConfigError::ModernPool {
            min: cli.modern_pool_min,
            max: cli.modern_pool_max,
        });
    }
    if let Some(name) = &cli.modern_partition_header
        && axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
    {
        return Err(ConfigError::PartitionHeader(name.clone()));
    }
    Ok(())
}

/// Spares are processes kept idle on top of the sessions' children: bounded absolutely, and
/// never more than the sessions they are for.
fn check_prespawn(cli: &Cli) -> Result<(), ConfigError> {
    let limit = if cli.prespawn > MAX_PRESPAWN {
        "1024"
    } else if cli.prespawn > cli.max_sessions {
        "--max-sessions"
    } else {
        return Ok(());
    };
    Err(ConfigError::TooManySpares {
        prespawn: cli.prespawn,
        limit,
        max_sessions: cli.max_sessions,
    })
}

/// Budgets nest: one message ≤ a session's buffer ≤ all sessions' buffers. Otherwise a single
/// allowed message could be refused by the budget that is meant to hold it.
fn check_byte_budgets(cli: &Cli) -> Result<(), ConfigError> {
    let budget = cli.max_session_buffer_bytes;
    for (flag, bytes) in [
        ("--max-body-bytes", cli.max_body_bytes),
        ("--max-message-bytes", cli.max_message_bytes),
    ] {
        if bytes > budget {
            return Err(ConfigError::MessageOverSessionBudget {
                flag,
                bytes,
                budget,
            });
        }
    }
    if budget > cli.max_buffer_bytes {
        return Err(ConfigError::SessionBudgetOverGlobal {
            session: budget,
            global: cli.max_buffer_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// Parses the flags and runs the checks.
    fn checked(flags: &[&str]) -> Result<(), ConfigError> {
        let args = std::iter::once("hyper-mcp-proxy").chain(flags.iter().copied());
        check(&Cli::try_parse_from(args).unwrap())
    }

    #[test]
    fn defaults_pass() {
        assert!(checked(&[]).is_ok());
    }

    #[test]
    fn zero_restart_window_is_refused() {
        let err = checked(&["--restart-window", "0"]).unwrap_err();
        assert!(matches!(err, ConfigError::ZeroRestartWindow));
        assert!(err.to_string().contains("restarts forever"));
    }

    #[test]
    fn backoff_min_above_max_is_refused() {
        let err = checked(&["--restart-backoff-min", "30s"]).unwrap_err();
        assert!(matches!(err, ConfigError::BackoffOrder { .. }), "{err}");
        assert!(err.to_string().contains("raise --restart-backoff-max"));
        assert!(
            checked(&[
                "--restart-backoff-min",
                "10s",
                "--restart-backoff-max",
                "10s"
            ])
            .is_ok()
        );
    }

    #[test]
    fn zero_kill_grace_is_refused() {
        let err = checked(&["--kill-grace", "0"]).unwrap_err();
        assert!(matches!(err, ConfigError::ZeroKillGrace));
        assert!(checked(&["--kill-grace", "1ms"]).is_ok());
    }

    #[test]
    fn zero_ping_timeout_is_refused_only_with_pings_on() {
        let err = checked(&["--ping-interval", "5s", "--ping-timeout", "0"]).unwrap_err();
        assert!(matches!(err, ConfigError::ZeroPingTimeout));
        assert!(checked(&["--ping-timeout", "0"]).is_ok());
    }

    #[test]
    fn keepalive_is_capped_like_durations() {
        assert!(checked(&["--sse-keepalive", "604800"]).is_ok());
        let err = checked(&["--sse-keepalive", "604801"]).unwrap_err();
        assert!(matches!(err, ConfigError::KeepaliveTooLong(604_801)));
    }

    #[test]
    fn zero_connection_limits_are_refused() {
        for flag in [
            "--max-connections",
            "--header-read-timeout",
            "--idle-connection-timeout",
        ] {
            let err = checked(&[flag, "0"]).unwrap_err();
            assert!(
                matches!(err, ConfigError::Zero(named) if named == flag),
                "{err}"
            );
        }
        assert!(checked(&["--shutdown-grace", "0"]).is_ok());
    }

    #[test]
    fn zero_byte_budgets_are_refused() {
        for flag in ["--max-session-buffer-bytes", "--max-buffer-bytes"] {
            let err = checked(&[flag, "0"]).unwrap_err();
            assert!(
                matches!(err, ConfigError::Zero(named) if named == flag),
                "{err}"
            );
        }
    }

    #[test]
    fn one_message_must_fit_a_session_budget() {
        for (flag, other) in [
            ("--max-body-bytes", "--max-message-bytes"),
            ("--max-message-bytes", "--max-body-bytes"),
        ] {
            let err = checked(&[
                flag,
                "2000",
                other,
                "500",
                "--max-session-buffer-bytes",
                "1000",
            ])
            .unwrap_err();
            assert!(
                matches!(err, ConfigError::MessageOverSessionBudget { flag: named, bytes: 2000, budget: 1000 } if named == flag),
                "{err}"
            );
            assert!(err.to_string().contains("raise --max-session-buffer-bytes"));
        }
        assert!(
            checked(&[
                "--max-body-bytes",
                "1000",
                "--max-message-bytes",
                "1000",
                "--max-session-buffer-bytes",
                "1000",
                "--max-buffer-bytes",
                "1000",
            ])
            .is_ok()
        );
    }

    #[test]
    fn prespawn_is_bounded_by_1024_and_max_sessions() {
        assert!(checked(&["--prespawn", "4"]).is_ok());
        assert!(checked(&["--prespawn", "1024"]).is_ok());
        assert!(checked(&["--prespawn", "8", "--max-sessions", "8"]).is_ok());
        let err = checked(&["--prespawn", "1025", "--max-sessions", "4096"]).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::TooManySpares {
                    prespawn: 1025,
                    limit: "1024",
                    max_sessions: 4096
                }
            ),
            "{err}"
        );
        let err = checked(&["--prespawn", "9", "--max-sessions", "8"]).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::TooManySpares {
                    prespawn: 9,
                    limit: "--max-sessions",
                    max_sessions: 8
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("lower --prespawn"), "{err}");
    }

    #[test]
    fn session_budget_must_fit_the_global_budget() {
        let err = checked(&["--max-buffer-bytes", "1000000"]).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::SessionBudgetOverGlobal {
                    session: 67_108_864,
                    global: 1_000_000
                }
            ),
            "{err}"
        );
    }
}
