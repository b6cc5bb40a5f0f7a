//! Micro-benchmarks of the hot-path message type, [`Frame`]: what the proxy does to every
//! JSON-RPC message that crosses it.
//!
//! Messages: a `tools/call` request (client → proxy → child) and its result (child → proxy →
//! client), each at about 200 B, 20 KiB, 100 KiB, 2 MiB and 10 MiB. The text payload is prose
//! with some quotes, backslashes and newlines, so string escaping is exercised as in real tool
//! results; `frame/plain` is a 10 MiB request whose text needs no escapes.
//!
//! Per message: `Frame::parse` (a copy, then the envelope scan), `Frame::parse_bytes` (the
//! scan alone, as the stdout reader and the POST body hand bytes over), `replace_id`,
//! `to_line` / `to_bytes` (one run of bytes), `to_one_line` of a frame whose id was swapped
//! (what the stdin queue and client streams carry), and the proxy's full round trip: parse →
//! swap the id → `to_one_line`. `round_trip` is the splice path (the frame keeps its bytes and
//! the new id replaces the old one: by a copy for a small message, as pieces around it for a
//! large one); `tree_round_trip` is the same work through an ordered `serde_json` tree, which
//! is how every frame was forwarded before and how changed frames still are.
//!
//! Run: `cargo bench --bench frame` (optionally `-- <filter>`, e.g. `-- 2MiB`).

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hyper_mcp_proxy::frame::Frame;
use serde_json::Value;

/// The sizes benchmarked, with their labels.
const SIZES: [(&str, usize); 5] = [
    ("200B", 200),
    ("20KiB", 20 * 1024),
    ("100KiB", 100 * 1024),
    ("2MiB", 2 * 1024 * 1024),
    ("10MiB", 10 * 1024 * 1024),
];

/// A JSON string literal (quotes included) whose encoded length is exactly `len` bytes
/// (`len >= 2`), made of prose with characters that need escaping.
fn json_string_of_len(len: usize) -> String {
    const PIECE: &str = "The quick brown fox said \"hello\" to C:\\temp\\dog.\n";
    let mut decoded = String::new();
    let mut encoded_len = 2;
    'fill: loop {
        for ch in PIECE.chars() {
            let cost = match ch {
                '"' | '\\' | '\n' => 2,
                _ => 1,
            };
            if encoded_len + cost > len {
                break 'fill;
            }
            encoded_len += cost;
            decoded.push(ch);
        }
    }
    // Pad with plain characters when an escape did not fit at the end.
    while encoded_len < len {
        decoded.push('.');
        encoded_len += 1;
    }
    let literal = serde_json::to_string(&decoded).expect("strings serialize");
    assert_eq!(literal.len(), len);
    literal
}

/// A `tools/call` request of exactly `total` bytes (or the smallest possible one).
fn request_of_len(total: usize) -> Vec<u8> {
    let build = |text: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":{text}}},"_meta":{{"progressToken":"p-42"}}}}}}"#
        )
    };
    let overhead = build("").len();
    build(&json_string_of_len(total.saturating_sub(overhead).max(2))).into_bytes()
}

/// A `tools/call` result of exactly `total` bytes (or the smallest possible one).
fn result_of_len(total: usize) -> Vec<u8> {
    let build = |text: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":7,"result":{{"content":[{{"type":"text","text":{text}}}],"isError":false}}}}"#
        )
    };
    let overhead = build("").len();
    build(&json_string_of_len(total.saturating_sub(overhead).max(2))).into_bytes()
}

/// Fewer samples for the big messages, so the whole bench stays within a few minutes.
fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    size: usize,
) {
    if size >= 8 * 1024 * 1024 {
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(4));
    } else if size >= 1024 * 1024 {
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(4));
    } else {
        group.sample_size(60);
        group.measurement_time(Duration::from_secs(2));
    }
    group.warm_up_time(Duration::from_millis(500));
}

