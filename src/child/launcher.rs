//! `Launcher`: where a session's children come from, and the handle the child actor keeps on
//! each. In production that is an OS process ([`ManagedProcess`]); in unit tests, a scripted
//! fake whose pipes are in-memory duplex streams, so the session's races (answer then exit,
//! exit while a write blocks, a client gone during `initialize`) run under paused tokio time
//! and cannot flake.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::spares::{AnswerWatch, SparePool};
use crate::config::CommandSpec;
use crate::process::{ChildPipes, ExitReport, ManagedProcess, SpawnError};

/// The three pipes of a child, whatever is at their other end.
pub struct ChildIo {
    pub stdin: Box<dyn AsyncWrite + Send + Unpin>,
    pub stdout: Box<dyn AsyncRead + Send + Unpin>,
    pub stderr: Box<dyn AsyncRead + Send + Unpin>,
}

impl From<ChildPipes> for ChildIo {
    fn from(pipes: ChildPipes) -> ChildIo {
        ChildIo {
            stdin: Box::new(pipes.stdin),
            stdout: Box::new(pipes.stdout),
            stderr: Box::new(pipes.stderr),
        }
    }
}

/// Starts children.
#[derive(Clone)]
pub enum Launcher {
    /// Real processes of the configured command, spawned on demand.
    Os,
    /// Real processes, taken from the pool of spares (`--prespawn`) when one is ready, else
    /// spawned on demand.
    Pooled(Arc<SparePool>),
    #[cfg(test)]
    Fake(super::fake::FakeLauncher),
}

/// A child the launcher started or took from the pool.
pub struct Launched {
    pub process: ChildHandle,
    pub io: ChildIo,
    /// Taken from the pool of spares (its spawn was counted when the pool started it).
    pub spare: bool,
}

impl Launcher {
    /// Starts one child of `spec` (or hands over a spare of it).
    pub async fn launch(&self, spec: &CommandSpec) -> Result<Launched, SpawnError> {
        let (process, io, spare) = match self {
            Launcher::Os => {
                let (process, pipes) = ManagedProcess::spawn(spec).await?;
                (process, pipes.into(), false)
            }
            Launcher::Pooled(pool) => match pool.take() {
                Some((process, pipes, first_answer)) => {
                    let mut io = ChildIo::from(pipes);
                    // The pool starts the replacement once this process has answered.
                    io.stdout = Box::new(AnswerWatch::new(io.stdout, first_answer));
                    (process, io, true)
                }
                None => {
                    let (process, pipes) = ManagedProcess::spawn(spec).await?;
                    (process, pipes.into(), false)
                }
            },
            #[cfg(test)]
            Launcher::Fake(fake) => {
                let (process, io) = fake.launch();
                return Ok(Launched {
                    process,
                    io,
                    spare: false,
                });
            }
        };
        Ok(Launched {
            process: ChildHandle::Os(process),
            io,
            spare,
        })
    }
}

/// The child actor's handle on its process.
pub enum ChildHandle {
    Os(ManagedProcess),
    #[cfg(test)]
    Fake(super::fake::FakeProcess),
}

impl ChildHandle {
    pub fn pid(&self) -> u32 {
        match self {
            ChildHandle::Os(process) => process.pid(),
            #[cfg(test)]
            ChildHandle::Fake(fake) => fake.pid(),
        }
    }

    /// Turns `Some` once the process has exited (and its group was swept).
    pub fn exit_watch(&self) -> watch::Receiver<Option<ExitReport>> {
        match self {
            ChildHandle::Os(process) => process.exit_watch(),
            #[cfg(test)]
            ChildHandle::Fake(fake) => fake.exit_watch(),
        }
    }

    /// Graceful stop (stdin is already closed by the caller): wait, SIGTERM, wait, SIGKILL.
    pub async fn stop(&mut self, grace: Duration) -> ExitReport {
        match self {
            ChildHandle::Os(process) => process.stop(None, grace).await,
            #[cfg(test)]
            ChildHandle::Fake(fake) => fake.stop(grace).await,
        }
    }

    /// Waits for a process that closed its stdout to exit, escalating if it lingers.
    pub async fn reap(&mut self, grace: Duration) -> ExitReport {
        match self {
            ChildHandle::Os(process) => process.reap(grace).await,
            #[cfg(test)]
            ChildHandle::Fake(fake) => fake.stop(grace).await,
        }
    }

    /// Kills the process (a hung child) now.
    pub fn kill(&self) {
        match self {
            ChildHandle::Os(process) => process.kill(),
            #[cfg(test)]
            ChildHandle::Fake(fake) => fake.kill(),
        }
    }
}
