//! `ChildProcess`: the actor that owns one OS process of a session's MCP server.
//!
//! The actor decides (stop, kill, stop a process that closed stdout but lingers); three tasks
//! it starts do the I/O, so no decision ever waits behind a read or a write:
//! - `child/writer.rs` owns stdin and drains the session's stdin queue;
//! - `child/reader.rs` owns stdout, sends frames to the session and, last, the exit report;
//! - `child/stderr.rs` turns stderr into log lines.
//!
//! A child's exit therefore reaches its session in-band, after every frame it wrote. The
//! supervision event ractor sends when this actor stops is only the backstop for a panic.

#[cfg(test)]
pub mod fake;
mod launcher;
mod reader;
mod spares;
mod stderr;
mod writer;

pub use launcher::{ChildHandle, ChildIo, Launched, Launcher};
pub use spares::{PoolConfig, REFILL_PAUSE, SparePool};
pub use stderr::StderrTail;
pub use writer::{StdinQueue, StdinReceiver, StdinRefused};

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::{AbortHandle, JoinHandle};
use tracing::Span;

use crate::budget::Budget;
use crate::mailbox::MailboxBound;
use crate::metrics::ProxyMetrics;
use crate::process::ExitReport;
use crate::protocol::SessionMsg;
use crate::session_id::SessionId;

// ============================ ChildProcess actor ============================

pub struct ChildProcess;

pub enum ChildMsg {
    /// Stop the process gracefully (close stdin, SIGTERM, SIGKILL) and report how it ended.
    Stop(RpcReplyPort<ExitReport>),
    /// The process is hung: kill its group now (it is then reported as exited).
    Kill,
    /// The reader saw stdout close: make sure the process ends too.
    StdoutClosed,
    /// The reader reported the exit: nothing is left to do.
    OutputFinished,
}

pub struct ChildArgs {
    pub process: ChildHandle,
    pub io: ChildIo,
    pub stdin_queue: StdinReceiver,
    pub session: ActorRef<SessionMsg>,
    pub inbox: MailboxBound,
    pub metrics: Arc<ProxyMetrics>,
    /// Output of a child the session replaced is recognized by its generation.
    pub generation: u64,
    pub max_message_bytes: usize,
    /// The session's server→client budget: the reader waits for room before it reads on.
    pub budget: Budget,
    pub kill_grace: Duration,
    /// The session's span: every log line about this child carries the session id.
    pub span: Span,
    pub session_id: SessionId,
    pub stderr_tail: StderrTail,
}

pub struct ChildState {
    /// For an OS process, its `Drop` kills the group on every path that skips the graceful
    /// stop.
    process: ChildHandle,
    kill_grace: Duration,
    span: Span,
    writer: JoinHandle<()>,
    reader: JoinHandle<()>,
    stderr: AbortHandle,
}

impl Actor for ChildProcess {
    type Msg = ChildMsg;
    type State = ChildState;
    type Arguments = ChildArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ChildMsg>,
        args: ChildArgs,
    ) -> Result<ChildState, ActorProcessingErr> {
        let pid = args.process.pid();
        let span = tracing::info_span!(parent: &args.span, "child", session = args.session_id.log_id(), instance = args.session_id.instance(), pid, generation = args.generation);
        let ChildIo {
            stdin,
            stdout,
            stderr,
        } = args.io;
        let writer = tokio::spawn(writer::write_stdin(stdin, args.stdin_queue, span.clone()));
        let stderr = tokio::spawn(stderr::pump_stderr(stderr, span.clone(), args.stderr_tail));
        let stderr_abort = stderr.abort_handle();
        let route = reader::StdoutRoute {
            session: args.session,
            inbox: args.inbox,
            metrics: args.metrics,
            generation: args.generation,
            max_line: args.max_message_bytes,
            budget: args.budget,
            child: myself,
            exit: args.process.exit_watch(),
            stderr,
            span: span.clone(),
        };
        let reader = tokio::spawn(reader::read_stdout(stdout, route));
        tracing::debug!(parent: &span, "MCP server process started");
        Ok(ChildState {
            process: args.process,
            kill_grace: args.kill_grace,
            span,
            writer,
            reader,
            stderr: stderr_abort,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ChildMsg>,
        message: ChildMsg,
        state: &mut ChildState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ChildMsg::Stop(reply) => {
                // Dropping stdin (with whatever was still queued) is the first step of the
                // graceful stop; the writer may be blocked on a child that does not read.
                state.writer.abort();
                // Boxed (here and for `reap`): ractor sizes an actor's idle message loop for
                // its largest handler future, so the rare waits allocate only when they run.
                let report = Box::pin(state.process.stop(state.kill_grace)).await;
                let _ = reply.send(report);
                myself.stop(None);
            }
            ChildMsg::Kill => {
                tracing::warn!(parent: &state.span, "killing the MCP server's process group");
                state.process.kill();
            }
            ChildMsg::StdoutClosed => {
                // Waits for the exit, escalating if the process lingers without its stdout;
                // the reader reports the exit once this resolves it.
                let _ = Box::pin(state.process.reap(state.kill_grace)).await;
            }
            ChildMsg::OutputFinished => myself.stop(None),
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<ChildMsg>,
        state: &mut ChildState,
    ) -> Result<(), ActorProcessingErr> {
        state.writer.abort();
        state.reader.abort();
        state.stderr.abort();
        Ok(())
    }
}
