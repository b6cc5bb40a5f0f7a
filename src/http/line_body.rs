//! `line_body`: the HTTP body of a JSON answer that is one message ([`OneLine`]), written as
//! the message's pieces one after another with their exact total length (so the response has a
//! `Content-Length`, as a body of one run of bytes has). A large message whose id was spliced
//! reaches the socket without being joined into a copy.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

use crate::frame::OneLine;

/// The body carrying `message`.
pub fn line_body(message: OneLine) -> Body {
    match message.pieces() {
        [whole] => Body::from(whole.clone()),
        pieces => Body::new(Pieces {
            left: message.len() as u64,
            pieces: pieces.iter().cloned().collect(),
        }),
    }
}

/// The pieces not written yet.
struct Pieces {
    pieces: VecDeque<Bytes>,
    /// Their total length.
    left: u64,
}

impl hyper::body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.pieces.pop_front();
        if let Some(piece) = &next {
            self.left -= piece.len() as u64;
        }
        Poll::Ready(next.map(|piece| Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_spliced_message_is_sent_as_its_pieces_with_its_exact_length() {
        let text = "y".repeat(40 * 1024);
        let original = format!(r#"{{"jsonrpc":"2.0","id":9,"result":{{"text":"{text}"}}}}"#);
        let mut frame = crate::frame::Frame::parse(original.as_bytes()).unwrap();
        frame.replace_id(serde_json::json!("client-id"));
        let message = frame.to_one_line();
        assert_eq!(message.pieces().len(), 3);
        let expected =
            format!(r#"{{"jsonrpc":"2.0","id":"client-id","result":{{"text":"{text}"}}}}"#);
        let body = line_body(message);
        assert_eq!(
            hyper::body::Body::size_hint(&body).exact(),
            Some(expected.len() as u64)
        );
        let mut body = body;
        let mut frames = 0;
        let mut received = Vec::new();
        while let Some(frame) = body.frame().await {
            received.extend_from_slice(&frame.unwrap().into_data().unwrap());
            frames += 1;
        }
        assert_eq!(frames, 3);
        assert_eq!(received, expected.as_bytes());
    }

    #[tokio::test]
    async fn a_whole_message_is_one_chunk() {
        let body = line_body(OneLine::from_static(b"{\"a\":1}"));
        assert_eq!(hyper::body::Body::size_hint(&body).exact(), Some(7));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"{\"a\":1}");
    }
}
