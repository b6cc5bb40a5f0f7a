//! Tests of [`LineReader`]: framing, the cap with the kept ends, hand-over without copies and
//! no buffer while idle.

use std::collections::VecDeque;
use std::task::Context;

use futures_util::FutureExt as _;
use tokio::io::AsyncWriteExt;

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

/// A source that yields the given chunks, one per read (split when the read has less room),
/// counting the reads.
struct Chunks {
    chunks: VecDeque<Vec<u8>>,
    reads: usize,
}

impl Chunks {
    fn new(chunks: impl IntoIterator<Item = Vec<u8>>) -> Chunks {
        Chunks {
            chunks: chunks.into_iter().collect(),
            reads: 0,
        }
    }
}

impl AsyncRead for Chunks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.reads += 1;
        if let Some(front) = self.chunks.front_mut() {
            let taken = front.len().min(buf.remaining());
            buf.put_slice(&front[..taken]);
            front.drain(..taken);
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        Poll::Ready(Ok(()))
    }
}

fn complete(line: Option<Line>) -> Bytes {
    match line {
        Some(Line::Complete(bytes)) => bytes,
        other => panic!("expected a complete line, got {other:?}"),
    }
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
        Some(Line::Complete(Bytes::from_static(b"next")))
    );
}

#[tokio::test]
async fn a_line_split_across_reads_is_handed_over_whole() {
    let source = Chunks::new([
        b"{\"a\":".to_vec(),
        b"1}\r".to_vec(),
        b"\n{\"b\"".to_vec(),
        b":2}\nx\ny\n".to_vec(),
    ]);
    let mut reader = LineReader::new(source, 100, 16);
    let first = complete(reader.next_line().await.unwrap());
    assert_eq!(first, Bytes::from_static(b"{\"a\":1}"));
    assert_eq!(
        complete(reader.next_line().await.unwrap()),
        Bytes::from_static(b"{\"b\":2}")
    );
    // Lines that arrived in one read are slices of the same buffer, handed over uncopied.
    let x = complete(reader.next_line().await.unwrap());
    let y = complete(reader.next_line().await.unwrap());
    assert_eq!((&x[..], &y[..]), (&b"x"[..], &b"y"[..]));
    assert_eq!(y.as_ptr() as usize, x.as_ptr() as usize + 2);
    assert_eq!(reader.next_line().await.unwrap(), None);
    assert_eq!(reader.buffered_capacity(), 0);
}

#[tokio::test]
async fn an_over_long_line_across_many_reads_still_reports_its_ends() {
    let mut line = b"{\"id\":\"head\",".to_vec();
    line.extend(std::iter::repeat_n(b'y', 50_000));
    line.extend_from_slice(b",\"z\":\"tail\"}");
    let total = line.len();
    let mut chunks: Vec<Vec<u8>> = line.chunks(999).map(<[u8]>::to_vec).collect();
    chunks.push(b"\nafter\n".to_vec());
    let mut reader = LineReader::new(Chunks::new(chunks), 10_000, 1024);
    let Some(Line::TooLong { len, head, tail }) = reader.next_line().await.unwrap() else {
        panic!("expected an over-long line");
    };
    assert_eq!(len, total);
    assert_eq!(head, line[..KEPT_ENDS]);
    assert_eq!(tail, line[total - KEPT_ENDS..]);
    assert_eq!(
        complete(reader.next_line().await.unwrap()),
        Bytes::from_static(b"after")
    );
}

#[tokio::test]
async fn a_line_of_exactly_the_cap_is_kept() {
    assert_eq!(
        lines(b"1234\n12345\n", 4).await,
        vec![Ok("1234".into()), Err(5)]
    );
}

#[tokio::test]
async fn no_buffer_is_held_while_idle() {
    let (mut child, stdout) = tokio::io::duplex(1024);
    let mut reader = LineReader::new(stdout, 1000, 16);
    assert_eq!(reader.buffered_capacity(), 0);
    child.write_all(b"a\nb\n").await.unwrap();
    assert_eq!(complete(reader.next_line().await.unwrap()), "a".as_bytes());
    assert_eq!(complete(reader.next_line().await.unwrap()), "b".as_bytes());
    assert_eq!(reader.buffered_capacity(), 0);
    // Nothing to read: waiting holds no buffer either.
    assert!(reader.next_line().now_or_never().is_none());
    assert_eq!(reader.buffered_capacity(), 0);
    // A line in progress has room to grow; the dropped read lost none of it.
    child.write_all(b"abc").await.unwrap();
    assert!(reader.next_line().now_or_never().is_none());
    assert_eq!(reader.buffered_capacity(), 32);
    child.write_all(b"\n").await.unwrap();
    assert_eq!(
        complete(reader.next_line().await.unwrap()),
        "abc".as_bytes()
    );
    assert_eq!(reader.buffered_capacity(), 0);
}

#[tokio::test]
async fn a_huge_line_leaves_no_huge_buffer_behind() {
    let source = Chunks::new([vec![b'x'; 2 << 20], b"\nab".to_vec()]);
    let mut reader = LineReader::new(source, 4 << 20, 16 * 1024);
    assert_eq!(complete(reader.next_line().await.unwrap()).len(), 2 << 20);
    // The rest of the next line moved to a buffer of its own size.
    assert_eq!(reader.buffered_capacity(), 2);
    assert_eq!(complete(reader.next_line().await.unwrap()), "ab".as_bytes());
}

#[tokio::test]
async fn a_long_line_is_read_in_few_reads_as_large_as_its_room() {
    let mut line = vec![b'x'; 1 << 20];
    line.push(b'\n');
    let mut reader = LineReader::new(Chunks::new([line]), 2 << 20, 16 * 1024);
    assert_eq!(complete(reader.next_line().await.unwrap()).len(), 1 << 20);
    // 16 KiB on the stack, then reads that double the line (16 KiB .. 512 KiB), then the
    // newline.
    assert_eq!(reader.source.reads, 8);
}
