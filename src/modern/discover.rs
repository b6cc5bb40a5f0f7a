//! The proxy's answer to `server/discover` on behalf of a legacy-only child, built from the
//! `InitializeResult` of one of its warm children (modern-era.md §1.4, §3.3).

use serde_json::{Map, Value};

use crate::modern::envelope::SERVER_INFO_META_KEY;

/// A server capability, or one member of it, that the translation cannot honour yet.
struct Unbridged {
    capability: &'static str,
    /// `None` removes the whole capability.
    member: Option<&'static str>,
}

/// What `discover_result` removes from a legacy child's capabilities, because a modern client
/// relying on it would wait for something the proxy never delivers. Relaxing the policy when a
/// bridge exists is deleting its rows.
///
/// - `tasks`: 2025 experimental tasks have no mapping to the 2026 tasks extension.
/// - `logging`: needs per-request `logLevel` handling under an exclusive lease (§3.6).
///
/// `resources.subscribe` and the `listChanged` flags stay: `subscriptions/listen` carries them
/// (`modern/listen.rs`), honouring exactly what the child advertises.
const UNBRIDGED_CAPABILITIES: [Unbridged; 2] = [
    Unbridged {
        capability: "tasks",
        member: None,
    },
    Unbridged {
        capability: "logging",
        member: None,
    },
];

/// `serverInfo` of a child's `InitializeResult` (the `result` object), if it is an object.
pub fn server_info(initialize_result: &Value) -> Option<Value> {
    initialize_result
        .get("serverInfo")
        .filter(|info| info.is_object())
        .cloned()
}

/// A 2026-07-28 `DiscoverResult` for a child whose `InitializeResult` (the `result` object) is
/// `initialize_result`, advertising the `served` protocol versions.
///
/// The child's capabilities lose what `UNBRIDGED_CAPABILITIES` lists (a capability emptied that
/// way stays, as `{}`: the feature itself still works). `instructions` is copied when it is a
/// string (anything else would make clients reject the whole result). Cache hints are
/// `ttlMs:0, cacheScope:"private"`: the pool's children can change without the client knowing.
pub fn discover_result(initialize_result: &Value, served: &[&str]) -> Value {
    let mut result = Map::new();
    result.insert("resultType".into(), Value::from("complete"));
    result.insert(
        "supportedVersions".into(),
        Value::Array(served.iter().map(|version| Value::from(*version)).collect()),
    );
    result.insert(
        "capabilities".into(),
        bridged_capabilities(initialize_result.get("capabilities")),
    );
    if let Some(instructions) = initialize_result
        .get("instructions")
        .filter(|text| text.is_string())
    {
        result.insert("instructions".into(), instructions.clone());
    }
    result.insert("ttlMs".into(), Value::from(0));
    result.insert("cacheScope".into(), Value::from("private"));
    if let Some(info) = server_info(initialize_result) {
        let mut meta = Map::new();
        meta.insert(SERVER_INFO_META_KEY.into(), info);
        result.insert("_meta".into(), Value::Object(meta));
    }
    Value::Object(result)
}

/// The child's capabilities without the unbridged ones, in the child's order.
fn bridged_capabilities(child: Option<&Value>) -> Value {
    let Some(Value::Object(child)) = child else {
        return Value::Object(Map::new());
    };
    let mut capabilities = child.clone();
    for rule in &UNBRIDGED_CAPABILITIES {
        match rule.member {
            None => {
                capabilities.shift_remove(rule.capability);
            }
            Some(member) => {
                if let Some(Value::Object(members)) = capabilities.get_mut(rule.capability) {
                    members.shift_remove(member);
                }
            }
        }
    }
    Value::Object(capabilities)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn discover_result_from_a_full_initialize_result() {
        let initialize = parse(
            r#"{"protocolVersion":"2025-11-25","capabilities":{"logging":{},"completions":{},"prompts":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},"tools":{"listChanged":false},"tasks":{"list":{}},"experimental":{"x":{"n":1.0e3}}},"serverInfo":{"name":"srv","version":"2.1","title":"S"},"instructions":"Use the echo tool."}"#,
        );
        assert_eq!(
            discover_result(&initialize, &["2026-07-28"]).to_string(),
            r#"{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"completions":{},"prompts":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},"tools":{"listChanged":false},"experimental":{"x":{"n":1.0e+3}}},"instructions":"Use the echo tool.","ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"srv","version":"2.1","title":"S"}}}"#
        );
    }

    #[test]
    fn discover_result_from_a_minimal_initialize_result() {
        let initialize = parse(r#"{"protocolVersion":"2025-06-18","capabilities":{"tools":{}}}"#);
        assert_eq!(
            discover_result(&initialize, &[]).to_string(),
            r#"{"resultType":"complete","supportedVersions":[],"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private"}"#
        );
        let odd = parse(r#"{"capabilities":[],"instructions":7,"serverInfo":"srv"}"#);
        assert_eq!(
            discover_result(&odd, &["2026-07-28", "2027-01-01"]).to_string(),
            r#"{"resultType":"complete","supportedVersions":["2026-07-28","2027-01-01"],"capabilities":{},"ttlMs":0,"cacheScope":"private"}"#
        );
    }

    #[test]
    fn server_info_is_the_initialize_result_member() {
        assert_eq!(
            server_info(&parse(r#"{"serverInfo":{"name":"a","version":"1"}}"#)),
            Some(parse(r#"{"name":"a","version":"1"}"#))
        );
        assert_eq!(server_info(&parse(r#"{"serverInfo":null}"#)), None);
        assert_eq!(server_info(&parse("{}")), None);
    }
}
