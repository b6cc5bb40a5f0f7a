//! The stdin side of a child: a bounded queue the session pushes single-line messages
//! ([`OneLine`]) into without ever waiting, and the task that owns the child's stdin and drains
//! the queue, writing each message followed by `\n`.
//!
//! The task batches whatever is queued into one vectored write, so a burst of small messages
//! costs one syscall; the newline is a slice of its own, so no message is copied to end it. A write may block for as long as the child does not read; only this task
//! waits then, never the session or the child's actor, whose stop and exit handling therefore
//! cannot queue behind a write. When the session drops its end, the task ends and the child's
//! stdin closes: that is the child's signal to exit.

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing::Span;

use crate::budget::Charge;
use crate::frame::OneLine;

/// Most bytes gathered into one vectored write.
const BATCH_BYTES: usize = 256 * 1024;
/// Most lines gathered into one vectored write.
const BATCH_LINES: usize = 64;
/// Slices of one vectored write: each line is its message's pieces (one, or three around a
/// spliced id) and, separately, its newline, so a message is never copied to append one.
const BATCH_SLICES: usize = 4 * BATCH_LINES;
// The kernel refuses a write of more than IOV_MAX (1024 on Linux and the BSDs) slices.
const _: () = assert!(BATCH_SLICES <= 1024);

/// The stdio transport's line terminator, written from this one static copy.
const NEWLINE: &[u8] = b"\n";

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

/// A message and the budget charge it holds until it is written.
type Queued = (OneLine, Option<Charge>);

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinRefused {
    /// The child is not reading fast enough; the queue is full.
    Full,
    /// The child's stdin is closed (it exited, or the write failed).
    Closed,
}

impl StdinQueue {
    /// A queue of at most `capacity` messages.
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

    /// Queues one message without waiting; the writer ends it with `\n`.
    pub fn push(&self, message: OneLine, charge: Option<Charge>) -> Result<(), StdinRefused> {
        match self.tx.try_send((message, charge)) {
            Ok(()) => {
                self.depth.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(StdinRefused::Full),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(StdinRefused::Closed),
        }
    }

    /// Messages waiting, shared with the published session stats.
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
    while let Some((first, charge)) = queue.rx.recv().await {
        // Allocated per batch, not held while idle: an idle session keeps no batch memory.
        let mut batch = Batch::default();
        let mut charges: Vec<Charge> = Vec::new();
        let mut bytes = first.len();
        batch.lines.push(first);
        charges.extend(charge);
        while bytes < BATCH_BYTES && batch.lines.len() < BATCH_LINES {
            match queue.rx.try_recv() {
                Ok((message, charge)) => {
                    bytes += message.len();
                    batch.lines.push(message);
                    charges.extend(charge);
                }
                Err(_) => break,
            }
        }
        let lines = batch.lines.len();
        let written = write_all_vectored(stdin.as_mut(), &mut batch).await;
        queue.depth.fetch_sub(lines, Ordering::Relaxed);
        // Written: the bytes are the kernel's now, and their room in the budget is free.
        drop(charges);
        if let Err(err) = written {
            tracing::warn!(parent: &span, error = %err, "cannot write to the MCP server's stdin; it is probably exiting (its exit is reported when its stdout closes)");
            return;
        }
    }
}

/// Messages being written as lines, and how far the writing got.
#[derive(Default)]
struct Batch {
    lines: Vec<OneLine>,
    /// Lines written whole (message and newline).
    done: usize,
    /// Bytes of `lines[done]` already written; its length means only its newline is left.
    offset: usize,
}

impl Batch {
    /// Whether every line is written.
    fn is_written(&self) -> bool {
        self.done == self.lines.len()
    }

    /// Fills `slices` with what is left, in order; returns how many slices it used.
    fn unwritten<'a>(&'a self, slices: &mut [IoSlice<'a>; BATCH_SLICES]) -> usize {
        let mut used = 0;
        for (index, line) in self.lines.iter().enumerate().skip(self.done) {
            let pieces = line.pieces();
            if used + pieces.len() + 1 > BATCH_SLICES {
                break;
            }
            // Bytes of this line already written, to skip (only the first line has any).
            let mut written = if index == self.done { self.offset } else { 0 };
            for piece in pieces {
                if written >= piece.len() {
                    written -= piece.len();
                    continue;
                }
                slices[used] = IoSlice::new(&piece[written..]);
                used += 1;
                written = 0;
            }
            slices[used] = IoSlice::new(NEWLINE);
            used += 1;
        }
        used
    }

    /// Records that the next `written` bytes went out: a write may end anywhere, inside a
    /// message or between a message and its newline.
    fn advance(&mut self, mut written: usize) {
        while written > 0 && !self.is_written() {
            let left = self.lines[self.done].len() + NEWLINE.len() - self.offset;
            if written < left {
                self.offset += written;
                return;
            }
            written -= left;
            self.done += 1;
            self.offset = 0;
        }
    }
}

/// Writes every line of `batch`, in order, with as few syscalls as the pipe allows.
async fn write_all_vectored(
    stdin: &mut (dyn AsyncWrite + Send + Unpin),
    batch: &mut Batch,
) -> std::io::Result<()> {
    while !batch.is_written() {
        let written = poll_fn(|cx| {
            // Built on each poll, on the stack: the slices borrow the batch only while the
            // write is tried, and the task's future (kept per session) does not grow by them.
            let mut slices = [IoSlice::new(&[]); BATCH_SLICES];
            let used = batch.unwritten(&mut slices);
            Pin::new(&mut *stdin).poll_write_vectored(cx, &slices[..used])
        })
        .await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        batch.advance(written);
    }
    stdin.flush().await
}

#[cfg(test)]
mod tests;
