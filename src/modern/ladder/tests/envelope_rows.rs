//! Rows of the envelope rungs (`params._meta` and its keys), the removed-method rung, and the
//! shapes of the envelope values and named-method targets checked after it.

use serde_json::{Value, json};

use super::*;

#[test]
fn envelope_key_rows() {
    let caps =
        |value: Value| list_meta(json!({"io.modelcontextprotocol/clientCapabilities": value}));
    let no_params = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let no_caps = bare(json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}));
    let no_version = bare(json!({"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}}));
    let bad_caps_unserved = list_meta(json!({
        "io.modelcontextprotocol/protocolVersion": "2030-01-01",
        "io.modelcontextprotocol/clientCapabilities": "x",
    }));
    let bad_caps_ping = request_with_meta(
        "ping",
        json!({}),
        json!({"io.modelcontextprotocol/clientCapabilities": "x"}),
    );
    check(vec![
        (
            "no params",
            "V|M=tools/list",
            no_params,
            bad(INVALID_PARAMS),
        ),
        (
            "params null",
            "V|M=tools/list",
            bare(Value::Null),
            bad(INVALID_PARAMS),
        ),
        (
            "no _meta",
            "V|M=tools/list",
            bare(json!({})),
            bad(INVALID_PARAMS),
        ),
        (
            "_meta not an object",
            "V|M=tools/list",
            bare(json!({"_meta": 3})),
            bad(INVALID_PARAMS),
        ),
        (
            "_meta without version",
            "V|M=tools/list",
            no_version,
            bad(INVALID_PARAMS),
        ),
        (
            "_meta without capabilities",
            "V|M=tools/list",
            no_caps,
            bad(INVALID_PARAMS),
        ),
        (
            "_meta empty",
            "V|M=tools/list",
            bare(json!({"_meta": {}})),
            bad(INVALID_PARAMS),
        ),
        (
            "capabilities a string",
            "V|M=tools/list",
            caps(json!("x")),
            bad(INVALID_PARAMS),
        ),
        (
            "capabilities null",
            "V|M=tools/list",
            caps(Value::Null),
            bad(INVALID_PARAMS),
        ),
        (
            "capabilities.roots a string",
            "V|M=tools/list",
            caps(json!({"roots": "x"})),
            bad(INVALID_PARAMS),
        ),
        (
            "capabilities.extensions a number",
            "V|M=tools/list",
            caps(json!({"extensions": 3})),
            bad(INVALID_PARAMS),
        ),
        (
            "capabilities.sampling null",
            "V|M=tools/list",
            caps(json!({"sampling": null})),
            call("tools/list"),
        ),
        (
            "unknown capability member",
            "V|M=tools/list",
            caps(json!({"foo": 3})),
            call("tools/list"),
        ),
        // Where the reference checks params (after the version and the method lookup).
        (
            "bad capabilities, unserved",
            "P=2030-01-01|M=tools/list",
            bad_caps_unserved,
            unsupported("2030-01-01", json!(1)),
        ),
        (
            "bad capabilities, removed method",
            "V|M=ping",
            bad_caps_ping,
            not_found("ping"),
        ),
    ]);
}

#[test]
fn envelope_value_rows() {
    let meta = |key: &str, value: Value| list_meta(json!({ key: value }));
    let level = "io.modelcontextprotocol/logLevel";
    let info = "io.modelcontextprotocol/clientInfo";
    let no_name = request("tools/call", json!({"arguments": {}}));
    check(vec![
        (
            "logLevel unknown",
            "V|M=tools/list",
            meta(level, json!("loud")),
            bad(INVALID_PARAMS),
        ),
        (
            "logLevel a number",
            "V|M=tools/list",
            meta(level, json!(3)),
            bad(INVALID_PARAMS),
        ),
        (
            "logLevel null",
            "V|M=tools/list",
            meta(level, Value::Null),
            call("tools/list"),
        ),
        (
            "progressToken an object",
            "V|M=tools/list",
            meta("progressToken", json!({})),
            bad(INVALID_PARAMS),
        ),
        (
            "progressToken a fraction",
            "V|M=tools/list",
            meta("progressToken", json!(1.5)),
            bad(INVALID_PARAMS),
        ),
        (
            "progressToken null",
            "V|M=tools/list",
            meta("progressToken", Value::Null),
            bad(INVALID_PARAMS),
        ),
        (
            "progressToken an integer",
            "V|M=tools/list",
            meta("progressToken", json!(7)),
            call("tools/list"),
        ),
        (
            "clientInfo a number",
            "V|M=tools/list",
            meta(info, json!(3)),
            bad(INVALID_PARAMS),
        ),
        (
            "clientInfo null",
            "V|M=tools/list",
            meta(info, Value::Null),
            call("tools/list"),
        ),
        (
            "tools/call without name",
            "V|M=tools/call",
            no_name,
            bad(INVALID_PARAMS),
        ),
        (
            "tools/call name null",
            "V|M=tools/call",
            request("tools/call", json!({"name": null})),
            bad(INVALID_PARAMS),
        ),
        (
            "resources/read without uri",
            "V|M=resources/read",
            request("resources/read", json!({})),
            bad(INVALID_PARAMS),
        ),
    ]);
}

#[test]
fn method_rows() {
    let task = |method: &str| request(method, json!({"taskId": "t"}));
    let mut rows: Vec<Row> = vec![
        (
            "server/discover",
            "V|M=server/discover|N=x",
            request("server/discover", json!({})),
            call("server/discover"),
        ),
        // The proxy forwards custom methods; the reference 404s what it has no handler for.
        (
            "custom method",
            "V|M=x/custom",
            request("x/custom", json!({})),
            call("x/custom"),
        ),
        // The tasks extension still defines these two (the reference does not implement it).
        (
            "tasks/get",
            "V|M=tasks/get",
            task("tasks/get"),
            call("tasks/get"),
        ),
        (
            "tasks/cancel",
            "V|M=tasks/cancel",
            task("tasks/cancel"),
            call("tasks/cancel"),
        ),
    ];
    let removed: [(&str, &'static str); 7] = [
        ("initialize", "V|M=initialize"),
        ("ping", "V|M=ping"),
        ("logging/setLevel", "V|M=logging/setLevel"),
        ("resources/subscribe", "V|M=resources/subscribe"),
        ("resources/unsubscribe", "V|M=resources/unsubscribe"),
        ("tasks/list", "V|M=tasks/list"),
        ("tasks/result", "V|M=tasks/result"),
    ];
    for (method, spec) in removed {
        rows.push((
            "removed method",
            spec,
            request(method, json!({})),
            not_found(method),
        ));
    }
    check(rows);
}
