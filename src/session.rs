//! `SessionSupervisor`: the actor that is one MCP session. It owns the session's protocol state
//! (phase, id tables, client streams, backlog) and supervises the `ChildProcess` actor of the
//! session's MCP server.
//!
//! Pure helpers live beside it: `session/inflight.rs` (id tables), `session/route.rs` (which
//! stream a child message goes to), `session/backlog.rs` (messages waiting for a stream).
//! The message handlers are split by direction: `session/from_client.rs` and
//! `session/from_child.rs`; crash restarts with handshake replay in `session/restart.rs`
//! (policy in `backoff.rs`, replayed declarations in `session/handshake.rs`); the child's
//! spawn, stop and exit in `session/child_control.rs`; timers, idle expiry and published
//! state in `session/housekeeping.rs`.

mod backlog;
mod child_control;
mod from_child;
mod from_client;
pub mod handshake;
mod housekeeping;
pub mod inflight;
mod restart;
mod resume;
pub mod route;

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use serde_json::json;
use tokio::time::Instant;
use tracing::Span;

use crate::backoff::RestartTracker;
use crate::child::{ChildMsg, StderrTail};
use crate::config::SessionConfig;
use crate::frame::Frame;
use crate::index::{SessionId, SessionStats};
use crate::mailbox::{MailboxBound, MailboxPermit};
use crate::metrics::{FailReason, ProxyMetrics};
use crate::process::ExitReport;
use crate::stream::{EventId, StreamEvent, StreamSender};
use tokio::sync::mpsc;

use backlog::Backlog;
use handshake::HandshakeRecord;
use inflight::{ClientRequests, ServerRequests};
use restart::RestartState;

// ============================ SessionSupervisor actor ============================

/// The actor of one MCP session.
pub struct SessionSupervisor;

/// What a session is told.
pub enum SessionMsg {
    /// A client request, with the stream that carries its answer.
    Request {
        /// The request as the client sent it.
        frame: Frame,
        /// The POST's answer stream.
        stream: StreamSender,
        /// Room in this session's mailbox, reserved by the sender.
        permit: MailboxPermit,
    },
    /// A client notification, or the client's answer to a server→client request.
    Deliver {
        /// The message as the client sent it.
        frame: Frame,
        /// Room in this session's mailbox, reserved by the sender.
        permit: MailboxPermit,
    },
    /// The client opened its standalone GET stream, or resumed a stream.
    Listen {
        /// The GET's channel.
        tx: mpsc::Sender<StreamEvent>,
        /// A fresh stream number, used unless an existing stream is resumed.
        stream_id: u64,
        /// `Last-Event-ID`, if the client resumes a stream.
        resume: Option<EventId>,
    },
    /// A frame from the child of `generation`.
    FromChild {
        /// Which child wrote it; frames of a replaced child are dropped.
        generation: u64,
        /// The frame.
        frame: Frame,
        /// Room in this session's mailbox, reserved by the child's stdout pump.
        permit: MailboxPermit,
    },
    /// The restarted child of `generation` must have answered the replayed `initialize`.
    ReplayDeadline {
        /// The child that got the replay.
        generation: u64,
    },
    /// Shutdown: refuse new requests, end once the requests in flight are answered.
    Drain,
    /// Check whether the session has been idle for `--session-idle-timeout`.
    IdleCheck,
    /// Housekeeping timer: expires parked messages, held requests and timed-out requests.
    Tick,
    /// The restart backoff elapsed: start the next child.
    Respawn,
    /// Time to ping the child (with `--ping-interval`).
    Ping,
    /// The answer to ping `proxy_id` of child `generation` is due.
    PingDeadline {
        /// The ping's proxy id.
        proxy_id: u64,
        /// The child that was pinged.
        generation: u64,
    },
}

/// What the router gives a new session.
pub struct SessionArgs {
    /// The session's id, for logs.
    pub id: SessionId,
    /// Shared settings.
    pub config: Arc<SessionConfig>,
    /// The bound of this session's mailbox, shared with the HTTP side and the child's pump.
    pub inbox: MailboxBound,
    /// Where the session publishes its state for metrics and `/sessions`.
    pub stats: Arc<SessionStats>,
    /// Where requests, messages and child events are counted.
    pub metrics: Arc<ProxyMetrics>,
}

/// Where the session is in the MCP lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Spawned by the router; the client's `initialize` is on its way.
    AwaitingInitialize,
    /// The child has the client's `initialize` (this proxy id) and has not answered yet.
    Initializing(u64),
    /// The child answered `initialize`; messages flow.
    Ready,
    /// The child died; a new one starts after the backoff. Client messages are held.
    Restarting,
    /// A new child has the replayed `initialize` (this proxy id). Client messages are held.
    Replaying(u64),
}

/// The child process currently serving the session.
struct CurrentChild {
    /// Its actor.
    actor: ActorRef<ChildMsg>,
    /// Its OS pid, for logs.
    pid: u32,
    /// Bound of its stdin queue: a child that stops reading cannot make the proxy buffer.
    stdin: MailboxBound,
}

