//! Reading a request body under `--max-body-bytes` (413, at once when `Content-Length` already
//! says too much) and `--body-read-timeout` (408), and throwing away a body the proxy refused
//! so its client can read the refusal.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::BytesMut;
use futures_util::StreamExt;

use super::HttpState;
use super::responses::{header_str, rpc_error};
use crate::frame::INVALID_REQUEST;
use crate::metrics::Limit;

impl HttpState {
    /// Reads a request body under `--max-body-bytes` (413, at once when `Content-Length`
    /// already says too much) and `--body-read-timeout` (408).
    #[allow(clippy::result_large_err)]
    pub(super) async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Bytes, Response> {
        let limit = self.0.config.max_body_bytes;
        if declared_length(headers).is_some_and(|length| length > limit as u64) {
            return Err(self.body_too_large());
        }
        let read = read_limited(body, limit);
        let read = match self.0.config.body_read_timeout {
            Some(deadline) => match tokio::time::timeout(deadline, read).await {
                Ok(read) => read,
                Err(_late) => {
                    tracing::warn!(
                        deadline_s = deadline.as_secs_f64(),
                        "refused a request whose body did not arrive in time (--body-read-timeout)"
                    );
                    let message = format!(
                        "the request body did not arrive within --body-read-timeout ({}s)",
                        deadline.as_secs_f64()
                    );
                    return Err(closing(rpc_error(
                        StatusCode::REQUEST_TIMEOUT,
                        INVALID_REQUEST,
                        &message,
                    )));
                }
            },
            None => read.await,
        };
        match read {
            Ok(body) => Ok(body),
            Err(BodyError::TooLarge) => Err(self.body_too_large()),
            Err(BodyError::Broken(err)) => Err(rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                &format!("cannot read the request body: {err}"),
            )),
        }
    }

    /// 413: the body is (or says it is) larger than `--max-body-bytes`.
    pub(super) fn body_too_large(&self) -> Response {
        self.0.metrics.limit_hit(Limit::MaxBodyBytes);
        let limit = self.0.config.max_body_bytes;
        closing(rpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            &format!("request body is larger than --max-body-bytes ({limit} bytes)"),
        ))
    }
}

/// Adds `Connection: close`: the request's body was not read to its end, so the connection
/// cannot carry another request.
pub(super) fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Why a body could not be read.
enum BodyError {
    /// More than the limit.
    TooLarge,
    /// The connection failed mid-body.
    Broken(axum::Error),
}

/// Reads a body of at most `limit` bytes. A single chunk is taken without a copy; several are
/// gathered into one buffer as they arrive (sized by `Content-Length` when it is given), so
/// the copy overlaps the upload and no chunk is held after it is copied.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let declared = hyper::body::Body::size_hint(&body).lower();
    let mut stream = body.into_data_stream();
    let mut next = async || stream.next().await.transpose().map_err(BodyError::Broken);
    let Some(first) = next().await? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(BodyError::TooLarge);
    }
    let Some(second) = next().await? else {
        return Ok(first);
    };
    let expected = usize::try_from(declared).unwrap_or(usize::MAX).min(limit);
    let mut gathered = BytesMut::with_capacity(expected.max(first.len()));
    gathered.extend_from_slice(&first);
    drop(first);
    let mut chunk = Some(second);
    while let Some(more) = chunk {
        if gathered.len().saturating_add(more.len()) > limit {
            return Err(BodyError::TooLarge);
        }
        gathered.extend_from_slice(&more);
        chunk = next().await?;
    }
    Ok(gathered.freeze())
}

/// Reads and throws away the rest of a refused request's body, in the background, so a client
/// still uploading it can finish and then read the refusal (closing at once would make its
/// upload fail with a broken pipe, and the refusal would be lost). Nothing is kept: memory
/// stays flat whatever the body's size. Gives up after `deadline` or `limit` bytes, which
/// closes the connection.
pub(super) fn discard_body(body: Body, limit: u64, deadline: Option<Duration>) {
    tokio::spawn(async move {
        let drain = async move {
            let mut stream = body.into_data_stream();
            let mut seen = 0u64;
            while let Some(Ok(chunk)) = stream.next().await {
                seen = seen.saturating_add(chunk.len() as u64);
                if seen > limit {
                    return;
                }
            }
        };
        match deadline {
            Some(deadline) => {
                let _ = tokio::time::timeout(deadline, drain).await;
            }
            None => drain.await,
        }
    });
}

/// The body length the client declared in `Content-Length`, if any.
pub(super) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, header::CONTENT_LENGTH.as_str())?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    fn body_of(chunks: &[&'static [u8]]) -> Body {
        let chunks: Vec<Result<Bytes, Infallible>> = chunks
            .iter()
            .map(|chunk| Ok(Bytes::from_static(chunk)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn one_chunk_is_taken_as_it_is() {
        static CHUNK: &[u8] = b"{\"jsonrpc\":\"2.0\"}";
        let read = read_limited(body_of(&[CHUNK]), 100).await.ok().unwrap();
        assert_eq!(read.as_ptr(), CHUNK.as_ptr());
        assert_eq!(&read[..], CHUNK);
    }

    #[tokio::test]
    async fn chunks_are_gathered_in_order_up_to_the_limit() {
        let read = read_limited(body_of(&[b"{\"a\"", b":", b"1}"]), 7).await;
        assert_eq!(read.ok(), Some(Bytes::from_static(b"{\"a\":1}")));
        let over = read_limited(body_of(&[b"{\"a\"", b":", b"12}"]), 7).await;
        assert!(matches!(over, Err(BodyError::TooLarge)));
        let first_over = read_limited(body_of(&[b"{\"a\":12}"]), 7).await;
        assert!(matches!(first_over, Err(BodyError::TooLarge)));
        let empty = read_limited(body_of(&[]), 7).await;
        assert_eq!(empty.ok(), Some(Bytes::new()));
    }
}
