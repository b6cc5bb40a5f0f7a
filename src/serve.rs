//! Accepts HTTP connections and serves them with limits: at most `--max-connections` open at
//! once (further ones get an immediate 503), each timed out while it sends a request head or
//! sits idle (`serve/connection.rs`), and every one closed within a bounded time at shutdown.
//!
//! # Shutdown
//!
//! When `closing` turns true (the session drain is over) the listener is dropped and every
//! connection is told to finish its current response and close. Those still open after the
//! grace period — a client that stopped reading, a half-sent request — are dropped. A second
//! shutdown signal drops them at once. Either way [`serve`] returns.

mod connection;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::ShutdownSignals;
use crate::frame::{Frame, SERVER_ERROR};
use crate::metrics::{Limit, ProxyMetrics};

pub(crate) use connection::Timeouts;

/// Over-limit connections answered at once (each for at most [`REFUSAL_LINGER`]); beyond, an
/// over-limit connection is closed without an answer. Part of `fd_limit::RESERVED`.
const REFUSALS_IN_FLIGHT: usize = 64;

/// Longest an over-limit connection is kept to deliver its 503: the answer is written, the
/// sending side shut, and what the client sent is read and discarded until it closes (closing
/// with unread data would reset the connection and could destroy the 503 before the client
/// reads it).
const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// Pause after an accept error that is not about one connection (e.g. out of descriptors), so
/// a persistent error does not spin the loop.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// What bounds the connections of one listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Per-connection timeouts.
    pub timeouts: Timeouts,
    /// How long connections may finish once `closing` turns true.
    pub shutdown_grace: Duration,
}

/// When to stop: `closing` turns true when connections should be closed; a second shutdown
/// signal (`signals` reaching 2) drops them without waiting.
pub(crate) struct Stop {
    /// True once the listener should close and connections wind down.
    pub closing: watch::Receiver<bool>,
    /// The count of shutdown signals.
    pub signals: ShutdownSignals,
}

/// Serves `app` on `listener` within `limits` until `stop` says so; returns once every
/// connection is closed or dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Arc<ProxyMetrics>,
    stop: Stop,
) {
    let Stop {
        mut closing,
        mut signals,
    } = stop;
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let refusal = refusal_answer();
    let mut connections = JoinSet::new();
    // What each connection watches (`closing` itself is borrowed by the loop's select).
    let tell_closing = closing.clone();
    loop {
        tokio::select! {
            biased;
            () = turned_true(&mut closing) => break,
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                report_panic(joined);
            }
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _peer)) => tcp,
                    Err(err) => {
                        accept_failed(err).await;
                        continue;
                    }
                };
                // Nagle's algorithm adds up to 40 ms to small answers; MCP messages are small.
                let _ = tcp.set_nodelay(true);
                match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let (app, closing) = (app.clone(), tell_closing.clone());
                        let (metrics, timeouts) = (metrics.clone(), limits.timeouts);
                        connections.spawn(async move {
                            let _slot = slot;
                            connection::serve(tcp, app, timeouts, closing, metrics).await;
                        });
                    }
                    Err(_) => {
                        metrics.limit_hit(Limit::MaxConnections);
                        // Without a free refusal slot the connection is closed here (dropped).
                        if let Ok(permit) = refusals.clone().try_acquire_owned() {
                            let refusal = refusal.clone();
                            connections.spawn(async move {
                                let _permit = permit;
                                refuse(tcp, &refusal).await;
                            });
                        }
                    }
                }
            }
        }
    }
    drop(listener);
    close_all(connections, limits.shutdown_grace, &mut signals).await;
}

/// Waits up to `grace` for `connections` to finish (they were told to), or until a second
/// shutdown signal; then drops the rest.
async fn close_all(mut connections: JoinSet<()>, grace: Duration, signals: &mut ShutdownSignals) {
    if connections.is_empty() {
        return;
    }
    tracing::info!(
        open = connections.len(),
        grace_s = grace.as_secs_f64(),
        "closing HTTP connections: each finishes its current response, then closes"
    );
    let finished = async {
        while let Some(joined) = connections.join_next().await {
            report_panic(joined);
        }
    };
    let second_signal = async {
        if signals.wait_for(|&count| count >= 2).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = finished => return,
        () = tokio::time::sleep(grace) => {}
        () = second_signal => {}
    }
    tracing::warn!(
        open = connections.len(),
        "dropping the HTTP connections still open (a client that stopped reading or never finished its request)"
    );
    connections.shutdown().await;
}

/// Waits until `flag` is true (or its sender is gone), without holding its lock.
pub(crate) async fn turned_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|&value| value).await;
}

fn report_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(err) = joined
        && err.is_panic()
    {
        tracing::error!(error = %err, "an HTTP connection task panicked");
    }
}

/// An accept error about one connection (it was reset before we took it) is skipped; any
/// other (out of descriptors, out of memory) is logged and the loop pauses.
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(
        error = %err,
        pause_s = ACCEPT_ERROR_PAUSE.as_secs_f64(),
        "cannot accept connections; pausing"
    );
    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
}

/// The whole HTTP answer to a connection over `--max-connections`.
fn refusal_answer() -> Bytes {
    let body = Frame::error_response(
        Value::Null,
        SERVER_ERROR,
        "the proxy has too many open connections (--max-connections); retry shortly",
        None,
    )
    .to_bytes();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut answer = Vec::with_capacity(head.len() + body.len());
    answer.extend_from_slice(head.as_bytes());
    answer.extend_from_slice(&body);
    Bytes::from(answer)
}

/// Answers 503 without reading the request, then closes (see [`REFUSAL_LINGER`]).
async fn refuse(mut tcp: TcpStream, answer: &[u8]) {
    let delivered = async {
        tcp.write_all(answer).await?;
        tcp.shutdown().await?;
        let mut discard = [0u8; 4096];
        while tcp.read(&mut discard).await? > 0 {}
        Ok::<(), io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, delivered).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_a_complete_http_answer_with_a_json_rpc_error() {
        let answer = refusal_answer();
        let text = std::str::from_utf8(&answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nretry-after: 1"), "{head}");
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        let error: Value = serde_json::from_str(body).unwrap();
        assert_eq!(error["jsonrpc"], "2.0");
        assert_eq!(error["id"], Value::Null);
        assert_eq!(error["error"]["code"], SERVER_ERROR);
    }
}
