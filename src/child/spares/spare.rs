//! `Spare`: one started child waiting in the pool, watched for its exit, and how a spare
//! that is not handed out is stopped.

use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::metrics::ProxyMetrics;
use crate::process::{ChildPipes, ExitReport, ManagedProcess};

/// A started child waiting for a session.
pub(super) struct Spare {
    pub(super) process: ManagedProcess,
    pub(super) pipes: ChildPipes,
    pub(super) born: Instant,
    /// The task that wakes the maintainer when this spare exits.
    pub(super) _watch: AbortOnDrop,
}

impl Spare {
    /// How the spare ended, once it has (exited, its group swept, reaped).
    pub(super) fn exited(&self) -> Option<ExitReport> {
        *self.process.exit_watch().borrow()
    }
}

/// Aborts a task when dropped.
pub(super) struct AbortOnDrop(pub(super) AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Stops a spare like any child: close its stdin, then escalate to its group.
pub(super) async fn stop(spare: Spare, grace: Duration, metrics: &ProxyMetrics) {
    let Spare {
        mut process, pipes, ..
    } = spare;
    let ChildPipes {
        stdin,
        stdout,
        stderr,
    } = pipes;
    let report = process.stop(Some(stdin), grace).await;
    drop((stdout, stderr));
    metrics.child_exited("stopped");
    tracing::debug!(pid = process.pid(), exit = %report, "spare child stopped");
}
