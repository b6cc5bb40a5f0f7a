//! Tests of the byte scan: what it accepts, what it leaves to the reference scan, and, against
//! that reference (`serde_json` through `envelope::scan`), that it never says yes to anything
//! else or finds another envelope.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::frame::envelope;

fn envelope_of(text: &[u8]) -> Envelope {
    match scan(text) {
        Scanned::Envelope(envelope) => envelope,
        other => panic!(
            "expected an envelope for {:?}, got {other:?}",
            String::from_utf8_lossy(text)
        ),
    }
}

fn is_unsure(text: &[u8]) -> bool {
    matches!(scan(text), Scanned::Unsure)
}

#[test]
fn finds_the_routed_members_and_their_ranges() {
    let text = br#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"a":[1,{"b":"\"}\\"}]},"x":0}"#;
    let envelope = envelope_of(text);
    assert_eq!(envelope.jsonrpc, Some(json!("2.0")));
    let (id, span) = envelope.id.clone().unwrap();
    assert_eq!((id, &text[span]), (json!(12), &b"12"[..]));
    assert_eq!(envelope.method, Some(json!("tools/call")));
    assert_eq!(
        &text[envelope.params.clone().unwrap()],
        br#"{"a":[1,{"b":"\"}\\"}]}"#
    );
    assert_eq!(envelope, envelope::scan(text).unwrap());
}

#[test]
fn whitespace_anywhere_between_tokens_is_accepted() {
    let text = b"{ \"id\" :\t7 , \"params\" : [ 1 , { } , [ ] ] , \"result\" : { \"a\" : null } }";
    let envelope = envelope_of(text);
    assert_eq!(
        &text[envelope.params.clone().unwrap()],
        b"[ 1 , { } , [ ] ]"
    );
    assert!(envelope.has_result);
    assert_eq!(envelope, envelope::scan(text).unwrap());
}

