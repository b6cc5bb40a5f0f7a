//! The ladder's tests: the row harness (compact headers, request builders, expected outcomes),
//! the body-shape and notification rows, and the tests of an admitted call, the messages and the
//! HTTP answer. Every row asserts the exact status, code, data and id; the expected answers were
//! observed on the wire against the Python reference server (`mcp` 2.3.0, JSON response mode),
//! except where a comment says the proxy deliberately differs.

use axum::body::to_bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::*;

const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;
const METHOD_NOT_FOUND: i64 = -32601;

/// Headers written compactly, `|`-separated: `V` is `MCP-Protocol-Version: 2026-07-28`, `P=x`,
/// `M=x` and `N=x` set `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` to `x`, and any
/// other `Name=x` sets that header as spelled. A name may repeat; values may be non-ASCII.
fn headers(spec: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    for item in spec.split('|').filter(|item| !item.is_empty()) {
        let (name, value) = match item.split_once('=') {
            None if item == "V" => ("mcp-protocol-version", "2026-07-28"),
            Some(("P", value)) => ("mcp-protocol-version", value),
            Some(("M", value)) => ("mcp-method", value),
            Some(("N", value)) => ("mcp-name", value),
            Some(pair) => pair,
            None => panic!("bad header spec {item}"),
        };
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    map
}

fn parse(value: &Value) -> Frame {
    Frame::parse(value.to_string().as_bytes()).unwrap()
}

/// A request whose params are `fields` plus the envelope, with `extra_meta` keys added or
/// replaced in the envelope.
fn request_with_meta(method: &str, fields: Value, extra_meta: Value) -> Value {
    let mut meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    for (key, value) in extra_meta.as_object().unwrap() {
        meta[key] = value.clone();
    }
    let mut params = fields;
    params["_meta"] = meta;
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

fn request(method: &str, fields: Value) -> Value {
    request_with_meta(method, fields, json!({}))
}

/// `tools/list` with `extra_meta` in its envelope.
fn list_meta(extra_meta: Value) -> Value {
    request_with_meta("tools/list", json!({}), extra_meta)
}

fn list() -> Value {
    request("tools/list", json!({}))
}

fn call_echo() -> Value {
    request(
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "a"}}),
    )
}

/// `tools/list` at an unserved version.
fn unserved() -> Value {
    list_meta(json!({"io.modelcontextprotocol/protocolVersion": "2030-01-01"}))
}

fn bare(params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params})
}

fn notification(params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params})
}

#[derive(Debug)]
enum Expect {
    Notification,
    /// Admitted request: its method and name.
    Call(&'static str, Option<&'static str>),
    /// Refused: status, code, data, id.
    Refused(u16, i64, Option<Value>, Value),
}

fn call(method: &'static str) -> Expect {
    Expect::Call(method, None)
}

fn named(method: &'static str, name: &'static str) -> Expect {
    Expect::Call(method, Some(name))
}

/// 400 with the request's id (1).
fn bad(code: i64) -> Expect {
    Expect::Refused(400, code, None, json!(1))
}

/// 400 `-32600` with `id: null`.
fn invalid_body() -> Expect {
    Expect::Refused(400, INVALID_REQUEST, None, Value::Null)
}

fn unsupported(requested: &str, id: Value) -> Expect {
    let data = json!({"supported": ["2026-07-28"], "requested": requested});
    Expect::Refused(400, UNSUPPORTED_VERSION, Some(data), id)
}

fn not_found(method: &str) -> Expect {
    Expect::Refused(404, METHOD_NOT_FOUND, Some(Value::from(method)), json!(1))
}

type Row = (&'static str, &'static str, Value, Expect);

fn check(rows: Vec<Row>) {
    for (label, spec, body, expected) in rows {
        let outcome = admit(&headers(spec), &parse(&body), &SERVED_VERSIONS);
        match (&expected, &outcome) {
            (Expect::Notification, Ok(Admitted::Notification)) => {}
            (Expect::Call(method, name), Ok(Admitted::Request(call))) => {
                assert_eq!(call.method, *method, "{label}");
                assert_eq!(call.name.as_deref(), *name, "{label}");
                assert_eq!(call.version, "2026-07-28", "{label}");
            }
            (Expect::Refused(status, code, data, id), Err(refusal)) => {
                assert_eq!(refusal.status.as_u16(), *status, "{label}: {refusal:?}");
                assert_eq!(refusal.code, *code, "{label}: {refusal:?}");
                assert_eq!(&refusal.data, data, "{label}");
                assert_eq!(&refusal.request_id, id, "{label}");
            }
            _ => panic!("{label} {body}: expected {expected:?}, got {outcome:?}"),
        }
    }
}

