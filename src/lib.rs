//! hyper-mcp-proxy: lets MCP clients speaking Streamable HTTP use MCP servers that only speak
//! stdio. Every MCP session gets its own child process; every JSON-RPC message passes both
//! ways unchanged, except request ids, which are rewritten towards the child and restored.
//!
//! # Layout
//!
//! ```text
//! axum handlers (http.rs) ──read──► SessionIndex (index.rs)
//!     │ charge bytes (budget.rs)         ▲ sole writer
//!     ▼                                  │
//! SessionRouter (router.rs)   root actor: open (with the initialize), unlist, drain
//!  ├─ SessionSupervisor (session.rs)     one per session: protocol state, id tables, streams
//!  │    └─ ChildProcess (child.rs)       decides stop/kill; its tasks do the I/O:
//!  │         writer (stdin queue) · reader (frames, then the exit, in-band) · stderr
//!  └─ SessionSupervisor ...
//!        ▲ pooled sessions (no Mcp-Session-Id; the proxy is their client)
//! ModernFront (modern/front.rs)          2026-07-28 POSTs: ladder, era, ChildPool leases
//! ```
//!
//! Actors decide, tasks do I/O: a child's exit reaches its session as an ordinary message
//! after every frame it wrote, and nothing that decides ever waits behind a read or a write.
//! Supervision events are only the backstop for a panicking actor.
//!
//! # Modules, leaves first
//!
//! The modules form a DAG. The protocol between actors lives in leaf modules that the actors
//! import; no actor module imports another's internals:
//!
//! ```text
//! frame, line_reader, id_sniff, mailbox, budget, backoff, base64url, config, process,
//! session_id, close_reason, session_stats, stream
//!   → protocol (SessionMsg, ChildEvent, RouterMsg, OpenError)
//!   → metrics → index → child → session → router → modern → sse, http → lib
//! ```
//!
//! - `frame.rs`: the lossless JSON-RPC message type, kept as its original bytes with a light
//!   envelope (`frame/byte_scan.rs` reads it in one pass); `frame/one_line.rs` is the only
//!   type the stdin queue and client streams accept, so no raw line break reaches a stdin or
//!   SSE `data:` line. `id_sniff.rs` recovers the id of a line that could not be parsed, so
//!   its request fails instead of hanging.
//! - `budget.rs`: byte budgets per session and proxy, per direction; a `Charge` travels with
//!   the bytes it covers and is released when they are delivered.
//! - `stream.rs`, `sse.rs`: client streams and their SSE encoding.
//! - `line_reader.rs`: capped line framing of the child's output; lines are handed over as
//!   slices of the read buffer, and an idle child holds no buffer.
//! - `serve.rs`: the accept loop: connection limit, header and idle timeouts, bounded close.
//! - `fd_limit.rs`: the descriptor limit, raised at startup; the default connection limit.
//! - `config.rs`: CLI and validated configuration.
//! - `mailbox.rs`: message-count bounds and depth gauges for actor mailboxes.
//! - `base64url.rs`: unpadded base64url, the alphabet of `requestState` tokens.
//! - `modern.rs`, `modern/`: the dual-era endpoint's 2026-07-28 leg: classification, the
//!   transport's validation ladder, the child era probe, pooled children (sessions whose client
//!   is the proxy), passthrough and translation, `InputRequiredResult` rounds, and
//!   `subscriptions/listen` streams.
//! - `backoff.rs`: restart intensity and backoff.
//! - `child/spares.rs`: the pool of pre-spawned children (`--prespawn`) that the `Launcher`
//!   takes from before it spawns; a taken spare's replacement starts once it has answered
//!   (`child/spares/first_answer.rs`).
//! - `process.rs`, `process/`: the OS side of a child (spawner thread, group sweep before
//!   reaping, subreaper and orphan reaping).
//! - `metrics.rs`, `metrics/`: Prometheus registry, scrape-time collectors; `http/ops.rs`
//!   serves them with health, readiness and `/sessions`.
//! - `demo/`: the built-in demo stdio MCP server (default backend and test fixture).
//!
//! [`run`] serves the proxy on a listener until a shutdown future completes; `main.rs` calls
//! it. Integration tests drive the real binary; `session/tests.rs` drives a
//! `SessionSupervisor` with scripted fake children under paused time.

