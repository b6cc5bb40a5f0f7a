//! `SessionSupervisor`: the actor that is one MCP session. It owns the session's protocol state
//! (phase, id tables, client streams, backlog) and supervises the `ChildProcess` actor of the
//! session's MCP server.
//!
//! Pure helpers live beside it: `session/inflight.rs` (id tables), `session/route.rs` (which
//! stream a child message goes to), `session/backlog.rs` (messages waiting for a stream).
//! The message handlers are split by direction: `session/from_client.rs` and
//! `session/from_child.rs`; crash restarts with handshake replay in `session/restart.rs`
//! (policy in `backoff.rs`, replayed declarations in `session/handshake.rs`); the child's
//! spawn, stop and exit in `session/child_control.rs`; how a session ends in
//! `session/closing.rs`; timers and idle expiry in `session/housekeeping.rs`.

mod backlog;
mod child_control;
mod closing;
mod failure;
mod from_child;
mod from_client;
pub mod handshake;
mod housekeeping;
pub mod inflight;
mod restart;
mod resume;
pub mod route;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;
use tracing::Span;

use crate::backoff::RestartTracker;
use crate::budget::SessionBudgets;
use crate::child::{ChildMsg, Launcher, StderrTail, StdinQueue};
use crate::config::SessionConfig;
use crate::frame::Frame;
use crate::mailbox::MailboxBound;
use crate::metrics::ProxyMetrics;
use crate::process::ExitReport;
use crate::protocol::{ChildEvent, CloseReason, RouterMsg, SessionKind, SessionMsg, SessionTimer};
use crate::session_id::SessionId;
use crate::session_stats::SessionStats;
use crate::stream::StreamSender;

use backlog::Backlog;
use handshake::HandshakeRecord;
use inflight::{ClientRequests, ServerRequests};
use restart::RestartState;

// ============================ SessionSupervisor actor ============================

pub struct SessionSupervisor;

pub struct SessionArgs {
    pub id: SessionId,
    pub config: Arc<SessionConfig>,
    /// Shared with the HTTP side and the child's reader, which reserve room before sending.
    pub inbox: MailboxBound,
    pub stats: Arc<SessionStats>,
    pub metrics: Arc<ProxyMetrics>,
    /// Told the moment the session begins to end by itself, so it is unlisted at once.
    pub router: ActorRef<RouterMsg>,
    pub budgets: SessionBudgets,
    /// Where children come from (OS processes, or a test's fakes).
    pub launcher: Launcher,
    /// A client's session, or one the modern leg pools.
    pub kind: SessionKind,
    /// The client's `initialize` and its answer stream: the session's first act. `None` for a
    /// passthrough session, whose child has no handshake.
    pub initialize: Option<(Frame, StreamSender)>,
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
    actor: ActorRef<ChildMsg>,
    pid: u32,
    /// Bounded: a child that stops reading cannot make the proxy buffer.
    stdin: StdinQueue,
}

pub struct SessionState {
    id: SessionId,
    kind: SessionKind,
    /// The client's `initialize`, handled in `post_start`. Boxed: the state lives in the
    /// actor's task for the session's whole life, and this is empty after its first moment.
    initialize: Option<Box<(Frame, StreamSender)>>,
    /// Every log line of the session is inside it.
    span: Span,
    config: Arc<SessionConfig>,
    phase: Phase,
    /// `None` before the first spawn and after a child exits.
    child: Option<CurrentChild>,
    /// Generation of the current (or last) child; output of other generations is dropped.
    generation: u64,
    stderr_tail: StderrTail,
    requests: ClientRequests,
    server_requests: ServerRequests,
    /// The standalone GET stream, if open.
    standalone: Option<StreamSender>,
    resumable: resume::ResumableStreams,
    /// Messages waiting for a stream.
    backlog: Backlog,
    tick_scheduled: bool,
    /// What the client declared, replayed to a restarted child.
    handshake: HandshakeRecord,
    restarts: RestartTracker,
    restart: RestartState,
    /// Handed to each child's reader.
    inbox: MailboxBound,
    /// The client's last message, for idle expiry: what the server sends never keeps a
    /// session alive, or a chatty server would keep an abandoned session forever.
    last_client_activity: Instant,
    /// Set by `Drain`: no new requests; the session ends when the last answer is out.
    draining: bool,
    /// Set once the session began to end; it is then unreachable.
    closing: Option<CloseReason>,
    stats: Arc<SessionStats>,
    router: ActorRef<RouterMsg>,
    budgets: SessionBudgets,
    launcher: Launcher,
    /// Timers armed with `send_after`; aborted when the session stops, since each holds the
    /// actor (and so its memory) until it fires, for as long as `--session-idle-timeout`.
    timers: Vec<Timer>,
    metrics: Arc<ProxyMetrics>,
}

type Timer = tokio::task::JoinHandle<Result<(), ractor::MessagingErr<SessionMsg>>>;

/// A handler's work that waits (a child's spawn), boxed so that only a spawn under way pays
/// for its future: ractor keeps one future for an actor's whole message loop, sized for the
/// largest handler future twice over (it moves that future into a `select!`). Inline, this
/// rare wait would make every idle session hold kilobytes of future.
type Waiting<'a> = futures_util::future::BoxFuture<'a, ()>;

/// How long a message may wait in the backlog for a GET stream.
const BACKLOG_MAX_AGE: Duration = Duration::from_secs(30);
/// How many messages the backlog keeps.
const BACKLOG_CAPACITY: usize = 256;
/// How long a server→client request (sampling, elicitation: possibly a human) may wait for
/// the client's answer.
const SERVER_REQUEST_TTL: Duration = Duration::from_secs(600);