fn bench_kind(c: &mut Criterion, kind: &str, make: fn(usize) -> Vec<u8>) {
    for (label, size) in SIZES {
        let bytes = make(size);
        let parsed = Frame::parse(&bytes).expect("benchmark message parses");
        // Sanity: the frame survives unchanged (the proxy's contract).
        assert_eq!(&parsed.to_bytes()[..], &bytes[..]);

        let mut group = c.benchmark_group(format!("frame/{kind}"));
        configure(&mut group, size);
        group.throughput(Throughput::Bytes(bytes.len() as u64));

        group.bench_with_input(BenchmarkId::new("parse", label), &bytes, |b, bytes| {
            b.iter(|| Frame::parse(black_box(bytes)).expect("parses"));
        });

        // The envelope scan alone: the bytes are handed over, not copied (as the stdout
        // reader and the POST body hand them).
        let shared = Bytes::from(bytes.clone());
        group.bench_with_input(
            BenchmarkId::new("parse_bytes", label),
            &shared,
            |b, shared| {
                b.iter(|| Frame::parse_bytes(black_box(shared).clone()).expect("parses"));
            },
        );

        group.bench_function(BenchmarkId::new("replace_id", label), |b| {
            let mut frame = parsed.clone();
            let mut next = 1u64;
            b.iter(|| {
                next += 1;
                black_box(frame.replace_id(Value::from(black_box(next))))
            });
        });

        group.bench_function(BenchmarkId::new("to_line", label), |b| {
            b.iter(|| black_box(&parsed).to_line());
        });

        group.bench_function(BenchmarkId::new("to_bytes", label), |b| {
            b.iter(|| black_box(&parsed).to_bytes());
        });

        // What the stdin queue and client streams get once the id was swapped: a copy with
        // the new id for a small message, pieces around it for a large one.
        let mut swapped = parsed.clone();
        swapped.replace_id(Value::from(17u64));
        group.bench_function(BenchmarkId::new("to_one_line", label), |b| {
            b.iter(|| black_box(&swapped).to_one_line());
        });

        // What the proxy does to this message: towards the child the client id becomes a
        // proxy id, towards the client the proxy id becomes the client's id again; either way
        // the frame becomes the `OneLine` the stdin queue or the client stream carries (the
        // stdin writer adds the newline as a slice of its own).
        group.bench_with_input(BenchmarkId::new("round_trip", label), &bytes, |b, bytes| {
            b.iter(|| {
                let mut frame = Frame::parse(black_box(bytes)).expect("parses");
                let old = frame.replace_id(Value::from(black_box(17u64)));
                (old, frame.to_one_line())
            });
        });

        group.bench_with_input(
            BenchmarkId::new("tree_round_trip", label),
            &bytes,
            |b, bytes| {
                b.iter(|| {
                    let map = serde_json::from_slice(black_box(bytes)).expect("parses");
                    let mut frame = Frame::from_map(map).expect("a JSON-RPC message");
                    let old = frame.replace_id(Value::from(black_box(17u64)));
                    (old, frame.to_one_line())
                });
            },
        );
        group.finish();
    }
}

/// The envelope scan of a 10 MiB request whose text needs no escapes (base64, or the load
/// bench's `payload`): how fast the scan crosses a long plain string.
fn bench_plain(c: &mut Criterion) {
    const SIZE: usize = 10 * 1024 * 1024;
    let text = "x".repeat(SIZE);
    let bytes = Bytes::from(format!(
        r#"{{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"{text}"}}}}}}"#
    ));
    let mut group = c.benchmark_group("frame/plain");
    configure(&mut group, SIZE);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_with_input(
        BenchmarkId::new("parse_bytes", "10MiB"),
        &bytes,
        |b, bytes| {
            b.iter(|| Frame::parse_bytes(black_box(bytes).clone()).expect("parses"));
        },
    );
    group.finish();
}

fn frame_benches(c: &mut Criterion) {
    bench_kind(c, "request", request_of_len);
    bench_kind(c, "result", result_of_len);
    bench_plain(c);
}

criterion_group!(benches, frame_benches);
criterion_main!(benches);
