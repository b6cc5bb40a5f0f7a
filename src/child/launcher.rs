//! `Launcher`: where a session's children come from, and the handle the child actor keeps on
//! each. In production that is an OS process ([`ManagedProcess`]); in unit tests, a scripted
//! fake whose pipes are in-memory duplex streams, so the session's races (answer then exit,
//! exit while a write blocks, a client gone during `initialize`) run under paused tokio time
//! and cannot flake.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

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
    /// Real processes of the configured command.
    Os,
    #[cfg(test)]
    Fake(super::fake::FakeLauncher),
}

impl Launcher {
    /// Starts one child of `spec`.
    pub async fn launch(&self, spec: &CommandSpec) -> Result<(ChildHandle, ChildIo), SpawnError> {
        match self {
            Launcher::Os => {
                let (process, pipes) = ManagedProcess::spawn(spec).await?;
                Ok((ChildHandle::Os(process), pipes.into()))
            }
            #[cfg(test)]
            Launcher::Fake(fake) => Ok(fake.launch()),
        }
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
