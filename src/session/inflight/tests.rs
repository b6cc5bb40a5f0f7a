//! `ClientRequests` and `ServerRequests`: ids, progress tokens, sole/newest, and memory given back.

use super::*;
use crate::stream::{Priming, StreamSender};
use serde_json::json;

fn request(id: &str, token: Option<&str>) -> Frame {
    let params = match token {
        Some(t) => json!({"_meta": {"progressToken": t}}),
        None => json!({}),
    };
    let text = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m","params":{params}}}"#);
    Frame::parse(text.as_bytes()).unwrap()
}

#[test]
fn client_ids_are_replaced_and_restored_exactly() {
    let mut table = ClientRequests::default();
    let (stream, _rx) = StreamSender::open(1, 4, Priming::None);
    let mut frame = request("123456789012345678901234567890", Some("tok"));
    let proxy_id = table.begin(&mut frame, stream);
    assert_eq!(frame.id(), Some(&json!(1)));
    assert_eq!(table.proxy_id_of(&json!("x")), None);
    assert_eq!(table.with_progress_token(&json!("tok")), Some(proxy_id));
    let done = table.finish(proxy_id).unwrap();
    assert_eq!(done.client_id.to_string(), "123456789012345678901234567890");
    assert_eq!(table.with_progress_token(&json!("tok")), None);
    assert!(table.is_empty());
}

#[test]
fn sole_and_newest_follow_the_table() {
    let mut table = ClientRequests::default();
    let (stream_a, _rx_a) = StreamSender::open(1, 4, Priming::None);
    let (stream_b, rx_b) = StreamSender::open(2, 4, Priming::None);
    let a = table.begin(&mut request("\"a\"", None), stream_a);
    assert_eq!(table.sole(), Some(a));
    let b = table.begin(&mut request("\"b\"", None), stream_b);
    assert_eq!(table.sole(), None);
    assert_eq!(table.newest_attached(), Some(b));
    drop(rx_b);
    assert_eq!(table.newest_attached(), Some(a));
    assert_eq!(table.proxy_id_of(&json!("b")), Some(b));
}

#[test]
fn server_requests_map_both_ways_per_generation() {
    let mut table = ServerRequests::default();
    let mut frame =
        Frame::parse(br#"{"jsonrpc":"2.0","id":"demo-1","method":"roots/list"}"#).unwrap();
    let outbound = table.begin(&mut frame, 1);
    assert_eq!(frame.id(), Some(&json!(outbound)));
    assert_eq!(table.outbound_id_of(1, &json!("demo-1")), Some(outbound));
    assert_eq!(table.outbound_id_of(2, &json!("demo-1")), None);
    assert_eq!(table.drain_generation(1), vec![outbound]);
    assert!(table.finish(outbound).is_none());
}

#[test]
fn finishing_a_request_keeps_a_newer_mapping_of_the_same_child_id() {
    let mut table = ServerRequests::default();
    let text = br#"{"jsonrpc":"2.0","id":7,"method":"sampling/createMessage"}"#;
    let old = table.begin(&mut Frame::parse(text).unwrap(), 1);
    let new = table.begin(&mut Frame::parse(text).unwrap(), 1);
    assert_eq!(table.outbound_id_of(1, &json!(7)), Some(new));
    assert!(table.finish(old).is_some());
    assert_eq!(table.outbound_id_of(1, &json!(7)), Some(new));
    assert!(table.finish(new).is_some());
    assert_eq!(table.outbound_id_of(1, &json!(7)), None);
    assert!(table.is_empty());
}

#[test]
fn client_tables_give_back_their_memory_when_nothing_is_in_flight() {
    let mut table = ClientRequests::default();
    let (stream_a, _rx_a) = StreamSender::open(1, 4, Priming::None);
    let (stream_b, _rx_b) = StreamSender::open(2, 4, Priming::None);
    let a = table.begin(&mut request("\"a\"", Some("tok-a")), stream_a);
    let b = table.begin(&mut request("\"b\"", None), stream_b);
    assert!(table.finish(a).is_some());
    // One request still in flight: its mappings stay usable.
    assert_eq!(table.len(), 1);
    assert_eq!(table.proxy_id_of(&json!("b")), Some(b));
    assert!(table.lookup.capacity() > 0);
    assert!(table.finish(b).is_some());
    assert!(table.is_empty());
    assert_eq!(table.lookup.capacity(), 0);
    // Ids go on from where they were, and the tables fill again.
    let (stream_c, _rx_c) = StreamSender::open(3, 4, Priming::None);
    let c = table.begin(&mut request("\"a\"", Some("tok-c")), stream_c);
    assert_eq!(c, 3);
    assert_eq!(table.proxy_id_of(&json!("a")), Some(3));
    assert_eq!(table.with_progress_token(&json!("tok-c")), Some(3));
    assert_eq!(table.drain().len(), 1);
    assert_eq!(table.lookup.capacity(), 0);
    assert_eq!(table.proxy_id_of(&json!("a")), None);
}

#[test]
fn client_ids_and_progress_tokens_of_the_same_value_stay_apart() {
    let mut table = ClientRequests::default();
    let (stream_a, _rx_a) = StreamSender::open(1, 4, Priming::None);
    let (stream_b, _rx_b) = StreamSender::open(2, 4, Priming::None);
    // Request 1 is known to the client as "t"; request 2 reports progress under "t".
    let first = table.begin(&mut request("\"t\"", None), stream_a);
    let second = table.begin(&mut request("\"u\"", Some("t")), stream_b);
    assert_eq!(table.proxy_id_of(&json!("t")), Some(first));
    assert_eq!(table.with_progress_token(&json!("t")), Some(second));
    assert!(table.finish(second).is_some());
    assert_eq!(table.proxy_id_of(&json!("t")), Some(first));
    assert_eq!(table.with_progress_token(&json!("t")), None);
}

#[test]
fn server_tables_give_back_their_memory_when_nothing_waits() {
    let mut table = ServerRequests::default();
    let text = br#"{"jsonrpc":"2.0","id":"s","method":"roots/list"}"#;
    let first = table.begin(&mut Frame::parse(text).unwrap(), 1);
    let second = table.begin(&mut Frame::parse(text).unwrap(), 2);
    assert!(table.finish(first).is_some());
    assert_eq!(table.outbound_id_of(2, &json!("s")), Some(second));
    assert!(table.requests.capacity() > 0);
    assert!(table.finish(second).is_some());
    assert_eq!(table.requests.capacity(), 0);
    assert_eq!(table.by_child_id.capacity(), 0);
    assert_eq!(table.begin(&mut Frame::parse(text).unwrap(), 2), 3);
    assert_eq!(table.outbound_id_of(2, &json!("s")), Some(3));
}

#[tokio::test(start_paused = true)]
async fn server_requests_age() {
    let mut table = ServerRequests::default();
    let text = br#"{"jsonrpc":"2.0","id":"a","method":"roots/list"}"#;
    let first = table.begin(&mut Frame::parse(text).unwrap(), 1);
    tokio::time::advance(std::time::Duration::from_secs(10)).await;
    let _second = table.begin(&mut Frame::parse(text).unwrap(), 1);
    assert_eq!(
        table.older_than(std::time::Duration::from_secs(5)),
        vec![first]
    );
    assert_eq!(table.len(), 2);
}