#[test]
fn body_shape_and_notification_rows() {
    let cancelled = || notification(json!({"requestId": 1}));
    let response = json!({"jsonrpc": "2.0", "id": 5, "result": {}});
    let error = json!({"jsonrpc": "2.0", "id": 5, "error": {"code": 1, "message": "m"}});
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    check(vec![
        ("posted response", "V", response, invalid_body()),
        ("posted error", "V", error, invalid_body()),
        (
            "request params array",
            "V|M=tools/list",
            bare(json!([])),
            invalid_body(),
        ),
        (
            "notification params array",
            "V",
            notification(json!([])),
            invalid_body(),
        ),
        ("notification", "V", cancelled(), Expect::Notification),
        (
            "notifications/initialized",
            "V",
            initialized,
            Expect::Notification,
        ),
        (
            "notification params null",
            "V",
            notification(Value::Null),
            Expect::Notification,
        ),
        (
            "notification, unserved",
            "P=2030-01-01",
            cancelled(),
            unsupported("2030-01-01", Value::Null),
        ),
        // Unreachable in the reference, which routes on the header alone.
        (
            "notification without version header",
            "",
            cancelled(),
            unsupported("", Value::Null),
        ),
        // The reference does not look for repeated headers on notifications.
        (
            "notification, header twice",
            "V|V",
            cancelled(),
            Expect::Notification,
        ),
    ]);
}

mod envelope_rows;
mod header_rows;

#[test]
fn enveloped_initialize_is_refused_with_its_own_id() {
    let mut body = request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "c", "version": "1"}}),
    );
    body["id"] = json!("abc");
    let refusal = admit(&headers("V|M=initialize"), &parse(&body), &SERVED_VERSIONS).unwrap_err();
    let expected = Refusal {
        status: StatusCode::NOT_FOUND,
        code: METHOD_NOT_FOUND,
        message: "method \"initialize\" does not exist in MCP 2026-07-28: there is no handshake; \
                  send each request with its params._meta envelope, and call server/discover to \
                  learn the server's versions and capabilities"
            .to_owned(),
        data: Some(json!("initialize")),
        request_id: json!("abc"),
    };
    assert_eq!(refusal, expected);
}

#[test]
fn admitted_request_carries_the_envelope() {
    let body = request_with_meta(
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "hi"}}),
        json!({
            "io.modelcontextprotocol/clientCapabilities": {"sampling": {}, "elicitation": {"form": {}, "url": {}}},
            "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
            "io.modelcontextprotocol/logLevel": "warning",
            "progressToken": 123456789012345678901234567890_u128,
        }),
    );
    let admitted = admit(
        &headers("V|M=tools/call|N=echo"),
        &parse(&body),
        &SERVED_VERSIONS,
    );
    let expected = ModernCall {
        method: "tools/call".to_owned(),
        name: Some("echo".to_owned()),
        version: "2026-07-28".to_owned(),
        capabilities: json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}}),
        client_info: Some(json!({"name": "mcp", "version": "0.1.0"})),
        log_level: Some("warning".to_owned()),
        progress_token: Some(json!(123456789012345678901234567890_u128)),
    };
    assert_eq!(admitted, Ok(Admitted::Request(expected)));
}

#[test]
fn messages_say_what_is_wrong_and_what_to_do() {
    let message = |spec: &str, body: Value| {
        admit(&headers(spec), &parse(&body), &SERVED_VERSIONS)
            .unwrap_err()
            .message
    };
    let rows: [(&str, Value, &str); 5] = [
        (
            "V|M=tools/call|N=ech",
            call_echo(),
            "the Mcp-Name header (\"ech\") does not match the body's name (params.name, or \
             params.uri for resources/read) (\"echo\"); send the same value in both",
        ),
        (
            "M=tools/list",
            list(),
            "the MCP-Protocol-Version header is missing; send it equal to \
             params._meta[\"io.modelcontextprotocol/protocolVersion\"] (\"2026-07-28\")",
        ),
        (
            "V|V",
            list(),
            "the MCP-Protocol-Version header appears more than once; send it exactly once",
        ),
        (
            "V|M=tools/list",
            bare(json!({"_meta": {}})),
            "params._meta is missing the required envelope key(s) \
             io.modelcontextprotocol/protocolVersion, io.modelcontextprotocol/clientCapabilities; \
             add them (clientCapabilities {} declares no capabilities)",
        ),
        (
            "P=2030-01-01|M=tools/list",
            unserved(),
            "protocol version \"2030-01-01\" is not served here; retry with a version from \
             error.data.supported",
        ),
    ];
    for (spec, body, expected) in rows {
        assert_eq!(message(spec, body), expected, "{spec}");
    }
}

#[tokio::test]
async fn refusal_response_is_a_json_rpc_error_body() {
    let body = json!({"jsonrpc": "2.0", "method": "notifications/cancelled"});
    let refusal = admit(&headers("P=2030-01-01"), &parse(&body), &SERVED_VERSIONS).unwrap_err();
    let response = refusal.into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = to_bytes(response.into_body(), 4096).await.unwrap();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"protocol version \"2030-01-01\" is not served here; retry with a version from error.data.supported","data":{"supported":["2026-07-28"],"requested":"2030-01-01"}}}"#
    );
}
