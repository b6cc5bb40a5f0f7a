//! `SessionRouter`: the root actor. It opens sessions (mints ids, spawns supervisors), closes
//! them, drains them all on shutdown, and is the only writer of the `SessionIndex`.
//!
//! Its mailbox sees lifecycle traffic only: requests go from HTTP handlers straight to the
//! session actors, and slow work (stopping a child) runs in tasks, so one session's lifecycle
//! never delays another's.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::config::SessionConfig;
use crate::index::{SessionEntry, SessionId, SessionIndex};
use crate::session::{SessionArgs, SessionMsg, SessionSupervisor};

// ============================ SessionRouter actor ============================

/// The root actor of the session tree.
pub struct SessionRouter;

/// Lifecycle requests.
pub enum RouterMsg {
    /// Open a new session; its `initialize` is then sent to it by the caller.
    Open(RpcReplyPort<Result<(SessionId, ActorRef<SessionMsg>), OpenError>>),
    /// Close a session (DELETE): replies `false` if it was unknown.
    Close {
        /// Which session.
        id: SessionId,
        /// `true` once the session and its child are stopped.
        reply: RpcReplyPort<bool>,
    },
    /// Refuse new sessions and stop every session; replies when all are stopped.
    Drain(RpcReplyPort<()>),
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The proxy is shutting down.
    #[error("the proxy is shutting down and accepts no new sessions")]
    Draining,
    /// The OS random source failed.
    #[error("cannot mint a session id: {0}")]
    Random(String),
    /// The session actor could not start.
    #[error("cannot start the session actor: {0}")]
    Spawn(String),
}

/// What the router is built with.
pub struct RouterArgs {
    /// The index it maintains.
    pub index: Arc<SessionIndex>,
    /// Settings for every session.
    pub session: Arc<SessionConfig>,
}

/// The router's state.
pub struct RouterState {
    /// The index it alone writes.
    index: Arc<SessionIndex>,
    /// Settings for every session.
    session: Arc<SessionConfig>,
    /// Session actor → id, to clean the index when a session ends by itself.
    by_actor: HashMap<ActorId, SessionId>,
    /// Set by `Drain`: new sessions are refused.
    draining: bool,
}

/// Longest wait for one session (and its child) to stop.
const SESSION_STOP_BUDGET: Duration = Duration::from_secs(30);

impl Actor for SessionRouter {
    type Msg = RouterMsg;
    type State = RouterState;
    type Arguments = RouterArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<RouterMsg>,
        args: RouterArgs,
    ) -> Result<RouterState, ActorProcessingErr> {
        Ok(RouterState {
            index: args.index,
            session: args.session,
            by_actor: HashMap::new(),
            draining: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RouterMsg>,
        message: RouterMsg,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RouterMsg::Open(reply) => {
                let opened = state.open(&myself).await;
                let _ = reply.send(opened);
            }
            RouterMsg::Close { id, reply } => match state.index.remove(&id) {
                Some(actor) => {
                    state.by_actor.remove(&actor.get_id());
                    tracing::info!(session = %id, "session closed by the client (DELETE)");
                    tokio::spawn(async move {
                        let _ = actor
                            .stop_and_wait(Some("deleted".into()), Some(SESSION_STOP_BUDGET))
                            .await;
                        let _ = reply.send(true);
                    });
                }
                None => {
                    let _ = reply.send(false);
                }
            },
            RouterMsg::Drain(reply) => {
                state.draining = true;
                let sessions = state.index.snapshot();
                tracing::info!(
                    sessions = sessions.len(),
                    "draining: stopping every session"
                );
                for (id, _) in &sessions {
                    state.index.remove(id);
                }
                state.by_actor.clear();
                tokio::spawn(async move {
                    let stops = sessions.into_iter().map(|(_, actor)| async move {
                        let _ = actor
                            .stop_and_wait(Some("shutdown".into()), Some(SESSION_STOP_BUDGET))
                            .await;
                    });
                    futures_util::future::join_all(stops).await;
                    let _ = reply.send(());
                });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<RouterMsg>,
        event: SupervisionEvent,
        state: &mut RouterState,
    ) -> Result<(), ActorProcessingErr> {
        // Overridden: ractor's default would stop the router when any session ends.
        let cell = match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => cell,
            SupervisionEvent::ActorFailed(cell, err) => {
                tracing::error!(error = %err, "a session actor failed; its session is gone");
                cell
            }
            _ => return Ok(()),
        };
        if let Some(id) = state.by_actor.remove(&cell.get_id()) {
            state.index.remove(&id);
            tracing::debug!(session = %id, "session ended");
        }
        Ok(())
    }
}

impl RouterState {
    /// Mints an id, spawns the session's supervisor and publishes it in the index.
    async fn open(
        &mut self,
        myself: &ActorRef<RouterMsg>,
    ) -> Result<(SessionId, ActorRef<SessionMsg>), OpenError> {
        if self.draining {
            return Err(OpenError::Draining);
        }
        let id = SessionId::mint().map_err(|err| OpenError::Random(err.to_string()))?;
        let args = SessionArgs {
            id: id.clone(),
            config: self.session.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, SessionSupervisor, args, myself.get_cell())
            .await
            .map_err(|err| OpenError::Spawn(err.to_string()))?;
        self.by_actor.insert(actor.get_id(), id.clone());
        self.index.insert(
            id.clone(),
            SessionEntry {
                actor: actor.clone(),
            },
        );
        Ok((id, actor))
    }
}
