//! Property tests of [`Frame::parse`]: any input is either a frame or a JSON-RPC error with
//! the right code, and a well-formed request survives the proxy byte for byte.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;

/// Arbitrary JSON: scalars (finite numbers only, as JSON has no others), nested arrays and
/// objects a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |number| number.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// An integer id, from either end of the signed and unsigned ranges.
fn integer_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from)
    ]
}

/// A JSON-RPC request with extra members, its members in any order.
fn request() -> impl Strategy<Value = Map<String, Value>> {
    let extras = proptest::collection::vec((any::<String>(), json_value()), 0..4);
    (integer_id(), any::<String>(), extras)
        .prop_flat_map(|(id, method, extras)| {
            let mut entries: Vec<(String, Value)> = extras
                .into_iter()
                .filter(|(key, _)| !matches!(key.as_str(), "jsonrpc" | "id" | "method"))
                .collect();
            entries.push(("jsonrpc".into(), Value::from("2.0")));
            entries.push(("id".into(), id));
            entries.push(("method".into(), Value::from(method)));
            Just(entries).prop_shuffle()
        })
        .prop_map(|entries| entries.into_iter().collect())
}

fn is_rpc_error_code(code: i64) -> bool {
    code == PARSE_ERROR || code == INVALID_REQUEST
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_parse_or_fail_with_a_json_rpc_code(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        if let Err(err) = Frame::parse(&bytes) {
            prop_assert!(is_rpc_error_code(err.code()), "{err}");
        }
    }

    #[test]
    fn arbitrary_json_is_never_a_parse_error(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        match Frame::parse(&bytes) {
            Ok(frame) => prop_assert!(value.is_object(), "{frame:?}"),
            Err(err) => prop_assert_eq!(err.code(), INVALID_REQUEST, "{}", err),
        }
    }

    #[test]
    fn requests_parse_and_round_trip_unchanged(map in request()) {
        let bytes = serde_json::to_vec(&map).unwrap();
        let frame = Frame::parse(&bytes).unwrap();
        prop_assert_eq!(frame.kind(), FrameKind::Request);
        prop_assert_eq!(frame.id(), map.get("id"));
        prop_assert_eq!(frame.method(), map.get("method").and_then(Value::as_str));
        let written = frame.to_bytes();
        prop_assert_eq!(&written[..], &bytes[..]);
        let reparsed = Frame::parse(&written).unwrap();
        prop_assert_eq!(&reparsed, &frame);
        prop_assert_eq!(reparsed.kind(), FrameKind::Request);
    }
}
