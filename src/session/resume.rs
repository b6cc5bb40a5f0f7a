//! Resumable streams of a session: the streams whose client may come back with
//! `Last-Event-ID`, kept (bounded in number and time) after their request was answered or
//! their connection dropped, and the re-attachment of a resumed GET to the right stream.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::SessionState;
use crate::stream::{EventId, StreamEvent, StreamSender};

/// How long a finished or detached stream can still be resumed.
const RESUME_TTL: Duration = Duration::from_secs(60);
/// How many such streams a session keeps.
const RESUME_CAPACITY: usize = 64;

/// Streams kept for resumption after their request was answered (or their standalone stream
/// was replaced or detached), oldest first.
#[derive(Debug, Default)]
pub(super) struct ResumableStreams {
    kept: VecDeque<(StreamSender, Instant)>,
}

impl ResumableStreams {
    /// Keeps `stream` for a possible resume.
    pub(super) fn keep(&mut self, stream: StreamSender) {
        if self.kept.len() == RESUME_CAPACITY {
            self.kept.pop_front();
        }
        self.kept.push_back((stream, Instant::now()));
    }

    /// Takes the kept stream with this id.
    fn take(&mut self, id: u64) -> Option<StreamSender> {
        let position = self.kept.iter().position(|(stream, _)| stream.id == id)?;
        self.kept.remove(position).map(|(stream, _)| stream)
    }

    /// Forgets streams kept longer than the resume window.
    pub(super) fn expire(&mut self) {
        while let Some((_, since)) = self.kept.front() {
            if since.elapsed() < RESUME_TTL {
                break;
            }
            self.kept.pop_front();
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
    /// to the new connection. Returns `false` (with `tx` handed back) if the stream is unknown.
    pub(super) fn resume(
        &mut self,
        tx: tokio::sync::mpsc::Sender<StreamEvent>,
        last: EventId,
    ) -> Result<(), tokio::sync::mpsc::Sender<StreamEvent>> {
        if let Some(stream) = self.requests.stream_with_id(last.stream) {
            stream.resume(tx, last.seq);
            tracing::debug!(parent: &self.span, stream = last.stream, "request stream resumed");
            return Ok(());
        }
        if let Some(mut stream) = self.resumable.take(last.stream) {
            // An answered request: the replay ends with its answer, and the stream with it. A
            // standalone stream resumes as the GET stream.
            let finished = stream.resume(tx, last.seq);
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
            stream.resume(tx, last.seq);
            self.flush_backlog();
            return Ok(());
        }
        Err(tx)
    }
}