impl Actor for SessionSupervisor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        // Nothing slow here: the router awaits this; the child is spawned in `post_start`.
        let now = Instant::now();
        args.stats.client_active(now);
        Ok(SessionState {
            kind: args.kind,
            initialize: args.initialize.map(Box::new),
            span: tracing::info_span!(
                "session",
                id = args.id.log_id(),
                instance = args.id.instance(),
                kind = args.kind.label()
            ),
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
            last_client_activity: now,
            draining: false,
            closing: None,
            stats: args.stats,
            router: args.router,
            budgets: args.budgets,
            launcher: args.launcher,
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
        // The proxy's own sessions are never idle: the modern leg's pool recycles them.
        if let Some(timeout) = state
            .config
            .idle_timeout
            .filter(|_| !state.kind.is_pooled())
        {
            state.after(&myself, timeout, || {
                SessionMsg::Timer(SessionTimer::IdleCheck)
            });
        }
        if let Some((frame, stream)) = state.initialize.take().map(|first| *first) {
            if let Some(spawning) = state.on_client_request(&myself, frame, stream, None) {
                spawning.await;
            }
        } else if state.kind == SessionKind::Passthrough {
            state.start_stateless(&myself).await;
        }
        state.publish();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        if state.closing.is_some() {
            // Unreachable already; whatever still arrives is dropped with the actor.
            return Ok(());
        }
        if let Some(spawning) = state.dispatch(&myself, message) {
            spawning.await;
        }
        if state.closing.is_some() {
            return Ok(());
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
        // Overridden: ractor's default would stop the session whenever its child stops. A
        // child's exit arrives in-band (`ChildEvent::Exited`, after its last frame); this
        // event only matters when the child's actor failed and so cannot report it.
        if let SupervisionEvent::ActorFailed(cell, err) = event {
            let is_current = state
                .child
                .as_ref()
                .is_some_and(|child| child.actor.get_id() == cell.get_id());
            tracing::error!(parent: &state.span, error = %err, "the child process actor failed");
            if is_current && state.closing.is_none() {
                state.on_child_exit(&myself, ExitReport::Unknown);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        state.stats.mark_closing(CloseReason::Failed);
        for timer in state.timers.drain(..) {
            timer.abort();
        }
        // Clients hear first; stopping the child may take `2 × --kill-grace`.
        state.fail_everything();
        if let Some(child) = state.child.take() {
            state.stop_child(child).await;
        }
        tracing::info!(parent: &state.span, "session closed");
        Ok(())
    }
}

impl SessionState {
    /// Handles one message; only starting a child waits, and that work is returned.
    fn dispatch<'a>(
        &'a mut self,
        myself: &'a ActorRef<SessionMsg>,
        message: SessionMsg,
    ) -> Option<Waiting<'a>> {
        match message {
            SessionMsg::Request {
                frame,
                stream,
                permit,
                charge,
            } => {
                // The message is taken: its room in the mailbox is free again.
                drop(permit);
                self.client_active();
                return self.on_client_request(myself, frame, stream, Some(charge));
            }
            SessionMsg::ClientMessage {
                frame,
                permit,
                charge,
            } => {
                drop(permit);
                self.client_active();
                self.on_client_message(frame, Some(charge))
            }
            SessionMsg::AttachGetStream { stream, resume } => {
                self.client_active();
                self.on_listen(myself, stream, resume)
            }
            SessionMsg::InitializeAbandoned => self.on_initialize_abandoned(myself),
            SessionMsg::Drain => {
                tracing::info!(parent: &self.span, in_flight = self.requests.len(), "draining: no new requests; the session ends when the requests in flight are answered");
                self.draining = true;
            }
            SessionMsg::Child(event) => self.on_child_event(myself, event),
            SessionMsg::Timer(timer) => return self.on_timer(myself, timer),
        }
        None
    }

    fn client_active(&mut self) {
        self.last_client_activity = Instant::now();
        self.stats.client_active(self.last_client_activity);
    }

    fn on_child_event(&mut self, myself: &ActorRef<SessionMsg>, event: ChildEvent) {
        let current = |generation: u64, state: &SessionState| {
            generation == state.generation && state.child.is_some()
        };
        match event {
            ChildEvent::Frame {
                generation,
                frame,
                permit,
                charge,
            } if current(generation, self) => {
                drop(permit);
                self.on_child_frame(myself, frame);
                // Routed: a stream or the backlog charged the bytes again if it kept them.
                drop(charge);
            }
            ChildEvent::Unreadable {
                generation,
                id,
                problem,
                permit,
            } if current(generation, self) => {
                drop(permit);
                self.on_unreadable_line(myself, id, &problem)
            }
            ChildEvent::Exited { generation, report } if current(generation, self) => {
                self.on_child_exit(myself, report)
            }
            _ => {
                tracing::debug!(parent: &self.span, "dropped output of a replaced or stopped MCP server process");
            }
        }
    }

    fn on_timer<'a>(
        &'a mut self,
        myself: &'a ActorRef<SessionMsg>,
        timer: SessionTimer,
    ) -> Option<Waiting<'a>> {
        match timer {
            SessionTimer::Tick => self.on_tick(myself),
            SessionTimer::Respawn => return Some(Box::pin(self.respawn(myself))),
            SessionTimer::Ping => self.on_ping(myself),
            SessionTimer::PingDeadline {
                proxy_id,
                generation,
            } => self.on_ping_deadline(proxy_id, generation),
            SessionTimer::IdleCheck => self.on_idle_check(myself),
            SessionTimer::ReplayDeadline { generation } => self.on_replay_deadline(generation),
        }
        None
    }
}
