//! The `hyper-mcp-proxy` binary: parses the command line, sets up logging, binds the listener
//! and runs the proxy until SIGINT, SIGTERM or SIGHUP (drain, then exit) or SIGQUIT (stop at
//! once). `hyper-mcp-proxy demo-server` runs the built-in demo stdio MCP server instead.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use hyper_mcp_proxy::config::{Cli, DEMO_SERVER_SUBCOMMAND, LogFormat};
use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Log lines waiting for stderr before new ones are dropped (and counted): a few MiB at most.
const LOG_QUEUE_LINES: usize = 16 * 1024;

/// Once the proxy has stopped, how long tasks still running may take to be cancelled.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some(DEMO_SERVER_SUBCOMMAND) {
        return run_demo_server();
    }
    let cli = Cli::parse();
    // Kept until the end of `main`: dropping it writes the lines still queued.
    let (_log_writer, dropped_lines) = init_tracing(cli.log_format);
    let (host, port) = (cli.host.clone(), cli.port);
    let worker_threads = cli.worker_threads;
    let config = cli.into_config()?;
    // One thread (the default): tokio's current-thread scheduler, which wakes a task with a
    // plain queue push where the multi-thread one also coordinates with idle workers.
    let mut builder = if worker_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(worker_threads);
        builder
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(async move {
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
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    let dropped = dropped_lines.dropped_lines();
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "log lines were dropped because stderr did not keep up"
        );
    }
    served
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

/// The log filter when `RUST_LOG` is not set. `ractor::actor=warn`: ractor opens two INFO
/// spans ("Actor", with its id) per actor that last as long as it does, four per session, about
/// 1 KiB of registry entries and formatted fields; its own events there are warnings and errors.
const DEFAULT_LOG_FILTER: &str = "info,hyper_mcp_proxy=debug,ractor::actor=warn";

/// Logs to stderr through a writer thread: a slow stderr reader (a full pipe, a stalled
/// journald) never blocks the runtime; past [`LOG_QUEUE_LINES`] waiting lines, new ones are
/// dropped and counted.
fn init_tracing(format: LogFormat) -> (WorkerGuard, ErrorCounter) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("log-writer")
        .finish(std::io::stderr());
    let dropped = writer.error_counter();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
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
    (guard, dropped)
}

/// Counts shutdown requests into `signals`: SIGINT, SIGTERM and SIGHUP (the terminal went
/// away) add one, the first drains and the second stops at once; SIGQUIT stops at once.
async fn count_shutdown_signals(signals: tokio::sync::watch::Sender<u32>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut interrupt, mut terminate, mut hangup, mut quit) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::quit()),
    ) {
        (Ok(interrupt), Ok(terminate), Ok(hangup), Ok(quit)) => {
            (interrupt, terminate, hangup, quit)
        }
        (Err(err), ..) | (_, Err(err), ..) | (.., Err(err), _) | (.., Err(err)) => {
            tracing::error!(error = %err, "cannot listen for SIGINT/SIGTERM/SIGHUP/SIGQUIT; the proxy can only be killed");
            std::future::pending::<()>().await;
            return;
        }
    };
    loop {
        let at_once = tokio::select! {
            _ = interrupt.recv() => { tracing::info!("SIGINT received"); false }
            _ = terminate.recv() => { tracing::info!("SIGTERM received"); false }
            _ = hangup.recv() => { tracing::info!("SIGHUP received"); false }
            _ = quit.recv() => { tracing::info!("SIGQUIT received: stopping at once"); true }
        };
        signals.send_modify(|count| *count = if at_once { (*count).max(2) } else { *count + 1 });
    }
}
