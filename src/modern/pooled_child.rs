//! `PooledChild`: one shared child of the modern leg, as the proxy holds it: its session entry,
//! its load, and the task that answers what the child sends outside any request.
//!
//! Opening one asks the router for a pooled session. A translated child gets the proxy's own
//! `initialize` (with the partition's capabilities) and `notifications/initialized`; a
//! passthrough child needs neither. Either way the proxy then opens the session's standalone
//! stream, so server→client requests and notifications that belong to no request reach the
//! proxy (and are answered or dropped) instead of waiting in the session's backlog.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

use ractor::ActorRef;
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Span;

use super::client_capabilities::{initialize_request, initialized_notification};
use super::listen::ChangeFeed;
use super::server_asks::proxy_answer;
use crate::frame::{Frame, FrameKind};
use crate::index::{SessionEntry, SessionIndex};
use crate::protocol::{OpenError, OpenedSession, RouterMsg, SessionKind, SessionMsg};
use crate::session_id::SessionId;
use crate::stream::{INITIALIZE_STREAM, Priming, StreamReceiver, StreamSender};

/// Longest a pooled child may take to answer the proxy's `initialize` (a slow runtime such as
/// a JVM or `npx` fetching packages included).
const INITIALIZE_DEADLINE: Duration = Duration::from_secs(60);
/// Events queued on a pooled child's standalone stream.
const STANDALONE_CAPACITY: usize = 64;

/// A shared child and its load.
pub struct PooledChild {
    pub id: SessionId,
    pub entry: SessionEntry,
    /// Requests leased to it now.
    pub inflight: AtomicUsize,
    /// Requests leased to it in total.
    pub served: AtomicU64,
    pub born: Instant,
    /// Its answer to the proxy's `initialize` (translated children only).
    pub initialize_result: Option<Arc<Value>>,
    /// Log lines about it carry its session id.
    pub span: Span,
    /// `--roots`: its `roots/list` outside an interactive request is answered with these.
    pub roots: Arc<[String]>,
    /// When its last lease ended (or when it became ready).
    idle_since: std::sync::Mutex<Instant>,
}

impl PooledChild {
    /// Its last lease just ended.
    pub fn mark_idle(&self) {
        if let Ok(mut since) = self.idle_since.lock() {
            *since = Instant::now();
        }
    }

    /// How long it has had no lease (zero while it has one).
    pub fn idle_for(&self) -> Duration {
        if self.inflight.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        self.idle_since
            .lock()
            .map_or(Duration::ZERO, |since| since.elapsed())
    }
}

/// Why a pooled child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("the session router is gone (shutting down)")]
    RouterGone,
    #[error("the MCP server refused the proxy's initialize: {0}")]
    Refused(String),
    #[error("the MCP server ended before answering the proxy's initialize")]
    Ended,
    #[error("the MCP server did not answer the proxy's initialize within {0:?}")]
    TimedOut(Duration),
}

/// Opens a pooled session of `kind` and brings it to the point where requests flow.
pub async fn open_pooled(
    kind: SessionKind,
    router: &ActorRef<RouterMsg>,
    index: &SessionIndex,
    capabilities: &Value,
    changes: Option<ChangeFeed>,
    roots: Arc<[String]>,
) -> Result<PooledChild, StartError> {
    let (initialize, answers) = match kind {
        SessionKind::Translated => {
            let (stream, rx) = StreamSender::open(INITIALIZE_STREAM, 4, Priming::None);
            let frame = initialize_request(json!("hyper-mcp-proxy-initialize"), capabilities);
            (Some((frame, stream)), Some(rx))
        }
        _ => (None, None),
    };
    let opened = ractor::call!(router, |reply| RouterMsg::Open {
        kind,
        initialize,
        reply,
    })
    .map_err(|_| StartError::RouterGone)??;
    let OpenedSession { id, .. } = opened;
    let span = tracing::info_span!("session", id = id.log_id(), kind = kind.label());
    // Listed by the router before it replied.
    let entry = index.get_pooled(&id).ok_or(StartError::Ended)?;
    let initialize_result = match answers {
        Some(rx) => {
            let result = await_initialize(rx).await;
            if result.is_err() {
                entry.actor.stop(None);
            }
            let result = result?;
            send_to_session(&entry, initialized_notification());
            Some(Arc::new(result))
        }
        None => None,
    };
    let (stream, rx) = StreamSender::open(entry.streams.next(), STANDALONE_CAPACITY, Priming::None);
    if entry
        .actor
        .cast(SessionMsg::AttachGetStream {
            stream,
            resume: None,
        })
        .is_err()
    {
        return Err(StartError::Ended);
    }
    tokio::spawn(serve_unrelated(
        entry.clone(),
        rx,
        span.clone(),
        changes,
        roots.clone(),
    ));
    tracing::info!(parent: &span, "pooled MCP server child ready for modern clients");
    Ok(PooledChild {
        id,
        entry,
        inflight: AtomicUsize::new(0),
        served: AtomicU64::new(0),
        born: Instant::now(),
        initialize_result,
        span,
        roots,
        idle_since: std::sync::Mutex::new(Instant::now()),
    })
}

