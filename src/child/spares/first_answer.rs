//! `FirstAnswer`: how the pool learns that a taken spare has started answering, so that its
//! replacement starts then instead of at the end of the refill pause. A server writes nothing
//! on stdout before `initialize`, so its first stdout bytes are its answer to the session's
//! `initialize`: until then a starting replacement would compete with it for the cores.

use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::{SparePool, lock};

/// Held for a taken spare until its process first writes to stdout (or its stdout ends);
/// dropping it tells the pool.
pub struct FirstAnswer(Weak<SparePool>);

impl FirstAnswer {
    pub(super) fn new(pool: Weak<SparePool>) -> FirstAnswer {
        FirstAnswer(pool)
    }
}

impl Drop for FirstAnswer {
    fn drop(&mut self) {
        if let Some(pool) = self.0.upgrade() {
            let mut state = lock(&pool.state);
            state.awaiting_answer = state.awaiting_answer.saturating_sub(1);
            drop(state);
            pool.wake.notify_one();
        }
    }
}

/// A taken spare's stdout: reads pass through, and the first read that completes (bytes,
/// end of file or an error) drops the [`FirstAnswer`].
pub struct AnswerWatch<R> {
    inner: R,
    first_answer: Option<FirstAnswer>,
}

impl<R> AnswerWatch<R> {
    pub fn new(inner: R, first_answer: FirstAnswer) -> AnswerWatch<R> {
        AnswerWatch {
            inner,
            first_answer: Some(first_answer),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AnswerWatch<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if read.is_ready() {
            self.first_answer = None;
        }
        read
    }
}
