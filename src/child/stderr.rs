//! The stderr side of a child: every line becomes a log line in the session's span, rate
//! limited so a flood can neither block the child (the pipe is always drained) nor drown the
//! proxy's log; the last few lines are kept for the error report of a child that dies.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncRead;
use tracing::Span;

use crate::line_reader::{Line, LineReader};

/// Bytes read at a time from a child's stderr, which carries only log lines (on the stack: an
/// idle child's stderr holds no buffer).
const STDERR_READ: usize = 1024;
/// Longest stderr line kept whole.
const STDERR_LINE: usize = 16 * 1024;
/// Most stderr lines logged per second per child; the excess is counted, not logged.
const STDERR_LINES_PER_SECOND: u32 = 200;

/// The last few stderr lines of a child, shared with the session for error reports.
#[derive(Clone, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    const KEEP: usize = 8;

    fn push(&self, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == Self::KEEP {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }

    /// A copy of the kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Forwards the child's stderr to the log, line by line, until it closes.
pub async fn pump_stderr(stderr: Box<dyn AsyncRead + Send + Unpin>, span: Span, tail: StderrTail) {
    let mut reader = LineReader::new(stderr, STDERR_LINE, STDERR_READ);
    let mut window_start = tokio::time::Instant::now();
    let mut logged = 0u32;
    let mut suppressed = 0u64;
    loop {
        let line = match reader.next_line().await {
            Ok(Some(Line::Complete(bytes))) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(Some(Line::TooLong { len, .. })) => {
                format!("[{len} bytes of stderr without a newline]")
            }
            Ok(None) | Err(_) => break,
        };
        let now = tokio::time::Instant::now();
        if now.duration_since(window_start) >= Duration::from_secs(1) {
            if suppressed > 0 {
                tracing::warn!(parent: &span, suppressed, "MCP server stderr flood: lines not logged");
            }
            window_start = now;
            logged = 0;
            suppressed = 0;
        }
        if logged < STDERR_LINES_PER_SECOND {
            logged += 1;
            tracing::info!(target: "hyper_mcp_proxy::child_stderr", parent: &span, "{line}");
        } else {
            suppressed += 1;
        }
        tail.push(line);
    }
    if suppressed > 0 {
        tracing::warn!(parent: &span, suppressed, "MCP server stderr flood: lines not logged");
    }
}
