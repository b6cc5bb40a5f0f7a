//! `LineReader`: newline-delimited framing of a child's output with a hard cap per line, so a
//! child that never writes `\n` cannot make the proxy buffer without bound. An over-long line
//! is discarded, but its first and last few KiB are kept: the message's `id` is usually near
//! one end, and recovering it lets the proxy fail the request the line answered.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Bytes kept from each end of a discarded line.
pub const KEPT_ENDS: usize = 4096;

/// One line read from the child.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line without its `\n` (and without a trailing `\r`).
    Complete(&'a [u8]),
    /// A line longer than the cap; its bytes were discarded but for both ends.
    TooLong {
        len: usize,
        head: Vec<u8>,
        tail: Vec<u8>,
    },
}

/// Reads capped lines from an async byte source.
pub struct LineReader<R> {
    /// Buffered so that small lines cost one syscall per buffer, not per line.
    inner: BufReader<R>,
    max_line: usize,
    /// The line being assembled; reused between lines to avoid reallocating.
    line: Vec<u8>,
}

/// What is left of a line while it is being discarded.
struct Discarding {
    len: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Discarding {
    fn start(line: &[u8], chunk: &[u8]) -> Discarding {
        let mut discarding = Discarding {
            len: 0,
            head: Vec::with_capacity(KEPT_ENDS),
            tail: Vec::with_capacity(KEPT_ENDS),
        };
        discarding.add(line);
        discarding.add(chunk);
        discarding
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

    fn finish(self) -> Line<'static> {
        Line::TooLong {
            len: self.len,
            head: self.head,
            tail: self.tail,
        }
    }
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Wraps `source`, keeping lines of at most `max_line` bytes, reading `buffer` bytes at a
    /// time (the buffer is allocated per child, so it stays small; long lines are assembled in
    /// `line` anyway).
    pub fn new(source: R, max_line: usize, buffer: usize) -> LineReader<R> {
        LineReader {
            inner: BufReader::with_capacity(buffer, source),
            max_line,
            line: Vec::new(),
        }
    }

    /// The next line, or `None` at end of input.
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        self.line.clear();
        if self.line.capacity() > 1024 * 1024 {
            // Give back the memory of a past huge message.
            self.line = Vec::new();
        }
        let mut discarding: Option<Discarding> = None;
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if let Some(discarding) = discarding {
                    return Ok(Some(discarding.finish()));
                }
                if self.line.is_empty() {
                    return Ok(None);
                }
                break;
            }
            let (chunk, consumed, done) = match memchr::memchr(b'\n', available) {
                Some(end) => (&available[..end], end + 1, true),
                None => (available, available.len(), false),
            };
            match &mut discarding {
                Some(discarding) => discarding.add(chunk),
                None if self.line.len() + chunk.len() > self.max_line => {
                    discarding = Some(Discarding::start(&self.line, chunk));
                    self.line.clear();
                }
                None => self.line.extend_from_slice(chunk),
            }
            self.inner.consume(consumed);
            if done {
                if let Some(discarding) = discarding {
                    return Ok(Some(discarding.finish()));
                }
                break;
            }
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        Ok(Some(Line::Complete(&self.line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Result<String, usize>> {
        let mut reader = LineReader::new(input, max, 16);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            out.push(match line {
                Line::Complete(bytes) => Ok(String::from_utf8(bytes.to_vec()).unwrap()),
                Line::TooLong { len, .. } => Err(len),
            });
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_and_strips_carriage_returns() {
        assert_eq!(
            lines(b"a\r\nbb\n\nccc", 10).await,
            vec![
                Ok("a".into()),
                Ok("bb".into()),
                Ok("".into()),
                Ok("ccc".into())
            ]
        );
    }

    #[tokio::test]
    async fn over_long_lines_are_reported_and_skipped() {
        assert_eq!(
            lines(b"12345\nok\n1234567890123\nend\n", 4).await,
            vec![Err(5), Ok("ok".into()), Err(13), Ok("end".into())]
        );
    }

    #[tokio::test]
    async fn lines_spanning_many_buffers_are_kept_whole() {
        let mut input = vec![b'x'; 200_000];
        input.push(b'\n');
        let got = lines(&input, 300_000).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().map(String::len), Ok(200_000));
    }

    #[tokio::test]
    async fn a_discarded_line_keeps_both_ends() {
        let mut input = b"{\"id\":7,".to_vec();
        input.extend(std::iter::repeat_n(b'x', 20_000));
        input.extend_from_slice(b",\"end\":1}\nnext\n");
        let mut reader = LineReader::new(&input[..], 1000, 64);
        let Some(Line::TooLong { len, head, tail }) = reader.next_line().await.unwrap() else {
            panic!("expected an over-long line");
        };
        assert_eq!(len, 8 + 20_000 + 9);
        assert_eq!(head.len(), KEPT_ENDS);
        assert!(head.starts_with(b"{\"id\":7,xxx"));
        assert_eq!(tail.len(), KEPT_ENDS);
        assert!(tail.ends_with(b"xxx,\"end\":1}"));
        assert_eq!(
            reader.next_line().await.unwrap(),
            Some(Line::Complete(b"next"))
        );
    }
}
