//! hyper-mcp-proxy: lets MCP clients speaking Streamable HTTP use MCP servers that only speak
//! stdio. Every MCP session gets its own child process; every JSON-RPC message passes both
//! ways unchanged, except request ids, which are rewritten towards the child and restored.
//!
//! # Layout
//!
//! ```text
//! axum handlers (http.rs) ──read──► SessionIndex (index.rs)
//!                                        ▲ sole writer
//! SessionRouter (router.rs)   root actor: open, close, drain
//!  ├─ SessionSupervisor (session.rs)     one per session: protocol state, id tables, streams
//!  │    └─ ChildProcess (child.rs)       owns the OS process (process.rs); mailbox = stdin
//!  └─ SessionSupervisor ...
//! ```
//!
//! - `frame.rs`: the lossless JSON-RPC message type.
//! - `stream.rs`, `sse.rs`: client streams and their SSE encoding.
//! - `line_reader.rs`: capped line framing of the child's output.
//! - `config.rs`: CLI and validated configuration.
//! - `demo/`: the built-in demo stdio MCP server (default backend and test fixture).
//!
//! [`run`] serves the proxy on a listener until a shutdown future completes; `main.rs` and the
//! integration tests both call it.

pub mod backoff;
pub mod child;
pub mod config;
pub mod demo;
pub mod frame;
pub mod http;
pub mod index;
pub mod line_reader;
pub mod process;
pub mod router;
pub mod session;
pub mod sse;
pub mod stream;

use std::future::Future;
use std::sync::Arc;

use axum::serve::ListenerExt;
use ractor::Actor;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::HttpState;
use crate::index::SessionIndex;
use crate::router::{RouterArgs, RouterMsg, SessionRouter};

/// Why the proxy could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The root actor did not start.
    #[error("cannot start the session router: {0}")]
    Router(#[from] ractor::SpawnErr),
    /// The listener failed.
    #[error("HTTP server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves the proxy on `listener` until `shutdown` completes, then stops every session (and
/// so every child process) and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let local_addr = listener.local_addr()?;
    let index = Arc::new(SessionIndex::default());
    let (router, router_task) = Actor::spawn(
        None,
        SessionRouter,
        RouterArgs {
            index: index.clone(),
            session: config.session.clone(),
        },
    )
    .await?;
    let app = http::routes(HttpState::new(index, router.clone(), config, local_addr));
    let listener = listener.tap_io(|tcp| {
        // Nagle's algorithm adds up to 40 ms to small answers; MCP messages are small.
        let _ = tcp.set_nodelay(true);
    });
    let drain_router = router.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: stopping every session");
            let _ = ractor::call!(drain_router, RouterMsg::Drain);
        })
        .await;
    router.stop(Some("shutdown".into()));
    let _ = router_task.await;
    served?;
    Ok(())
}
