//! Flag parsing and the defaults of [`Cli`](super::Cli): the reference CLI the README documents.

use super::*;
use clap::Parser;

#[test]
fn defaults_match_the_reference_cli() {
    let cli = Cli::try_parse_from(["hyper-mcp-proxy"]).unwrap();
    assert_eq!(cli.host, "127.0.0.1");
    assert_eq!(cli.port, 8080);
    assert_eq!(cli.endpoint, "/mcp");
    assert_eq!(cli.max_body_bytes, 16_777_216);
    let config = cli.into_config().unwrap();
    assert_eq!(config.session.command.args, vec!["demo-server".to_string()]);
    assert_eq!(config.session.max_message_bytes, 16_777_216);
    assert_eq!(config.session.session_buffer_bytes, 67_108_864);
    assert_eq!(config.session.global_buffer_bytes, 536_870_912);
    assert_eq!(
        config.prespawn,
        PrespawnConfig {
            count: 0,
            max_age: Some(Duration::from_secs(600)),
        }
    );
}

#[test]
fn prespawn_max_age_zero_never_expires() {
    let cli = Cli::try_parse_from([
        "hyper-mcp-proxy",
        "--prespawn",
        "2",
        "--prespawn-max-age",
        "0",
    ])
    .unwrap();
    let config = cli.into_config().unwrap();
    assert_eq!(
        config.prespawn,
        PrespawnConfig {
            count: 2,
            max_age: None,
        }
    );
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

#[test]
fn byte_budgets_come_from_their_flags() {
    let cli = Cli::try_parse_from([
        "hyper-mcp-proxy",
        "--max-session-buffer-bytes",
        "2000",
        "--max-buffer-bytes",
        "9000",
        "--max-body-bytes",
        "1000",
        "--max-message-bytes",
        "1500",
    ])
    .unwrap();
    let config = cli.into_config().unwrap();
    assert_eq!(config.session.session_buffer_bytes, 2000);
    assert_eq!(config.session.global_buffer_bytes, 9000);
    assert_eq!(config.max_body_bytes, 1000);
    assert_eq!(config.session.max_message_bytes, 1500);
}

#[test]
fn duration_flags_refuse_more_than_seven_days() {
    let err = Cli::try_parse_from(["hyper-mcp-proxy", "--kill-grace", "8d"]).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    let cli = Cli::try_parse_from(["hyper-mcp-proxy", "--request-timeout", "1h30m"]).unwrap();
    assert_eq!(cli.request_timeout, Duration::from_secs(5400));
}

#[test]
fn instance_id_prefixes_session_ids_when_set() {
    let config = Cli::try_parse_from(["hyper-mcp-proxy"])
        .unwrap()
        .into_config()
        .unwrap();
    assert_eq!(config.instance_id(), None);
    let config = Cli::try_parse_from(["hyper-mcp-proxy", "--instance-id", "eu-west-1"])
        .unwrap()
        .into_config()
        .unwrap();
    assert_eq!(
        config.instance_id().map(|id| id.as_str()),
        Some("eu-west-1")
    );
}

#[test]
fn instance_id_must_be_letters_digits_and_dashes() {
    for bad in ["a.b", "a_b", "", "proxy 1", "ü"] {
        let err = Cli::try_parse_from(["hyper-mcp-proxy", "--instance-id", bad]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("--instance-id"), "{bad:?}: {message}");
        assert!(
            message.contains("letters, digits and '-'"),
            "{bad:?}: {message}"
        );
    }
    let err =
        Cli::try_parse_from(["hyper-mcp-proxy", "--instance-id", &"x".repeat(64)]).unwrap_err();
    assert!(err.to_string().contains("at most 63"), "{err}");
}

#[test]
fn connection_flags_have_the_documented_defaults() {
    let config = Cli::try_parse_from(["hyper-mcp-proxy"])
        .unwrap()
        .into_config()
        .unwrap();
    let connections = config.connections;
    assert_eq!(connections.max_connections, None);
    assert_eq!(connections.header_read_timeout, Duration::from_secs(10));
    assert_eq!(connections.idle_timeout, Duration::from_secs(75));
    assert_eq!(connections.shutdown_grace, Duration::from_secs(5));
    let config = Cli::try_parse_from([
        "hyper-mcp-proxy",
        "--max-connections",
        "500",
        "--header-read-timeout",
        "1s",
        "--idle-connection-timeout",
        "2s",
        "--shutdown-grace",
        "250ms",
    ])
    .unwrap()
    .into_config()
    .unwrap();
    assert_eq!(config.connections.max_connections, Some(500));
    assert_eq!(
        config.connections.header_read_timeout,
        Duration::from_secs(1)
    );
    assert_eq!(config.connections.idle_timeout, Duration::from_secs(2));
    assert_eq!(
        config.connections.shutdown_grace,
        Duration::from_millis(250)
    );
}
