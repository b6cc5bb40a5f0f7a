//! Resumable streams of a session: the streams whose client may come back with
//! `Last-Event-ID`, kept (bounded in number and time) after their request was answered or
//! their connection dropped, and the re-attachment of a resumed GET to the right stream.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::SessionState;
use crate::stream::{EventId, StreamSender};

/// How long a finished or detached stream can still be resumed.
const RESUME_TTL: Duration = Duration::from_secs(60);
/// How many such streams a session keeps.
const RESUME_CAPACITY: usize = 64;
/// How many payload bytes those streams may hold in all, per session (a client making many
/// large calls must not pin their answers in memory).
const RESUME_BYTES: usize = 32 * 1024 * 1024;

/// Streams kept for resumption after their request was answered (or their standalone stream
/// was replaced or detached), oldest first.
#[derive(Debug, Default)]
pub(super) struct ResumableStreams {
    /// The kept streams with when they were kept.
    kept: VecDeque<(StreamSender, Instant)>,
    /// Payload bytes held by `kept`.
    bytes: usize,
}

impl ResumableStreams {
    /// Keeps `stream` for a possible resume.
    pub(super) fn keep(&mut self, mut stream: StreamSender) {
        // Its client is gone or done: the channel is released, only the replay ring stays.
        stream.detach();
        self.bytes += stream.kept_bytes();
        self.kept.push_back((stream, Instant::now()));
        while self.kept.len() > RESUME_CAPACITY || self.bytes > RESUME_BYTES {
            self.forget_oldest();
        }
    }

    /// Takes the kept stream with this id.
    fn take(&mut self, id: u64) -> Option<StreamSender> {
        let position = self.kept.iter().position(|(stream, _)| stream.id == id)?;
        let (stream, _) = self.kept.remove(position)?;
        self.bytes -= stream.kept_bytes();
        Some(stream)
    }

    /// Forgets streams kept longer than the resume window.
    pub(super) fn expire(&mut self) {
        while let Some((_, since)) = self.kept.front() {
            if since.elapsed() < RESUME_TTL {
                break;
            }
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((stream, _)) = self.kept.pop_front() {
            self.bytes -= stream.kept_bytes();
        }
    }

    /// Whether nothing is kept.
    pub(super) fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }
}

impl SessionState {
    /// Whether streams are kept for resumption (they expire on the housekeeping tick).
    pub(super) fn has_resumable(&self) -> bool {
        !self.resumable.is_empty()
    }

    /// A GET carried `Last-Event-ID`: replays what followed on that stream and re-attaches it
    /// to the new connection (`new`'s channel). Hands `new` back if the stream is unknown.
    pub(super) fn resume(&mut self, new: StreamSender, last: EventId) -> Result<(), StreamSender> {
        if let Some(stream) = self.requests.stream_with_id(last.stream) {
            stream.resume(new, last.seq);
            tracing::debug!(parent: &self.span, stream = last.stream, "request stream resumed");
            return Ok(());
        }
        if let Some(mut stream) = self.resumable.take(last.stream) {
            // An answered request: the replay ends with its answer, and the stream with it. A
            // standalone stream resumes as the GET stream.
            let finished = stream.resume(new, last.seq);
            if !finished && self.standalone.as_ref().is_none_or(|s| !s.is_attached()) {
                if let Some(previous) = self.standalone.replace(stream) {
                    self.resumable.keep(previous);
                }
                self.flush_backlog();
            }
            tracing::debug!(parent: &self.span, stream = last.stream, "stream resumed after it ended or detached");
            return Ok(());
        }
        if let Some(stream) = self.standalone.as_mut().filter(|s| s.id == last.stream) {
            stream.resume(new, last.seq);
            self.flush_backlog();
            return Ok(());
        }
        Err(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OneLine;
    use crate::stream::{Priming, StreamEnd};
    use bytes::Bytes;

    fn stream_with(id: u64, bytes: usize) -> StreamSender {
        let (mut stream, _rx) = StreamSender::open(id, 4, Priming::None);
        let payload = OneLine::check(Bytes::from(vec![b'x'; bytes])).unwrap();
        stream.keep_for_resume(payload, StreamEnd::Result);
        stream
    }

    #[test]
    fn kept_streams_are_bounded_in_number_and_bytes() {
        let mut kept = ResumableStreams::default();
        for id in 0..100 {
            kept.keep(stream_with(id, 10));
        }
        assert_eq!(kept.kept.len(), RESUME_CAPACITY);
        assert!(kept.take(0).is_none());
        assert!(kept.take(99).is_some());
        let mut kept = ResumableStreams::default();
        for id in 0..5 {
            kept.keep(stream_with(id, 10 * 1024 * 1024));
        }
        assert_eq!(kept.kept.len(), 3);
        assert_eq!(kept.bytes, 30 * 1024 * 1024);
        assert!(kept.take(1).is_none());
        assert!(kept.take(4).is_some());
        assert_eq!(kept.bytes, 20 * 1024 * 1024);
    }

    #[tokio::test(start_paused = true)]
    async fn kept_streams_expire() {
        let mut kept = ResumableStreams::default();
        kept.keep(stream_with(1, 10));
        tokio::time::advance(RESUME_TTL).await;
        kept.keep(stream_with(2, 10));
        kept.expire();
        assert_eq!(kept.kept.len(), 1);
        assert_eq!(kept.bytes, 10);
    }
}