#[test]
fn escaped_names_and_duplicates_route_as_the_tree_reads_them() {
    let envelope = envelope_of(br#"{"i\u0064":1,"id":2,"meth\u006fd":"m"}"#);
    assert!(envelope.duplicate);
    assert_eq!(envelope.id.map(|(id, _)| id), Some(json!(2)));
    assert_eq!(envelope.method, Some(json!("m")));
}

#[test]
fn numbers_follow_the_json_grammar() {
    for good in [
        "0",
        "-0",
        "12",
        "-0.5",
        "1e5",
        "1E+5",
        "2.50e-007",
        "18446744073709551616123",
    ] {
        let text = format!(r#"{{"id":{good}}}"#);
        assert!(
            matches!(scan(text.as_bytes()), Scanned::Envelope(_)),
            "{good}"
        );
    }
    for bad in [
        "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x1", "1.e5", "--1", "NaN",
    ] {
        let text = format!(r#"{{"id":{bad}}}"#);
        assert!(is_unsure(text.as_bytes()), "{bad}");
    }
}

#[test]
fn leaves_invalid_json_to_the_reference_scan() {
    let invalid: [&[u8]; 16] = [
        br#"{"a":1,}"#,
        br#"{"a":[1,]}"#,
        br#"{"a" 1}"#,
        br#"{"a":1 "b":2}"#,
        br#"{"a":tru}"#,
        br#"{"a":"x"#,
        br#"{"a":"\x"}"#,
        br#"{"a":"\u12"}"#,
        br#"{"a":"\u12g4"}"#,
        b"{\"a\":\"tab\there\"}",
        b"{\"a\":\"\xff\"}",
        br#"{"a":1}}"#,
        br#"{"a":1} x"#,
        br#"{"a":[1}"#,
        br#"{"a":{"b"}}"#,
        br#"{1:2}"#,
    ];
    for text in invalid {
        assert!(is_unsure(text), "{:?}", String::from_utf8_lossy(text));
        assert!(
            envelope::scan(text).is_err(),
            "{:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn surrogate_escapes_and_deep_nesting_need_the_tree() {
    assert!(matches!(
        scan(br#"{"s":"\ud83d\ude00"}"#),
        Scanned::NeedsTree
    ));
    assert!(matches!(scan(br#"{"s":"\uDC00"}"#), Scanned::NeedsTree));
    assert!(matches!(
        scan(br#"{"s":"\u00e9 \uD7FF \\ud800"}"#),
        Scanned::Envelope(_)
    ));
    let nested = |depth: usize| format!("{{\"a\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
    // The top-level object counts: 99 arrays inside it are 100 levels.
    assert!(matches!(scan(nested(99).as_bytes()), Scanned::Envelope(_)));
    assert!(matches!(scan(nested(100).as_bytes()), Scanned::NeedsTree));
    let quoted = format!("{{\"a\":\"{}\"}}", "[".repeat(200));
    assert!(matches!(scan(quoted.as_bytes()), Scanned::Envelope(_)));
}

#[test]
fn member_finds_the_last_value_of_a_name() {
    let object = br#"{"a":{"_meta":1},"_meta":{"progressToken":"t"},"z":2,"_m\u0065ta":[3]}"#;
    let Member::Found(value) = member(object, "_meta") else {
        panic!("expected _meta");
    };
    assert_eq!(&object[value], b"[3]");
    let Member::Found(value) = member(br#"{"_meta":{"progressToken":"t"}}"#, "_meta") else {
        panic!("expected _meta");
    };
    assert_eq!(value, 9..30);
    assert_eq!(member(br#"{"a":1}"#, "_meta"), Member::Missing);
    assert_eq!(member(br#"[{"_meta":1}]"#, "_meta"), Member::Missing);
    assert_eq!(member(br#"{"_meta":}"#, "_meta"), Member::Unsure);
}

/// JSON text as a client or server may write it: escapes `serde_json` never writes (`\/`,
/// `\u00e9`), number spellings, whitespace between tokens.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,6})?([eE][+-]?[0-9]{1,3})?",
        r#""([a-z é😀\[\]{}:,]|\\["\\/bfnrt]|\\u00[0-9a-fA-F]{2}|\\u[0-7][0-9a-fA-F]{3})*""#,
        any::<String>().prop_map(|text| serde_json::to_string(&text).unwrap()),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let space = "[ \t]{0,2}";
        prop_oneof![
            (proptest::collection::vec((inner.clone(), space), 0..4)).prop_map(|items| {
                let items: Vec<String> = items
                    .into_iter()
                    .map(|(v, s)| format!("{s}{v}{s}"))
                    .collect();
                format!("[{}]", items.join(","))
            }),
            (proptest::collection::vec((any::<String>(), inner, space), 0..4)).prop_map(
                |members| {
                    let members: Vec<String> = members
                        .into_iter()
                        .map(|(k, v, s)| {
                            format!("{}{s}:{s}{v}", serde_json::to_string(&k).unwrap())
                        })
                        .collect();
                    format!("{{{}}}", members.join(","))
                }
            ),
        ]
    })
}

/// A top-level object whose members are the routed names or others, with values of any kind.
fn json_object() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("jsonrpc".to_owned()),
        Just("id".to_owned()),
        Just("method".to_owned()),
        Just("params".to_owned()),
        Just("result".to_owned()),
        Just("error".to_owned()),
        any::<String>(),
    ];
    proptest::collection::vec((name, json_text()), 0..6).prop_map(|members| {
        let members: Vec<String> = members
            .into_iter()
            .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
            .collect();
        format!("{{{}}}", members.join(","))
    })
}

/// Bytes an edit may put in: JSON's structural and number bytes, escapes' letters, control
/// characters and bytes that are not UTF-8 on their own.
const EDIT_BYTES: &[u8] = b"\"\\{}[],:0123456789-+.eEtrufalsn \t\r\nudD8\x00\x1f\x7f\xff\xc3\xa9";

/// Edits: (where, what: 0 replace, 1 delete, 2 insert, which byte).
fn edits() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, u8)>> {
    proptest::collection::vec(
        (
            any::<prop::sample::Index>(),
            0..3u8,
            prop::sample::select(EDIT_BYTES),
        ),
        1..4,
    )
}

fn apply(text: &str, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for (at, op, byte) in edits {
        let at = at.index(bytes.len() + 1);
        match op {
            0 if at < bytes.len() => bytes[at] = *byte,
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, *byte),
        }
    }
    bytes
}

/// What the byte scan may answer for `bytes`, given the reference scan's verdict.
fn agrees_with_the_reference(bytes: &[u8]) -> Result<(), TestCaseError> {
    match scan(bytes) {
        Scanned::Envelope(envelope) => {
            prop_assert_eq!(
                Ok(envelope),
                envelope::scan(bytes).map_err(|err| err.to_string())
            );
            // What the byte scan accepts, the tree is built from (`RawBody::build_tree`).
            prop_assert!(serde_json::from_slice::<Value>(bytes).is_ok());
        }
        Scanned::NeedsTree => prop_assert!(envelope::needs_tree(bytes)),
        Scanned::Unsure => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn valid_objects_get_the_reference_envelope(text in json_object()) {
        let bytes = text.as_bytes();
        if envelope::needs_tree(bytes) {
            // Only a `\\u` before `d8`.. in a string's text, which the reference flags too.
            prop_assert!(!matches!(scan(bytes), Scanned::Unsure));
        } else {
            prop_assert_eq!(envelope_of(bytes), envelope::scan(bytes).unwrap());
        }
    }

    #[test]
    fn edited_objects_are_accepted_only_as_the_reference_accepts_them(
        text in json_object(),
        edits in edits(),
    ) {
        agrees_with_the_reference(&apply(&text, &edits))?;
    }

    #[test]
    fn member_finds_what_the_reference_finds(text in json_object()) {
        for name in ["id", "params", "method", "x"] {
            let found = match member(text.as_bytes(), name) {
                Member::Found(value) => Some(&text[value]),
                Member::Missing => None,
                Member::Unsure => {
                    prop_assert!(envelope::needs_tree(text.as_bytes()));
                    continue;
                }
            };
            prop_assert_eq!(found, envelope::member(&text, name).map(|raw| raw.get()));
        }
    }

    #[test]
    fn arbitrary_bytes_are_accepted_only_as_the_reference_accepts_them(
        tail in proptest::collection::vec(prop::sample::select(EDIT_BYTES), 0..48),
    ) {
        let mut bytes = b"{".to_vec();
        bytes.extend(tail);
        agrees_with_the_reference(&bytes)?;
    }
}
