//! Tests of the stdin writer: lines come out whole and in order whatever the pipe accepts per
//! write, and batching gathers what is queued.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncReadExt, AsyncWrite};
use tracing::Span;

use super::*;

/// A pipe that takes at most `per_write` bytes per write (across slices), recording each
/// write's size.
struct Trickle {
    per_write: usize,
    out: Vec<u8>,
    writes: Vec<usize>,
}

impl Trickle {
    fn new(per_write: usize) -> Trickle {
        Trickle {
            per_write,
            out: Vec::new(),
            writes: Vec::new(),
        }
    }
}

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let taken = buf.len().min(self.per_write);
        self.out.extend_from_slice(&buf[..taken]);
        self.writes.push(taken);
        Poll::Ready(Ok(taken))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let mut taken = 0;
        for slice in slices {
            let room = self.per_write - taken;
            let part = &slice[..slice.len().min(room)];
            self.out.extend_from_slice(part);
            taken += part.len();
            if taken == self.per_write {
                break;
            }
        }
        self.writes.push(taken);
        Poll::Ready(Ok(taken))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn batch_of(messages: &[&'static [u8]]) -> Batch {
    Batch {
        lines: messages.iter().map(|m| OneLine::from_static(m)).collect(),
        done: 0,
        offset: 0,
    }
}

#[tokio::test]
async fn partial_writes_end_anywhere_and_every_line_comes_out_whole() {
    let messages: [&'static [u8]; 4] = [b"{\"a\":1}", b"abc", b"", b"{\"long\":\"0123456789\"}"];
    let expected = b"{\"a\":1}\nabc\n\n{\"long\":\"0123456789\"}\n";
    // Every write size from one byte to more than everything: writes end inside messages,
    // right after a message (before its newline) and right after a newline.
    for per_write in 1..=expected.len() + 1 {
        let mut pipe = Trickle::new(per_write);
        let mut batch = batch_of(&messages);
        write_all_vectored(&mut pipe, &mut batch).await.unwrap();
        assert_eq!(pipe.out, expected, "{per_write} bytes per write");
        assert_eq!(pipe.writes.len(), expected.len().div_ceil(per_write));
        assert!(batch.is_written());
    }
}

#[test]
fn a_write_ending_between_a_message_and_its_newline_leaves_only_the_newline() {
    fn left(batch: &Batch) -> Vec<Vec<u8>> {
        let mut slices = [IoSlice::new(&[]); BATCH_SLICES];
        let used = batch.unwritten(&mut slices);
        slices[..used].iter().map(|slice| slice.to_vec()).collect()
    }
    let mut batch = batch_of(&[b"abc", b"de"]);
    batch.advance(3);
    assert_eq!((batch.done, batch.offset), (0, 3));
    assert_eq!(
        left(&batch),
        vec![b"\n".to_vec(), b"de".to_vec(), b"\n".to_vec()]
    );
    batch.advance(2);
    assert_eq!((batch.done, batch.offset), (1, 1));
    assert_eq!(left(&batch), vec![b"e".to_vec(), b"\n".to_vec()]);
    batch.advance(2);
    assert!(batch.is_written());
}

#[test]
fn a_full_batch_fits_the_slice_cap() {
    let messages = vec![&b"{}"[..]; BATCH_LINES];
    let batch = batch_of(&messages);
    let mut slices = [IoSlice::new(&[]); BATCH_SLICES];
    assert_eq!(batch.unwritten(&mut slices), 2 * BATCH_LINES);
}

/// A message large enough to be spliced into pieces when its id changes.
fn spliced_request() -> (OneLine, Vec<u8>) {
    let text = "x".repeat(40 * 1024);
    let original = format!(r#"{{"jsonrpc":"2.0","id":"client-1","method":"m","params":"{text}"}}"#);
    let mut frame = crate::frame::Frame::parse(original.as_bytes()).unwrap();
    frame.replace_id(serde_json::json!(12));
    let expected = format!(r#"{{"jsonrpc":"2.0","id":12,"method":"m","params":"{text}"}}"#);
    (frame.to_one_line(), expected.into_bytes())
}

#[tokio::test]
async fn a_spliced_message_is_written_piece_by_piece_and_partial_writes_cross_pieces() {
    let (message, mut expected) = spliced_request();
    assert_eq!(message.pieces().len(), 3);
    expected.push(b'\n');
    let mut batch = Batch {
        lines: vec![message.clone(), OneLine::from_static(b"{}")],
        done: 0,
        offset: 0,
    };
    let mut slices = [IoSlice::new(&[]); BATCH_SLICES];
    assert_eq!(batch.unwritten(&mut slices), 6);
    // Writes ending inside the first piece, in the id, and on each boundary.
    for per_write in [1, 7, 19, 20, 21, 22, 4096, 1 << 20] {
        let mut pipe = Trickle::new(per_write);
        batch.done = 0;
        batch.offset = 0;
        write_all_vectored(&mut pipe, &mut batch).await.unwrap();
        let mut both = expected.clone();
        both.extend_from_slice(b"{}\n");
        assert_eq!(pipe.out, both, "{per_write} bytes per write");
    }
}

#[tokio::test]
async fn queued_messages_become_lines_in_order_and_the_depth_drains() {
    let (queue, receiver) = StdinQueue::new(8);
    let depth = queue.depth();
    let (stdin, mut child_end) = tokio::io::duplex(1024);
    for message in [&b"{\"n\":1}"[..], b"{\"n\":2}", b"{\"n\":3}"] {
        queue.push(OneLine::from_static(message), None).unwrap();
    }
    assert_eq!(depth.load(Ordering::Relaxed), 3);
    let writer = tokio::spawn(write_stdin(Box::new(stdin), receiver, Span::none()));
    drop(queue);
    let mut received = Vec::new();
    child_end.read_to_end(&mut received).await.unwrap();
    assert_eq!(received, b"{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    writer.await.unwrap();
    assert_eq!(depth.load(Ordering::Relaxed), 0);
}

#[test]
fn a_full_queue_refuses_and_a_closed_one_says_so() {
    let (queue, receiver) = StdinQueue::new(1);
    queue.push(OneLine::from_static(b"{}"), None).unwrap();
    assert_eq!(
        queue.push(OneLine::from_static(b"{}"), None),
        Err(StdinRefused::Full)
    );
    drop(receiver);
    assert_eq!(
        queue.push(OneLine::from_static(b"{}"), None),
        Err(StdinRefused::Closed)
    );
}