mod backoff;
mod base64url;
mod budget;
mod child;
mod close_reason;
pub mod config;
pub mod demo;
mod fd_limit;
pub mod frame;
mod http;
mod id_sniff;
mod index;
mod line_reader;
mod mailbox;
mod metrics;
mod modern;
mod process;
mod protocol;
mod router;
mod serve;
mod session;
mod session_id;
mod session_stats;
mod sse;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ractor::Actor;
use ractor::ActorRef;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::budget::GlobalBudgets;
use crate::child::{Launcher, PoolConfig, REFILL_PAUSE, SparePool};
use crate::config::Config;
use crate::http::HttpState;
use crate::http::ops::{OpsExposure, OpsState};
use crate::index::SessionIndex;
use crate::metrics::ProxyMetrics;
use crate::protocol::RouterMsg;
use crate::router::{RouterArgs, SessionRouter};
use crate::serve::{Limits, Stop, Timeouts};

/// Why the proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The root actor did not start.
    #[error("cannot start the session router: {0}")]
    Router(#[from] ractor::SpawnErr),
    /// The listener failed.
    #[error("HTTP server error: {0}")]
    Io(#[from] std::io::Error),
    /// The operating system's random source failed (needed for sealed states).
    #[error("cannot read the system's random source: {0}")]
    Random(getrandom::Error),
}

/// Counts shutdown requests (SIGINT, SIGTERM, SIGHUP; SIGQUIT counts as two): the first
/// drains, the second stops at once.
pub type ShutdownSignals = watch::Receiver<u32>;

/// Connections the `--metrics-addr` listener serves at once (a scraper and a few humans).
const METRICS_CONNECTIONS: usize = 64;

/// Serves the proxy on `listener` until the first shutdown signal, then drains: new sessions
/// are refused, requests in flight finish (up to `--shutdown-timeout`, or until a second
/// signal), every session is stopped, HTTP connections get `--shutdown-grace` to finish and
/// are then dropped, every child process is stopped, then every spare child (`--prespawn`),
/// and `run` returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    signals: ShutdownSignals,
) -> Result<(), RunError> {
    let local_addr = listener.local_addr()?;
    adopt_orphans();
    let nofile = fd_limit::raise_to_hard();
    let connections = config.connections;
    let max_connections = connections
        .max_connections
        .unwrap_or_else(|| fd_limit::default_max_connections(nofile));
    tracing::info!(
        max_connections,
        nofile,
        header_read_timeout_s = connections.header_read_timeout.as_secs_f64(),
        idle_connection_timeout_s = connections.idle_timeout.as_secs_f64(),
        "connection limits"
    );
    let limits = Limits {
        max_connections,
        timeouts: Timeouts {
            header_read: connections.header_read_timeout,
            idle: connections.idle_timeout,
        },
        shutdown_grace: connections.shutdown_grace,
    };
    let shutdown_timeout = config.shutdown_timeout;
    let max_sessions = config.max_sessions;
    let index = Arc::new(SessionIndex::default());
    let budgets = GlobalBudgets::new(config.session.global_buffer_bytes);
    let metrics = Arc::new(ProxyMetrics::for_instance(
        index.clone(),
        budgets.clone(),
        config.instance_id(),
    ));
    let draining = Arc::new(AtomicBool::new(false));
    let ops = OpsState {
        index: index.clone(),
        metrics: metrics.clone(),
        draining: draining.clone(),
        max_sessions,
    };
    let metrics_listener = match config.metrics_addr {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await?;
            tracing::info!(
                "metrics listening on http://{}/metrics",
                listener.local_addr()?
            );
            Some(listener)
        }
        None => None,
    };
    let spares = start_spares(&config, &metrics);
    let launcher = match &spares {
        Some(pool) => Launcher::Pooled(pool.clone()),
        None => Launcher::Os,
    };
    let (router, router_task) = Actor::spawn(
        None,
        SessionRouter,
        RouterArgs {
            index: index.clone(),
            session: config.session.clone(),
            max_sessions,
            metrics: metrics.clone(),
            budgets,
            launcher,
        },
    )
    .await?;
    let exposure = if metrics_listener.is_some() {
        OpsExposure::HealthOnly
    } else {
        OpsExposure::WithMetrics
    };
    let modern = http::ModernFront::start(
        &config,
        router.clone(),
        index.clone(),
        metrics.clone(),
        draining.clone(),
    )
    .map_err(RunError::Random)?;
    let modern_for_drain = modern.clone();
    let app = http::routes(
        HttpState::new(
            index,
            router.clone(),
            config,
            local_addr,
            metrics.clone(),
            modern,
        ),
        http::ops::routes(ops.clone(), exposure),
    );
    // True once the sessions are drained: both listeners close and their connections wind down.
    let (closing_tx, closing) = watch::channel(false);
    let metrics_server = metrics_listener.map(|listener| {
        let app = http::ops::routes(ops, OpsExposure::Everything);
        let limits = Limits {
            max_connections: METRICS_CONNECTIONS,
            ..limits
        };
        let stop = Stop {
            closing: closing.clone(),
            signals: signals.clone(),
        };
        tokio::spawn(serve::serve(listener, app, limits, metrics.clone(), stop))
    });
    let stop = Stop {
        closing,
        signals: signals.clone(),
    };
    let drained = async {
        drain(
            router.clone(),
            signals,
            shutdown_timeout,
            draining,
            spares.clone(),
            modern_for_drain,
        )
        .await;
        let _ = closing_tx.send(true);
    };
    tokio::join!(serve::serve(listener, app, limits, metrics, stop), drained);
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    // Every session is stopped already; this also waits for the router's last children.
    router.stop(Some("shutdown".into()));
    let _ = router_task.await;
    if let Some(pool) = spares {
        pool.shutdown().await;
        tracing::info!("every spare child stopped");
    }
    Ok(())
}

