//! The demo server's tool catalog as `tools/list` reports it: each tool's
//! name, description and JSON Schema for its arguments.

use serde_json::{Value, json};

/// Every tool `tools/call` accepts, in `tools/list` order.
pub const TOOL_NAMES: [&str; 20] = [
    "echo",
    "add",
    "sleep",
    "crash",
    "sample",
    "elicit",
    "roots",
    "ping_client",
    "notify",
    "log",
    "big",
    "fail",
    "garbage",
    "stderr",
    "pid",
    "received",
    "answer_and_exit",
    "invalid_utf8",
    "broken_answer",
    "tick",
];

pub fn is_known(name: &str) -> bool {
    TOOL_NAMES.contains(&name)
}

/// The `tools/list` result.
pub fn list_result() -> Value {
    json!({ "tools": definitions() })
}

fn tool(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "name": name,
        "description": description,
        "inputSchema": { "type": "object", "properties": properties, "required": required },
    })
}

fn no_arguments(name: &str, description: &str) -> Value {
    tool(name, description, json!({}), &[])
}

fn definitions() -> Vec<Value> {
    vec![
        tool(
            "echo",
            "Returns `message` unchanged as text.",
            json!({ "message": { "type": "string", "description": "Text to echo back" } }),
            &["message"],
        ),
        tool(
            "add",
            "Returns the sum of `a` and `b` as text; integers stay integers.",
            json!({ "a": { "type": "number" }, "b": { "type": "number" } }),
            &["a", "b"],
        ),
        tool(
            "sleep",
            "Sleeps `ms` milliseconds in `steps` equal slices, sending \
             notifications/progress after each slice when the request has a progressToken.",
            json!({
                "ms": { "type": "integer", "minimum": 0, "description": "Total sleep time" },
                "steps": { "type": "integer", "minimum": 1, "default": 5,
                           "description": "Number of slices (and progress notifications)" },
            }),
            &["ms"],
        ),
        tool(
            "crash",
            "Exits the server process at once with exit code `code`, without answering.",
            json!({ "code": { "type": "integer", "default": 1 } }),
            &[],
        ),
        tool(
            "sample",
            "Asks the client for sampling/createMessage with `prompt`; returns the client's result as JSON text.",
            json!({ "prompt": { "type": "string" } }),
            &["prompt"],
        ),
        tool(
            "elicit",
            "Asks the client for elicitation/create with `message`; returns the client's result as JSON text.",
            json!({ "message": { "type": "string" } }),
            &["message"],
        ),
        no_arguments(
            "roots",
            "Asks the client for roots/list; returns the client's result as JSON text.",
        ),
        no_arguments(
            "ping_client",
            "Sends a ping request to the client; returns \"pong\" when it answers.",
        ),
        no_arguments(
            "notify",
            "Sends list_changed, resources/updated, a log message and a custom notification, then answers.",
        ),
        tool(
            "log",
            "Sends notifications/message at `level` (if the current log level allows it).",
            json!({
                "level": { "type": "string", "enum": ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] },
                "message": { "type": "string" },
            }),
            &["level", "message"],
        ),
        tool(
            "big",
            "Returns a text of exactly `bytes` ASCII 'x' characters.",
            json!({ "bytes": { "type": "integer", "minimum": 0 } }),
            &["bytes"],
        ),
        tool(
            "fail",
            "Answers with a JSON-RPC error with exactly this code, message and optional data.",
            json!({
                "code": { "type": "integer" },
                "message": { "type": "string" },
                "data": { "description": "Any JSON value; omitted from the error when absent" },
            }),
            &["code", "message"],
        ),
        no_arguments(
            "garbage",
            "Writes the line `this is not json` to stdout, then answers normally.",
        ),
        tool(
            "stderr",
            "Writes `lines` lines to stderr, then answers.",
            json!({ "lines": { "type": "integer", "minimum": 0 } }),
            &["lines"],
        ),
        no_arguments("pid", "Returns the server's process id."),
        no_arguments(
            "received",
            "Returns a JSON array of every message received on stdin so far, except this request.",
        ),
        tool(
            "answer_and_exit",
            "Sends `logs` notifications/message, answers \"answered, then exited\", and exits \
             the process with code 0 as soon as the answer is flushed.",
            json!({ "logs": { "type": "integer", "minimum": 0, "default": 0 } }),
            &[],
        ),
        no_arguments(
            "invalid_utf8",
            "Answers \"before?after\" with the `?` written as the raw byte 0xFF (not UTF-8).",
        ),
        no_arguments(
            "broken_answer",
            "Writes the start of its answer, cut off inside the result (not JSON), and nothing else.",
        ),
        tool(
            "tick",
            "Answers at once, then sends notifications/message `tick N` every `ms` milliseconds \
             until the process ends.",
            json!({ "ms": { "type": "integer", "minimum": 1 } }),
            &["ms"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_tools_are_exactly_the_known_tools_in_order() {
        let listed: Vec<Value> = definitions()
            .into_iter()
            .map(|tool| tool["name"].clone())
            .collect();
        assert_eq!(listed, TOOL_NAMES.map(|name| json!(name)).to_vec());
        assert!(is_known("echo"));
        assert!(!is_known("nope"));
    }

    #[test]
    fn every_tool_has_a_description_and_an_object_schema() {
        for tool in definitions() {
            assert!(tool["description"].as_str().is_some_and(|d| !d.is_empty()));
            assert_eq!(tool["inputSchema"]["type"], "object");
            assert!(tool["inputSchema"]["properties"].is_object());
            for required in tool["inputSchema"]["required"].as_array().expect("array") {
                let name = required.as_str().expect("string");
                assert!(tool["inputSchema"]["properties"].get(name).is_some());
            }
        }
    }
}
