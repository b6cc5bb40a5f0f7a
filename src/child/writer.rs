//! The stdin side of a child: a bounded queue the session pushes serialized lines into without
//! ever waiting, and the task that owns the child's stdin and drains the queue.
//!
//! The task batches whatever is queued into one vectored write, so a burst of small messages
//! costs one syscall. A write may block for as long as the child does not read; only this task
//! waits then, never the session or the child's actor, whose stop and exit handling therefore
//! cannot queue behind a write. When the session drops its end, the task ends and the child's
//! stdin closes: that is the child's signal to exit.

use std::io::IoSlice;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::Span;

use crate::budget::Charge;

/// Most bytes gathered into one vectored write.
const BATCH_BYTES: usize = 256 * 1024;
/// Most lines gathered into one vectored write (the kernel caps an iovec at 1024 entries).
const BATCH_LINES: usize = 64;

/// The session's end of a child's stdin queue.
#[derive(Debug, Clone)]
pub struct StdinQueue {
    tx: mpsc::Sender<Queued>,
    depth: Arc<AtomicUsize>,
}

/// The writer task's end.
pub struct StdinReceiver {
    rx: mpsc::Receiver<Queued>,
    depth: Arc<AtomicUsize>,
}

/// A line and the budget charge it holds until it is written.
type Queued = (Bytes, Option<Charge>);

/// Why a line was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinRefused {
    /// The child is not reading fast enough; the queue is full.
    Full,
    /// The child's stdin is closed (it exited, or the write failed).
    Closed,
}

impl StdinQueue {
    /// A queue of at most `capacity` lines.
    pub fn new(capacity: usize) -> (StdinQueue, StdinReceiver) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let depth = Arc::new(AtomicUsize::new(0));
        (
            StdinQueue {
                tx,
                depth: depth.clone(),
            },
            StdinReceiver { rx, depth },
        )
    }

    /// Queues one line (ending in `\n`) without waiting.
    pub fn push(&self, line: Bytes, charge: Option<Charge>) -> Result<(), StdinRefused> {
        match self.tx.try_send((line, charge)) {
            Ok(()) => {
                self.depth.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(StdinRefused::Full),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(StdinRefused::Closed),
        }
    }

    /// Lines waiting, shared with the published session stats.
    pub fn depth(&self) -> Arc<AtomicUsize> {
        self.depth.clone()
    }
}

/// Drains the queue into the child's stdin until the session drops the queue or a write
/// fails; either way stdin is closed when this returns.
pub async fn write_stdin(
    mut stdin: Box<dyn AsyncWrite + Send + Unpin>,
    mut queue: StdinReceiver,
    span: Span,
) {
    let mut batch: Vec<Bytes> = Vec::with_capacity(BATCH_LINES);
    let mut charges: Vec<Charge> = Vec::with_capacity(BATCH_LINES);
    while let Some((first, charge)) = queue.rx.recv().await {
        let mut bytes = first.len();
        batch.push(first);
        charges.extend(charge);
        while bytes < BATCH_BYTES && batch.len() < BATCH_LINES {
            match queue.rx.try_recv() {
                Ok((line, charge)) => {
                    bytes += line.len();
                    batch.push(line);
                    charges.extend(charge);
                }
                Err(_) => break,
            }
        }
        let lines = batch.len();
        let written = write_all_vectored(stdin.as_mut(), &mut batch).await;
        queue.depth.fetch_sub(lines, Ordering::Relaxed);
        // Written: the bytes are the kernel's now, and their room in the budget is free.
        charges.clear();
        if let Err(err) = written {
            tracing::warn!(parent: &span, error = %err, "cannot write to the MCP server's stdin; it is probably exiting (its exit is reported when its stdout closes)");
            return;
        }
        batch.clear();
    }
}

/// Writes every byte of `lines`, in order, with as few syscalls as the pipe allows.
async fn write_all_vectored(
    stdin: &mut (dyn AsyncWrite + Send + Unpin),
    lines: &mut [Bytes],
) -> std::io::Result<()> {
    let mut first = 0;
    while first < lines.len() {
        let slices: Vec<IoSlice<'_>> = lines[first..].iter().map(|l| IoSlice::new(l)).collect();
        let mut written = stdin.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while first < lines.len() && written >= lines[first].len() {
            written -= lines[first].len();
            first += 1;
        }
        if written > 0 {
            // A partial line: keep its unwritten rest as the next slice.
            let rest = lines[first].slice(written..);
            lines[first] = rest;
        }
    }
    stdin.flush().await
}
