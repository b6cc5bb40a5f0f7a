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
