//! A 2026-07-28 request's client capabilities, seen from the pool of legacy children: the
//! partition they select, and the handshake a pooled child of that partition is given
//! (modern-era.md §3.2 "Capabilities at initialize", §3.4).
//!
//! A pooled child is initialized once, by the proxy, with the capabilities of its partition, so
//! a conformant legacy server never asks for what the calling client cannot answer.

use serde_json::{Map, Value, json};

use crate::frame::Frame;

/// The protocol revision a pooled legacy child is initialized at: the last one with a handshake.
pub const LEGACY_INITIALIZE_VERSION: &str = "2025-11-25";

/// The name the proxy gives itself in `clientInfo` when it initializes a child.
const PROXY_CLIENT_NAME: &str = "hyper-mcp-proxy";

/// The client capabilities that let a server send requests back (elicitation, sampling, roots).
/// Only these change how a child behaves towards its caller, so only these split the pool.
const INTERACTIVE_CAPABILITIES: [&str; 3] = ["roots", "sampling", "elicitation"];

/// Converts 2026-07-28 `ClientCapabilities` into the `capabilities` of a 2025-11-25 `initialize`.
///
/// `roots` gains `listChanged:false` (the notification that reported root changes is gone in
/// 2026-07-28, so a modern client can never send it); `extensions` is dropped (a 2026 concept a
/// 2025 child cannot use); a capability whose value is `null` counts as undeclared; everything
/// else (`sampling`, `elicitation`, `experimental`, unknown keys) is kept as is, in order.
pub fn legacy_capabilities(modern: &Value) -> Value {
    let mut legacy = Map::new();
    let Value::Object(modern) = modern else {
        return Value::Object(legacy);
    };
    for (name, value) in modern {
        match (name.as_str(), value) {
            ("extensions", _) | (_, Value::Null) => {}
            ("roots", roots) => {
                let mut roots = match roots {
                    Value::Object(members) => members.clone(),
                    _ => Map::new(),
                };
                roots.insert("listChanged".into(), Value::Bool(false));
                legacy.insert(name.clone(), Value::Object(roots));
            }
            _ => {
                legacy.insert(name.clone(), value.clone());
            }
        }
    }
    Value::Object(legacy)
}

/// The capabilities restricted to `roots`, `sampling` and `elicitation`, in canonical form (keys
/// sorted at every depth): what a pooled child of the request's partition is initialized with.
pub fn partition_capabilities(capabilities: &Value) -> Value {
    let mut restricted = Map::new();
    if let Value::Object(declared) = capabilities {
        for name in INTERACTIVE_CAPABILITIES {
            if let Some(value) = declared.get(name).filter(|value| !value.is_null()) {
                restricted.insert(name.into(), value.clone());
            }
        }
    }
    canonical(&Value::Object(restricted))
}

/// The pool partition a request belongs to: the canonical JSON of its `partition_capabilities`,
/// `{}` when it declares none. The same declaration in another key order gives the same key;
/// numbers keep their spelling (capability values are objects, so that never splits a pool).
pub fn partition_key(capabilities: &Value) -> String {
    partition_capabilities(capabilities).to_string()
}

/// Whether the capabilities declare roots, sampling or elicitation: a child may then send the
/// caller requests, so the request needs a child of its own (an exclusive lease).
pub fn is_interactive(capabilities: &Value) -> bool {
    INTERACTIVE_CAPABILITIES
        .iter()
        .any(|name| capabilities.get(name).is_some_and(|value| !value.is_null()))
}

/// The proxy's own `initialize` for a pooled legacy child declaring `capabilities` (2026-07-28
/// client capabilities, converted by `legacy_capabilities`).
pub fn initialize_request(id: Value, capabilities: &Value) -> Frame {
    let params = json!({
        "protocolVersion": LEGACY_INITIALIZE_VERSION,
        "capabilities": legacy_capabilities(capabilities),
        "clientInfo": {"name": PROXY_CLIENT_NAME, "version": env!("CARGO_PKG_VERSION")},
    });
    Frame::request(id, "initialize", Some(params))
}

