//! Unit tests of [`Frame`]: classification, rejection and byte-exact forwarding.

use super::*;
use serde_json::json;

#[test]
fn classifies_the_four_kinds() {
    let kind = |text: &str| Frame::parse(text.as_bytes()).map(|f| f.kind());
    assert_eq!(
        kind(r#"{"jsonrpc":"2.0","id":1,"method":"x"}"#),
        Ok(FrameKind::Request)
    );
    assert_eq!(
        kind(r#"{"jsonrpc":"2.0","method":"x"}"#),
        Ok(FrameKind::Notification)
    );
    assert_eq!(
        kind(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
        Ok(FrameKind::Response)
    );
    assert_eq!(
        kind(r#"{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}"#),
        Ok(FrameKind::Error)
    );
}

#[test]
fn rejects_what_is_not_json_rpc() {
    assert_eq!(Frame::parse(b"{nope").unwrap_err().code(), PARSE_ERROR);
    assert_eq!(Frame::parse(b"[]").unwrap_err().code(), INVALID_REQUEST);
    assert_eq!(Frame::parse(b"42").unwrap_err().code(), INVALID_REQUEST);
    assert_eq!(
        Frame::parse(br#"{"id":1,"method":"x"}"#)
            .unwrap_err()
            .code(),
        INVALID_REQUEST
    );
    assert_eq!(
        Frame::parse(br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#)
            .unwrap_err()
            .code(),
        INVALID_REQUEST
    );
    assert_eq!(
        Frame::parse(br#"{"jsonrpc":"2.0","id":1}"#)
            .unwrap_err()
            .code(),
        INVALID_REQUEST
    );
}

#[test]
fn round_trips_unknown_fields_key_order_and_number_spellings() {
    let text = r#"{"jsonrpc":"2.0","id":1.0,"method":"custom/x","params":[1e+2,18446744073709551616123,-0.0,0.10],"zzz":{"b":1,"a":2}}"#;
    let frame = Frame::parse(text.as_bytes()).unwrap();
    assert_eq!(frame.to_bytes(), text.as_bytes());
}

#[test]
fn replace_id_keeps_position_and_returns_the_original_exactly() {
    let text = r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"m"}"#;
    let mut frame = Frame::parse(text.as_bytes()).unwrap();
    let original = frame.replace_id(json!(7)).unwrap();
    assert_eq!(
        frame.to_bytes(),
        &br#"{"jsonrpc":"2.0","id":7,"method":"m"}"#[..]
    );
    frame.replace_id(original);
    assert_eq!(frame.to_bytes(), text.as_bytes());
}

#[test]
fn id_keys_distinguish_strings_numbers_and_spellings() {
    let key = |text: &str| IdKey::of(&serde_json::from_str::<Value>(text).unwrap());
    assert_ne!(key("1"), key("\"1\""));
    assert_ne!(key("1"), key("1.0"));
    assert_eq!(
        key("99999999999999999999999"),
        key("99999999999999999999999")
    );
    assert_eq!(key("null"), None);
}

#[test]
fn progress_token_is_read_from_meta() {
    let frame = Frame::parse(
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"t"}}}"#,
    )
    .unwrap();
    assert_eq!(frame.progress_token(), Some(&json!("t")));
}

#[test]
fn to_line_ends_with_newline() {
    let frame = Frame::notification("notifications/initialized", None);
    assert_eq!(
        frame.to_line(),
        &b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"[..]
    );
}

#[test]
fn splice_keeps_the_original_bytes_around_the_new_id() {
    let text =
        r#"{"jsonrpc": "2.0", "id" : "client-1", "method":"m","params":{"s":"\u00e9\/","n":1E2}}"#;
    let mut frame = Frame::parse(text.as_bytes()).unwrap();
    assert_eq!(frame.replace_id(json!(9)), Some(json!("client-1")));
    assert_eq!(
        frame.to_line(),
        &br#"{"jsonrpc": "2.0", "id" : 9, "method":"m","params":{"s":"\u00e9\/","n":1E2}}
"#[..]
    );
}

#[test]
fn pretty_printed_input_is_compacted_once() {
    let text = "{\r\n  \"jsonrpc\": \"2.0\",\n  \"id\": 1,\n  \"method\": \"m\"\n}\n";
    let frame = Frame::parse(text.as_bytes()).unwrap();
    assert_eq!(
        frame.to_one_line().into_bytes(),
        &br#"{"jsonrpc":"2.0","id":1,"method":"m"}"#[..]
    );
    assert_eq!(
        frame.to_line(),
        &b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}\n"[..]
    );
}

#[test]
fn surrounding_whitespace_is_not_forwarded() {
    let frame = Frame::parse(b" \t{\"jsonrpc\":\"2.0\",\"method\":\"m\"} ").unwrap();
    assert_eq!(frame.to_bytes(), &br#"{"jsonrpc":"2.0","method":"m"}"#[..]);
}

#[test]
fn reading_the_tree_after_a_replaced_id_sees_the_new_id() {
    let text = br#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#;
    let mut frame = Frame::parse(text).unwrap();
    frame.replace_id(json!(2));
    assert_eq!(frame.result(), Some(&json!({"a": 1})));
    assert_eq!(frame, Frame::response(json!(2), json!({"a": 1})));
    frame.replace_id(json!("c"));
    assert_eq!(frame, Frame::response(json!("c"), json!({"a": 1})));
    assert_eq!(
        frame.to_bytes(),
        &br#"{"jsonrpc":"2.0","id":"c","result":{"a":1}}"#[..]
    );
}

#[test]
fn changing_params_serializes_the_tree_with_the_current_id() {
    let text = br#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}}"#;
    let mut frame = Frame::parse(text).unwrap();
    frame.replace_id(json!(5));
    if let Some(Value::Object(params)) = frame.params_mut() {
        params.insert("b".into(), json!(2));
    }
    assert_eq!(
        frame.to_bytes(),
        &br#"{"jsonrpc":"2.0","id":5,"method":"m","params":{"a":1,"b":2}}"#[..]
    );
    assert_eq!(frame.replace_id(json!(6)), Some(json!(5)));
    assert_eq!(frame.id(), Some(&json!(6)));
}

#[test]
fn a_notification_given_an_id_gets_it_last() {
    let mut frame = Frame::parse(br#"{"jsonrpc":"2.0","method":"m"}"#).unwrap();
    assert_eq!(frame.replace_id(json!(3)), None);
    assert_eq!(
        frame.to_bytes(),
        &br#"{"jsonrpc":"2.0","method":"m","id":3}"#[..]
    );
}

#[test]
fn duplicated_routed_members_are_read_as_the_tree_reads_them() {
    let frame = Frame::parse(br#"{"jsonrpc":"2.0","id":1,"method":"m","id":2}"#).unwrap();
    assert_eq!(frame.id(), Some(&json!(2)));
    assert_eq!(
        frame.to_bytes(),
        &br#"{"jsonrpc":"2.0","id":2,"method":"m"}"#[..]
    );
}

#[test]
fn progress_token_is_found_without_the_tree_and_keeps_null() {
    let token = |text: &str| {
        Frame::parse(text.as_bytes())
            .unwrap()
            .progress_token()
            .cloned()
    };
    assert_eq!(
        token(
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":[{}],"_meta":{"x":1,"progressToken":12345678901234567890123}}}"#
        ),
        Some(serde_json::from_str("12345678901234567890123").unwrap())
    );
    assert_eq!(
        token(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":{"progressToken":null}}}"#),
        Some(Value::Null)
    );
    assert_eq!(
        token(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":[{"_meta":{"progressToken":1}}]}"#),
        None
    );
    assert_eq!(
        token(r#"{"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":[1]}}"#),
        None
    );
}

#[test]
fn escaped_method_names_are_decoded() {
    let frame = Frame::parse(br#"{"jsonrpc":"2\u002e0","method":"tools\/list","id":1}"#).unwrap();
    assert_eq!(frame.method(), Some("tools/list"));
    assert_eq!(frame.kind(), FrameKind::Request);
}

#[test]
fn what_the_tree_refuses_is_still_refused() {
    let lone_surrogate = br#"{"jsonrpc":"2.0","method":"m","params":{"s":"\ud800"}}"#;
    assert_eq!(
        Frame::parse(lone_surrogate).unwrap_err().code(),
        PARSE_ERROR
    );
    let deep = format!(
        r#"{{"jsonrpc":"2.0","method":"m","params":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(
        Frame::parse(deep.as_bytes()).unwrap_err().code(),
        PARSE_ERROR
    );
    let control = b"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"a\tb\"}";
    assert_eq!(Frame::parse(control).unwrap_err().code(), PARSE_ERROR);
    let bad_utf8 = b"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":\"\xff\"}";
    assert_eq!(Frame::parse(bad_utf8).unwrap_err().code(), PARSE_ERROR);
}

#[test]
fn an_escaped_surrogate_pair_is_read_as_the_tree_reads_it() {
    let frame = Frame::parse(br#"{"jsonrpc":"2.0","method":"m","params":"\ud83d\ude00"}"#).unwrap();
    assert_eq!(frame.params(), Some(&json!("\u{1F600}")));
}
