//! `LineReader`: newline-delimited framing of a child's output with a hard cap per line, so a
//! child that never writes `\n` cannot make the proxy buffer without bound. An over-long line
//! is discarded, but its first and last few KiB are kept: the message's `id` is usually near
//! one end, and recovering it lets the proxy fail the request the line answered.
//!
//! Lines are read into one `BytesMut` and handed over as frozen slices of it: a line is never
//! copied between the pipe and the frame that keeps it. The buffer exists only while bytes wait
//! in it: once every read byte is handed over it is let go, and the next read lands on the
//! stack first, so an idle child (most sessions, most of the time) holds no read buffer at all.
//! The allocation that follows that read is as large as what arrived, or, for a line still in
//! progress, grows by doubling with reads as large as its room.

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::Poll;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// Bytes kept from each end of a discarded line.
pub const KEPT_ENDS: usize = 4096;

/// The most bytes read onto the stack when no line is in progress.
const IDLE_READ_MAX: usize = 16 * 1024;

/// The most room kept for a line in progress after the lines before it were handed over: the
/// rest of a huge message's buffer belongs to the message (and goes when it does), so a short
/// remainder moves to a buffer of its own size.
const KEPT_CAPACITY: usize = 64 * 1024;

/// One line read from the child.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line without its `\n` (and without a trailing `\r`).
    Complete(Bytes),
    /// A line longer than the cap; its bytes were discarded but for both ends.
    TooLong {
        len: usize,
        head: Vec<u8>,
        tail: Vec<u8>,
    },
}

/// Reads capped lines from an async byte source. Cancel-safe: what a read brought is kept in
/// the reader, so a dropped `next_line` future loses nothing.
pub struct LineReader<R> {
    source: R,
    max_line: usize,
    /// Bytes read and not handed over yet; no allocation while empty.
    pending: BytesMut,
    /// Leading bytes of `pending` already searched for `\n` (a line in progress).
    searched: usize,
    /// Bytes read at a time onto the stack, and the least room a line in progress gets.
    idle_read: usize,
    /// The over-long line being skipped, if any.
    discarding: Option<Discarding>,
}