/// Waits for the answer to the proxy's `initialize`.
async fn await_initialize(mut rx: StreamReceiver) -> Result<Value, StartError> {
    let answer = tokio::time::timeout(INITIALIZE_DEADLINE, async {
        while let Some(event) = rx.recv().await {
            let Ok(frame) = Frame::parse_bytes(event.payload.into_bytes()) else {
                continue;
            };
            match frame.kind() {
                FrameKind::Response => return Ok(frame.result().cloned().unwrap_or(Value::Null)),
                FrameKind::Error => {
                    let error = frame.error().map(Value::to_string).unwrap_or_default();
                    return Err(StartError::Refused(error));
                }
                _ => {}
            }
        }
        Err(StartError::Ended)
    })
    .await;
    answer.unwrap_or(Err(StartError::TimedOut(INITIALIZE_DEADLINE)))
}

/// Answers the child's server→client requests that belong to no request, hands its change
/// notifications to the listen streams (`changes`), and drops the rest (a modern client never
/// receives unrequested messages), until the session ends.
async fn serve_unrelated(
    entry: SessionEntry,
    mut rx: StreamReceiver,
    span: Span,
    changes: Option<ChangeFeed>,
    roots: Arc<[String]>,
) {
    while let Some(event) = rx.recv().await {
        let Ok(frame) = Frame::parse_bytes(event.payload.into_bytes()) else {
            continue;
        };
        if frame.kind() == FrameKind::Request {
            answer_server_request(&entry, &frame, &span, &roots);
        } else if !changes.as_ref().is_some_and(|feed| feed.publish(&frame)) {
            tracing::debug!(parent: &span, method = frame.method(), "dropped a message of a pooled MCP server that no modern client asked for");
        }
    }
}

/// Answers a server→client request of a pooled child that no modern client can be asked:
/// `ping` is answered by the proxy, `roots/list` with `--roots`, anything else with an error
/// the server can handle (the request that caused it goes on).
pub fn answer_server_request(entry: &SessionEntry, request: &Frame, span: &Span, roots: &[String]) {
    let Some(answer) = proxy_answer(request, roots) else {
        return;
    };
    if answer.kind() == FrameKind::Error {
        tracing::info!(parent: span, method = request.method(), "a pooled MCP server asked a modern client something it cannot be asked here; answered with an error");
    }
    send_to_session(entry, answer);
}

/// Sends a notification or an answer to a pooled session as its client would. Returns false
/// if the session is gone, busy or over its budget (the message is then dropped: a full
/// session is already refusing its callers).
pub fn send_to_session(entry: &SessionEntry, frame: Frame) -> bool {
    let Some(permit) = entry.inbox.try_reserve() else {
        return false;
    };
    let Ok(charge) = entry.budgets.to_child.try_charge(frame.size_hint()) else {
        return false;
    };
    entry
        .actor
        .cast(SessionMsg::ClientMessage {
            frame,
            permit,
            charge,
        })
        .is_ok()
}