/// Starts the pool of spare children (`--prespawn`), if asked for.
fn start_spares(config: &Config, metrics: &Arc<ProxyMetrics>) -> Option<Arc<SparePool>> {
    let prespawn = config.prespawn;
    if prespawn.count == 0 {
        return None;
    }
    let session = &config.session;
    tracing::info!(
        spares = prespawn.count,
        max_age_s = prespawn.max_age.map(|age| age.as_secs_f64()),
        "keeping spare children of the MCP server ready (--prespawn)"
    );
    let pool = PoolConfig {
        command: session.command.clone(),
        count: prespawn.count,
        max_age: prespawn.max_age,
        kill_grace: session.kill_grace,
        backoff_min: session.restart.backoff_min,
        backoff_max: session.restart.backoff_max,
        refill_pause: REFILL_PAUSE,
    };
    Some(SparePool::start(pool, metrics.clone()))
}

/// Makes the proxy the reaper of whatever its children leave behind (wrappers such as `npx`
/// or `sh -c` fork helpers that outlive them): without it, in a container where the proxy is
/// PID 1, every such helper would stay a zombie.
fn adopt_orphans() {
    match process::become_subreaper() {
        Ok(()) => tracing::debug!("child subreaper: orphaned descendants are reaped by the proxy"),
        Err(err) => {
            tracing::warn!(error = %err, "cannot become a child subreaper; descendants orphaned by a crashing MCP server are reaped by init instead")
        }
    }
    process::start_orphan_reaper();
}

/// Waits for the first signal, then drains every session; a second signal cuts the wait short.
async fn drain(
    router: ActorRef<RouterMsg>,
    mut signals: ShutdownSignals,
    timeout: Duration,
    draining: Arc<AtomicBool>,
    spares: Option<Arc<SparePool>>,
    modern: http::ModernFront,
) {
    if signals.wait_for(|&count| count >= 1).await.is_err() {
        // The signal source is gone: nobody can ask for shutdown any more; serve forever.
        std::future::pending::<()>().await;
    }
    draining.store(true, Ordering::Relaxed);
    modern.drain();
    if let Some(pool) = &spares {
        // No new session will take a spare: taken ones are not replaced any more.
        pool.drain();
    }
    tracing::info!(
        timeout_s = timeout.as_secs_f64(),
        "shutdown requested: refusing new sessions and letting requests in flight finish (send the signal again to stop at once)"
    );
    // Before the sessions drain: a relayed listen is a request in flight on its child, which
    // the drain would otherwise wait for until --shutdown-timeout.
    modern.end_listens().await;
    let force_router = router.clone();
    let force = tokio::spawn(async move {
        if signals.wait_for(|&count| count >= 2).await.is_ok() {
            tracing::warn!("second shutdown signal: stopping every session now");
            let _ = force_router.cast(RouterMsg::DrainNow);
        }
    });
    let budget = timeout + Duration::from_secs(60);
    let drained = ractor::call_t!(
        router,
        |reply| RouterMsg::Drain { timeout, reply },
        budget.as_millis() as u64
    );
    if let Err(err) = drained {
        tracing::error!(error = %err, "draining did not complete; stopping anyway");
    }
    force.abort();
    tracing::info!("every session stopped; closing the HTTP listeners");
}