/// The `notifications/initialized` that completes a pooled child's handshake.
pub fn initialized_notification() -> Frame {
    Frame::notification("notifications/initialized", None)
}

/// `value` with the keys of every object sorted, recursively.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|left, right| left.0.cmp(right.0));
            Value::Object(
                sorted
                    .into_iter()
                    .map(|(name, member)| (name.clone(), canonical(member)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn legacy_capabilities_adds_roots_list_changed_and_drops_extensions() {
        let modern = parse(
            r#"{"experimental":{"x":{"a":1.50}},"roots":{},"extensions":{"io.modelcontextprotocol/ui":{}},"sampling":{"context":{},"tools":{}},"elicitation":{"form":{},"url":{}},"com.example/custom":{"z":1}}"#,
        );
        assert_eq!(
            legacy_capabilities(&modern).to_string(),
            r#"{"experimental":{"x":{"a":1.50}},"roots":{"listChanged":false},"sampling":{"context":{},"tools":{}},"elicitation":{"form":{},"url":{}},"com.example/custom":{"z":1}}"#
        );
    }

    #[test]
    fn legacy_capabilities_treats_null_as_undeclared_and_forces_roots_list_changed_off() {
        let modern = parse(r#"{"sampling":null,"roots":{"listChanged":true,"x":1}}"#);
        assert_eq!(
            legacy_capabilities(&modern).to_string(),
            r#"{"roots":{"listChanged":false,"x":1}}"#
        );
        assert_eq!(legacy_capabilities(&parse("{}")).to_string(), "{}");
        assert_eq!(legacy_capabilities(&parse("[]")).to_string(), "{}");
    }

    #[test]
    fn partition_key_is_canonical_and_restricted_to_interactive_capabilities() {
        let python = parse(
            r#"{"sampling":{},"elicitation":{"form":{},"url":{}},"experimental":{"x":{}},"extensions":{"e/x":{}}}"#,
        );
        let reordered = parse(r#"{"elicitation":{"url":{},"form":{}},"sampling":{}}"#);
        let expected = r#"{"elicitation":{"form":{},"url":{}},"sampling":{}}"#;
        assert_eq!(partition_key(&python), expected);
        assert_eq!(partition_key(&reordered), expected);
        assert_eq!(
            partition_key(&parse(r#"{"roots":{"b":[{"d":1,"c":2}],"a":true}}"#)),
            r#"{"roots":{"a":true,"b":[{"c":2,"d":1}]}}"#
        );
    }

    #[test]
    fn partition_key_of_no_interactive_capability_is_empty_object() {
        assert_eq!(partition_key(&parse("{}")), "{}");
        assert_eq!(
            partition_key(&parse(r#"{"experimental":{"x":{}},"roots":null}"#)),
            "{}"
        );
        assert_eq!(partition_key(&Value::Null), "{}");
    }

    #[test]
    fn is_interactive_needs_roots_sampling_or_elicitation() {
        assert!(!is_interactive(&parse("{}")));
        assert!(!is_interactive(&parse(
            r#"{"experimental":{},"extensions":{}}"#
        )));
        assert!(!is_interactive(&parse(r#"{"sampling":null}"#)));
        assert!(is_interactive(&parse(r#"{"roots":{}}"#)));
        assert!(is_interactive(&parse(r#"{"sampling":{}}"#)));
        assert!(is_interactive(&parse(r#"{"elicitation":{"url":{}}}"#)));
    }

    #[test]
    fn initialize_request_declares_the_partition_at_2025_11_25() {
        let frame = initialize_request(json!(7), &parse(r#"{"roots":{},"sampling":{}}"#));
        let expected = format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{"roots":{{"listChanged":false}},"sampling":{{}}}},"clientInfo":{{"name":"hyper-mcp-proxy","version":"{}"}}}}}}"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(frame.to_bytes(), expected.as_bytes());
    }

    #[test]
    fn initialized_notification_has_no_params() {
        assert_eq!(
            initialized_notification().to_bytes(),
            &br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#[..]
        );
    }
}
