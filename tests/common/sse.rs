//! Server-Sent Events as the proxy sends them: the `data:` payloads of a whole SSE body, and a
//! reader that takes JSON-RPC messages off a response while it is still open.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::proxy::WAIT;

/// The `data:` payloads of a complete SSE body. An event with empty data (the priming event of
/// 2025-11-25 streams) is not a message: like a browser's `EventSource`, it is not dispatched.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            let data = data.join("\n");
            (!data.is_empty()).then_some(data)
        })
        .collect()
}

/// Reads SSE events from a response while it is still open.
pub struct SseReader {
    /// HTTP status of the response.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub(super) fn new(response: reqwest::Response) -> SseReader {
        SseReader {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next JSON-RPC message on the stream (bounded wait); `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(WAIT, self.next_unbounded())
            .await
            .expect("timed out waiting for an SSE event")
    }

    /// The next message if one arrives within `wait`: `Some(None)` when the stream ended,
    /// `None` when nothing came in time (for negative checks only; the stream stays usable).
    pub async fn next_within(&mut self, wait: Duration) -> Option<Option<Value>> {
        tokio::time::timeout(wait, self.next_unbounded()).await.ok()
    }

    async fn next_unbounded(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = sse_data(&event).into_iter().next() {
                    return Some(serde_json::from_str(&data).expect("SSE data is JSON"));
                }
                continue;
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => {
                    // A JSON (non-SSE) body arrives whole: hand it out as one message.
                    let rest = std::mem::take(&mut self.buffer);
                    return (!rest.trim().is_empty())
                        .then(|| serde_json::from_str(&rest).expect("JSON body"));
                }
            }
        }
    }
}

/// Reads the next message of `stream`, which must be there.
pub async fn next(stream: &mut SseReader) -> Value {
    stream.next().await.expect("the stream ended early")
}
