//! The session's control of its child process: spawning the next generation, stopping it
//! gracefully, reacting to its exit, failing what was in flight, and writing frames to its
//! bounded stdin queue.

use std::time::Duration;

use ractor::{Actor, ActorRef};
use serde_json::{Value, json};

use super::{CurrentChild, Phase, SessionMsg, SessionState};
use crate::child::{ChildArgs, ChildMsg, ChildProcess, StderrTail};
use crate::frame::{Frame, SERVER_ERROR};
use crate::mailbox::MailboxBound;
use crate::metrics::{Direction, FailReason, Limit};
use crate::process::{ExitReport, ManagedProcess};

impl SessionState {
    /// Spawns a new child process and its actor, as the next generation.
    pub(super) async fn start_child(
        &mut self,
        myself: &ActorRef<SessionMsg>,
    ) -> Result<(), String> {
        let spawned = ManagedProcess::spawn(&self.config.command).await;
        self.metrics.child_spawned(spawned.is_ok());
        let (process, pipes) = spawned.map_err(|err| err.to_string())?;
        let pid = process.pid();
        self.generation += 1;
        self.stderr_tail = StderrTail::default();
        let stdin = MailboxBound::new(self.config.stdin_queue_capacity);
        let args = ChildArgs {
            process,
            pipes,
            session: myself.clone(),
            inbox: self.inbox.clone(),
            metrics: self.metrics.clone(),
            generation: self.generation,
            max_message_bytes: self.config.max_message_bytes,
            kill_grace: self.config.kill_grace,
            span: self.span.clone(),
            session_id: self.id.clone(),
            stderr_tail: self.stderr_tail.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, ChildProcess, args, myself.get_cell())
            .await
            .map_err(|err| format!("cannot start the child process actor: {err}"))?;
        tracing::info!(parent: &self.span, pid, generation = self.generation, command = %self.config.command.display(), "MCP server process started");
        self.stats
            .child_started(pid, self.generation, stdin.clone());
        self.child = Some(CurrentChild { actor, pid, stdin });
        Ok(())
    }

    /// Stops a child gracefully and waits for it (bounded), killing it if it does not comply.
    pub(super) async fn stop_child(&self, child: CurrentChild) {
        // Each step of the graceful stop waits `kill_grace`; leave room for both plus reaping.
        let budget = self.config.kill_grace * 2 + Duration::from_secs(2);
        let outcome = ractor::call_t!(child.actor, ChildMsg::Stop, budget.as_millis() as u64);
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

    /// The child of the current generation is gone.
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
            self.answer_with_error(proxy_id, SERVER_ERROR, &message, Some(data));
            myself.stop(Some("init_failed".into()));
            return;
        }
        self.on_child_crash(myself, report, pid);
    }

    /// Answers every request in flight with a JSON-RPC error (never leave one hanging).
    pub(super) fn fail_all_requests(&mut self, message: &str, data: Value, reason: FailReason) {
        for request in self.requests.drain() {
            self.metrics.request_failed(request.method, reason);
            if let Some(mut stream) = request.stream {
                let frame = Frame::error_response(
                    request.client_id,
                    SERVER_ERROR,
                    message,
                    Some(data.clone()),
                );
                let _ = stream.offer(frame.to_bytes(), crate::stream::StreamEnd::Error);
            }
        }
    }

    /// Sends `frame` to the current child, if there is one and its stdin queue has room.
    pub(super) fn write_to_child(&self, frame: &Frame) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        let Some(permit) = child.stdin.try_reserve() else {
            tracing::warn!(parent: &self.span, pid = child.pid, queued = child.stdin.depth(), "the MCP server is not reading its stdin; message refused");
            self.metrics.limit_hit(Limit::StdinQueue);
            return false;
        };
        let line = frame.to_line();
        self.metrics
            .message(Direction::ClientToChild, frame.kind(), line.len());
        child.actor.cast(ChildMsg::Write(line, permit)).is_ok()
    }
}
