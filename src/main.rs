//! The `hyper-mcp-proxy` binary: parses the command line, sets up logging, binds the listener
//! and runs the proxy until SIGINT or SIGTERM. `hyper-mcp-proxy demo-server` runs the built-in
//! demo stdio MCP server instead.

use anyhow::Context;
use clap::Parser;
use hyper_mcp_proxy::config::{Cli, DEMO_SERVER_SUBCOMMAND, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some(DEMO_SERVER_SUBCOMMAND) {
        return run_demo_server();
    }
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let (host, port) = (cli.host.clone(), cli.port);
    let worker_threads = cli.worker_threads;
    let config = cli.into_config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // A host name resolves here; the first address it resolves to is bound.
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .with_context(|| format!("cannot listen on {host}:{port} (check --host and --port)"))?;
        let bound = listener.local_addr()?;
        tracing::info!(
            command = %config.session.command.display(),
            "listening on http://{bound}{}",
            config.endpoint
        );
        let (signals_tx, signals) = tokio::sync::watch::channel(0u32);
        tokio::spawn(count_shutdown_signals(signals_tx));
        hyper_mcp_proxy::run(listener, config, signals).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn run_demo_server() -> anyhow::Result<()> {
    let options = hyper_mcp_proxy::demo::DemoOptions::parse_from(std::env::args().skip(1));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(hyper_mcp_proxy::demo::serve_stdio(options))?;
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hyper_mcp_proxy=debug"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One object per line. `span` is the event's own span (tracing-subscriber's span list
        // ignores explicit parents), so every span the proxy logs in carries the session id
        // itself, and a child's span adds its pid and generation.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Counts SIGINT and SIGTERM deliveries into `signals`.
async fn count_shutdown_signals(signals: tokio::sync::watch::Sender<u32>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
        (Err(err), _) | (_, Err(err)) => {
            tracing::error!(error = %err, "cannot listen for SIGINT/SIGTERM; the proxy can only be killed");
            std::future::pending::<()>().await;
            return;
        }
    };
    loop {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received"),
            _ = terminate.recv() => tracing::info!("SIGTERM received"),
        }
        signals.send_modify(|count| *count += 1);
    }
}