/// The session's state.
pub struct SessionState {
    /// The session's id.
    id: SessionId,
    /// Span carrying the session id; every log line of the session is inside it.
    span: Span,
    /// Shared settings.
    config: Arc<SessionConfig>,
    /// Lifecycle phase.
    phase: Phase,
    /// The running child, `None` before the first spawn and after it exits.
    child: Option<CurrentChild>,
    /// Generation of the current (or last) child; frames of other generations are dropped.
    generation: u64,
    /// Last stderr lines of the current child, for error reports.
    stderr_tail: StderrTail,
    /// Client requests in flight on the child.
    requests: ClientRequests,
    /// Child requests waiting for the client.
    server_requests: ServerRequests,
    /// The standalone GET stream, if open.
    standalone: Option<StreamSender>,
    /// Streams a client may still resume with `Last-Event-ID`.
    resumable: resume::ResumableStreams,
    /// Messages waiting for a stream.
    backlog: Backlog,
    /// Whether a `Tick` is already scheduled.
    tick_scheduled: bool,
    /// What the client declared, replayed to a restarted child.
    handshake: HandshakeRecord,
    /// Restart intensity and backoff.
    restarts: RestartTracker,
    /// Held messages and replay bookkeeping.
    restart: RestartState,
    /// This session's mailbox bound, handed to each child's stdout pump.
    inbox: MailboxBound,
    /// Last message in either direction, for idle expiry.
    last_activity: Instant,
    /// Set by `Drain`: no new requests; the session ends when the last answer is out.
    draining: bool,
    /// Published state, read by metrics and `/sessions`.
    stats: Arc<SessionStats>,
    /// Timers armed with `send_after`; aborted when the session stops, since each holds the
    /// actor (and so its memory) until it fires, for as long as `--session-idle-timeout`.
    timers: Vec<Timer>,
    /// Counters.
    metrics: Arc<ProxyMetrics>,
}

/// A pending `send_after`.
type Timer = tokio::task::JoinHandle<Result<(), ractor::MessagingErr<SessionMsg>>>;

/// How long a message may wait in the backlog for a GET stream.
const BACKLOG_MAX_AGE: Duration = Duration::from_secs(30);
/// How many messages the backlog keeps.
const BACKLOG_CAPACITY: usize = 256;

impl Actor for SessionSupervisor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        // Nothing slow here: the child is spawned when the client's initialize arrives, so the
        // router never waits for a process to start.
        Ok(SessionState {
            span: tracing::info_span!("session", id = %args.id),
            id: args.id,
            phase: Phase::AwaitingInitialize,
            child: None,
            generation: 0,
            stderr_tail: StderrTail::default(),
            requests: ClientRequests::default(),
            server_requests: ServerRequests::default(),
            standalone: None,
            resumable: resume::ResumableStreams::default(),
            backlog: Backlog::new(BACKLOG_CAPACITY),
            tick_scheduled: false,
            handshake: HandshakeRecord::default(),
            restarts: RestartTracker::new(args.config.restart),
            restart: RestartState::default(),
            inbox: args.inbox,
            last_activity: Instant::now(),
            draining: false,
            stats: args.stats,
            timers: Vec::new(),
            metrics: args.metrics,
            config: args.config,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(timeout) = state.config.idle_timeout {
            state.after(&myself, timeout, || SessionMsg::IdleCheck);
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SessionMsg::Request { frame, stream, .. } => {
                state.last_activity = Instant::now();
                state.on_client_request(&myself, frame, stream).await
            }
            SessionMsg::Deliver { frame, .. } => {
                state.last_activity = Instant::now();
                state.on_client_message(frame)
            }
            SessionMsg::Listen {
                tx,
                stream_id,
                resume,
            } => {
                state.last_activity = Instant::now();
                state.on_listen(&myself, tx, stream_id, resume)
            }
            SessionMsg::FromChild {
                generation, frame, ..
            } => {
                state.last_activity = Instant::now();
                if generation == state.generation {
                    state.on_child_frame(&myself, frame);
                } else {
                    tracing::debug!(parent: &state.span, generation, "dropped a message of a replaced MCP server process");
                }
            }
            SessionMsg::Tick => state.on_tick(&myself),
            SessionMsg::Respawn => state.respawn(&myself).await,
            SessionMsg::Ping => state.on_ping(&myself),
            SessionMsg::PingDeadline {
                proxy_id,
                generation,
            } => state.on_ping_deadline(proxy_id, generation),
            SessionMsg::Drain => {
                tracing::info!(parent: &state.span, in_flight = state.requests.len(), "draining: no new requests; the session ends when the requests in flight are answered");
                state.draining = true;
            }
            SessionMsg::IdleCheck => state.on_idle_check(&myself),
            SessionMsg::ReplayDeadline { generation } => state.on_replay_deadline(generation),
        }
        state.stop_if_drained(&myself);
        if state.has_resumable() {
            // Kept streams expire on the tick.
            state.schedule_tick(&myself);
        }
        state.publish();
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SessionMsg>,
        event: SupervisionEvent,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        // Overridden: ractor's default would stop the session whenever its child exits.
        let (cell, report) = match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, ExitReport::decode(reason.as_deref()))
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(parent: &state.span, error = %err, "the child process actor failed");
                (cell, ExitReport::Unknown)
            }
            _ => return Ok(()),
        };
        let is_current = state
            .child
            .as_ref()
            .is_some_and(|child| child.actor.get_id() == cell.get_id());
        if is_current {
            state.on_child_exit(&myself, report);
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        for timer in state.timers.drain(..) {
            timer.abort();
        }
        if let Some(child) = state.child.take() {
            state.stop_child(child).await;
        }
        let reason = if state.draining {
            FailReason::Shutdown
        } else {
            FailReason::SessionClosed
        };
        state.fail_all_requests(
            "the MCP session was closed",
            json!({ "reason": "session closed" }),
            reason,
        );
        state.expire_queue(true);
        tracing::info!(parent: &state.span, "session closed");
        Ok(())
    }
}