/// What is left of a line while it is being discarded.
struct Discarding {
    len: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Discarding {
    fn new() -> Discarding {
        Discarding {
            len: 0,
            head: Vec::with_capacity(KEPT_ENDS),
            tail: Vec::with_capacity(KEPT_ENDS),
        }
    }

    fn add(&mut self, chunk: &[u8]) {
        self.len += chunk.len();
        let room = KEPT_ENDS - self.head.len();
        self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let keep = &chunk[chunk.len().saturating_sub(KEPT_ENDS)..];
        self.tail.extend_from_slice(keep);
        let excess = self.tail.len().saturating_sub(KEPT_ENDS);
        self.tail.drain(..excess);
    }

    fn finish(self) -> Line {
        Line::TooLong {
            len: self.len,
            head: self.head,
            tail: self.tail,
        }
    }
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Wraps `source`, keeping lines of at most `max_line` bytes, reading up to `read` bytes at
    /// a time while no line is in progress (at most 16 KiB: that read lands on the stack).
    pub fn new(source: R, max_line: usize, read: usize) -> LineReader<R> {
        LineReader {
            source,
            max_line,
            pending: BytesMut::new(),
            searched: 0,
            idle_read: read.clamp(1, IDLE_READ_MAX),
            discarding: None,
        }
    }

    /// The next line, or `None` at end of input.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            if let Some(line) = self.take_line() {
                return Ok(Some(line));
            }
            if self.read().await? == 0 {
                return Ok(self.finish());
            }
        }
    }

    /// Bytes allocated for lines not handed over yet (0 while nothing waits).
    #[cfg(test)]
    pub fn buffered_capacity(&self) -> usize {
        self.pending.capacity()
    }

    /// The first complete line in `pending`, if there is one; otherwise notes how far the line
    /// in progress was searched and starts discarding it once it is over the cap.
    fn take_line(&mut self) -> Option<Line> {
        let Some(found) = memchr::memchr(b'\n', &self.pending[self.searched..]) else {
            self.searched = self.pending.len();
            self.cap_line_in_progress();
            return None;
        };
        let end = self.searched + found;
        self.searched = 0;
        let discarding = match self.discarding.take() {
            Some(discarding) => Some(discarding),
            None if end > self.max_line => Some(Discarding::new()),
            None => None,
        };
        let line = match discarding {
            Some(mut discarding) => {
                discarding.add(&self.pending[..end]);
                self.pending.advance(end + 1);
                discarding.finish()
            }
            None => {
                let mut line = if end + 1 == self.pending.len() {
                    // The whole buffer: handed over as it is, without splitting it.
                    std::mem::take(&mut self.pending)
                } else {
                    self.pending.split_to(end + 1)
                };
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                Line::Complete(line.freeze())
            }
        };
        self.let_go_of_handed_over();
        Some(line)
    }

    /// Keeps the line in progress within the cap: past it, the line is discarded but for its
    /// ends, and its buffer is let go.
    fn cap_line_in_progress(&mut self) {
        if self.discarding.is_none() && self.pending.len() <= self.max_line {
            return;
        }
        let discarding = self.discarding.get_or_insert_with(Discarding::new);
        discarding.add(&self.pending);
        self.pending = BytesMut::new();
        self.searched = 0;
    }

    /// After a hand-over: nothing stays allocated for an empty buffer, and a short remainder
    /// does not keep a huge buffer alive.
    fn let_go_of_handed_over(&mut self) {
        if self.pending.is_empty() {
            self.pending = BytesMut::new();
        } else if self.pending.capacity() > KEPT_CAPACITY {
            self.pending = BytesMut::from(&self.pending[..]);
        }
    }

    /// Reads more bytes into `pending`; 0 at end of input.
    async fn read(&mut self) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            return self.read_idle().await;
        }
        // A line in progress: its room doubles with it, and a read never takes the line more
        // than one byte past the cap (that byte tells it is over).
        let len = self.pending.len();
        self.pending.reserve(len.max(self.idle_read));
        let room = (self.max_line + 1).saturating_sub(len).max(1);
        let mut limited = (&mut self.pending).limit(room);
        self.source.read_buf(&mut limited).await
    }

    /// Waits for bytes without holding a buffer: they are read onto the stack, then moved to a
    /// buffer sized by what arrived.
    async fn read_idle(&mut self) -> std::io::Result<usize> {
        let LineReader {
            source,
            pending,
            idle_read,
            ..
        } = self;
        poll_fn(|cx| {
            let mut stack = [MaybeUninit::<u8>::uninit(); IDLE_READ_MAX];
            let mut read = ReadBuf::uninit(&mut stack[..*idle_read]);
            std::task::ready!(Pin::new(&mut *source).poll_read(cx, &mut read))?;
            let arrived = read.filled();
            if arrived.last() == Some(&b'\n') {
                // Whole lines: an exact fit, which is what their frames will keep.
                *pending = BytesMut::from(arrived);
            } else if !arrived.is_empty() {
                // A line in progress: room for it to grow.
                *pending = BytesMut::with_capacity(2 * arrived.len().max(*idle_read));
                pending.extend_from_slice(arrived);
            }
            Poll::Ready(Ok(arrived.len()))
        })
        .await
    }

    /// What is left at end of input: a last line without `\n`, or the line being discarded.
    fn finish(&mut self) -> Option<Line> {
        self.searched = 0;
        if let Some(discarding) = self.discarding.take() {
            self.pending = BytesMut::new();
            return Some(discarding.finish());
        }
        if self.pending.is_empty() {
            return None;
        }
        let mut line = std::mem::take(&mut self.pending);
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        Some(Line::Complete(line.freeze()))
    }
}

#[cfg(test)]
mod tests;
