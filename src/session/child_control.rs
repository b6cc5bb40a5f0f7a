//! The session's control of its child process: spawning the next generation, stopping it
//! gracefully, reacting to its exit, and writing frames to its bounded stdin queue.

use std::time::Duration;

use ractor::{Actor, ActorRef};
use serde_json::json;

use super::failure::ProxyError;
use super::{CurrentChild, Phase, SessionMsg, SessionState};
use crate::budget::Charge;
use crate::child::{
    ChildArgs, ChildMsg, ChildProcess, Launched, StderrTail, StdinQueue, StdinRefused,
};
use crate::frame::{Frame, SERVER_ERROR};
use crate::metrics::{Direction, FailReason, Limit};
use crate::process::{ExitReport, SpawnError};
use crate::protocol::CloseReason;

/// Why a child could not be started.
#[derive(Debug, thiserror::Error)]
pub(super) enum StartError {
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error("cannot start the child process actor: {0}")]
    Actor(#[from] ractor::SpawnErr),
}

impl SessionState {
    /// Spawns a new child process and its actor, as the next generation.
    pub(super) async fn start_child(
        &mut self,
        myself: &ActorRef<SessionMsg>,
    ) -> Result<(), StartError> {
        let launched = self.launcher.launch(&self.config.command).await;
        match &launched {
            // A spare's spawn was counted when the pool started it.
            Ok(launched) if launched.spare => {}
            spawned => self.metrics.child_spawned(spawned.is_ok()),
        }
        let Launched {
            process, io, spare, ..
        } = launched?;
        let pid = process.pid();
        self.generation += 1;
        self.stderr_tail = StderrTail::default();
        let (stdin, stdin_queue) = StdinQueue::new(self.config.stdin_queue_capacity);
        let args = ChildArgs {
            process,
            io,
            stdin_queue,
            session: myself.clone(),
            inbox: self.inbox.clone(),
            metrics: self.metrics.clone(),
            generation: self.generation,
            max_message_bytes: self.config.max_message_bytes,
            budget: self.budgets.to_client.clone(),
            kill_grace: self.config.kill_grace,
            span: self.span.clone(),
            session_id: self.id.clone(),
            stderr_tail: self.stderr_tail.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, ChildProcess, args, myself.get_cell()).await?;
        tracing::info!(parent: &self.span, pid, generation = self.generation, spare, command = %self.config.command.display(), "MCP server process started");
        self.stats
            .child_started(pid, self.generation, stdin.depth());
        self.child = Some(CurrentChild { actor, pid, stdin });
        Ok(())
    }

    /// Starts the child of a passthrough session, which needs no handshake: the session is
    /// ready at once, or ends if the command cannot start.
    pub(super) async fn start_stateless(&mut self, myself: &ActorRef<SessionMsg>) {
        match self.start_child(myself).await {
            Ok(()) => {
                self.restarts.child_started();
                self.phase = Phase::Ready;
            }
            Err(cause) => {
                let command = self.config.command.display();
                tracing::error!(parent: &self.span, %command, %cause, "cannot start the MCP server; check the command after `--`");
                self.close(myself, CloseReason::SpawnFailed);
            }
        }
    }

    /// Stops a child gracefully and waits for it (bounded), killing it if it does not comply.
    pub(super) async fn stop_child(&self, child: CurrentChild) {
        // Each step of the graceful stop waits `kill_grace`; leave room for both plus reaping.
        let budget = self
            .config
            .kill_grace
            .saturating_mul(2)
            .saturating_add(Duration::from_secs(2));
        let budget_ms = u64::try_from(budget.as_millis()).unwrap_or(u64::MAX);
        let outcome = ractor::call_t!(child.actor, ChildMsg::Stop, budget_ms);
        self.metrics.child_exited("stopped");
        self.stats.child_gone();
        match outcome {
            Ok(report) => {
                tracing::info!(parent: &self.span, pid = child.pid, exit = %report, "MCP server process stopped")
            }
            Err(err) => {
                tracing::warn!(parent: &self.span, pid = child.pid, error = %err, "MCP server process did not stop in time; killing its process group");
                child.actor.kill();
            }
        }
    }

    /// The child of the current generation is gone; every frame it wrote was handled before.
    pub(super) fn on_child_exit(&mut self, myself: &ActorRef<SessionMsg>, report: ExitReport) {
        let pid = self.child.take().map(|child| child.pid);
        self.stats.child_gone();
        self.metrics.child_exited(match report {
            ExitReport::Code(_) => "exit_code",
            ExitReport::Signal(_) => "signal",
            ExitReport::Unknown => "unknown",
        });
        let command = self.config.command.display();
        if let Phase::Initializing(proxy_id) = self.phase {
            tracing::error!(parent: &self.span, ?pid, exit = %report, %command, "MCP server exited before answering initialize; check the command and its stderr above");
            let message =
                format!("MCP server `{command}` exited before answering initialize ({report})");
            let data = json!({
                "command": command,
                "exit": report.to_json(),
                "stderr": self.stderr_tail.lines(),
            });
            let error =
                ProxyError::new(SERVER_ERROR, message, FailReason::ChildExited).with_data(data);
            self.fail_in_flight(proxy_id, &error);
            self.close(myself, CloseReason::InitFailed);
            return;
        }
        self.on_child_crash(myself, report, pid);
    }

    /// Asks the current child's actor to kill its process group (a hung child).
    pub(super) fn kill_child(&self) {
        if let Some(child) = &self.child {
            let _ = child.actor.cast(ChildMsg::Kill);
        }
    }

    /// Sends `frame` to the current child, if there is one and its stdin queue has room.
    pub(super) fn write_to_child(&self, frame: &Frame, charge: Option<Charge>) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        let message = frame.to_one_line();
        // Counted as written: the message and the newline the writer ends it with.
        let len = message.len() + 1;
        match child.stdin.push(message, charge) {
            Ok(()) => {
                self.metrics
                    .message(Direction::ClientToChild, frame.kind(), len);
                true
            }
            Err(StdinRefused::Full) => {
                tracing::warn!(parent: &self.span, pid = child.pid, "the MCP server is not reading its stdin; message refused");
                self.metrics.limit_hit(Limit::StdinQueue);
                false
            }
            Err(StdinRefused::Closed) => false,
        }
    }
}
