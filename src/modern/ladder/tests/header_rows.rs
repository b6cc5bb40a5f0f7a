//! Rows of the routing-header rungs: repeated headers, `MCP-Protocol-Version` against the body's
//! version (and the served-version rung after it), `Mcp-Method` and `Mcp-Name` with the sentinel.

use serde_json::json;

use super::*;

#[test]
fn repeated_and_version_header_rows() {
    let numeric_version = list_meta(json!({"io.modelcontextprotocol/protocolVersion": 5}));
    let legacy_version =
        list_meta(json!({"io.modelcontextprotocol/protocolVersion": "2025-11-25"}));
    check(vec![
        (
            "version header twice",
            "V|V|M=tools/list",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "method header twice",
            "V|M=tools/list|M=tools/list",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "name header twice",
            "V|M=tools/call|N=echo|N=echo",
            call_echo(),
            bad(HEADER_MISMATCH),
        ),
        (
            "twice, mixed case",
            "V|MCP-Method=tools/list|mcp-METHOD=tools/list",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "twice outranks no envelope",
            "V|V",
            bare(json!({})),
            bad(HEADER_MISMATCH),
        ),
        (
            "version header differs",
            "P=2030-01-01|M=tools/list",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "version header missing",
            "M=tools/list",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "version header empty",
            "P=|M=tools/list",
            list(),
            bad(HEADER_MISMATCH),
        ),
        // Only Mcp-Name and Mcp-Param-* may use the sentinel.
        (
            "version in sentinel form",
            "P==?base64?MjAyNi0wNy0yOA==?=|M=tools/list",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "body version a number",
            "P=5|M=tools/list",
            numeric_version,
            bad(HEADER_MISMATCH),
        ),
        (
            "unserved version",
            "P=2030-01-01|M=tools/list",
            unserved(),
            unsupported("2030-01-01", json!(1)),
        ),
        (
            "legacy version, both",
            "P=2025-11-25|M=tools/list",
            legacy_version,
            unsupported("2025-11-25", json!(1)),
        ),
        (
            "mismatch outranks unserved",
            "P=2030-01-01|M=tools/call",
            unserved(),
            bad(HEADER_MISMATCH),
        ),
    ]);
}

#[test]
fn method_and_name_header_rows() {
    let uri = "file:///a b/\u{e9}.txt";
    let read = |uri: &str| request("resources/read", json!({"uri": uri}));
    let prompt = || request("prompts/get", json!({"name": "greet"}));
    check(vec![
        ("method header missing", "V", list(), bad(HEADER_MISMATCH)),
        (
            "method header differs",
            "V|M=tools/call",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "method differs in case",
            "V|M=Tools/List",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "method in sentinel form",
            "V|M==?base64?dG9vbHMvbGlzdA==?=",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "method header not ASCII",
            "V|M=tools/list\u{e9}",
            list(),
            bad(HEADER_MISMATCH),
        ),
        (
            "name header missing",
            "V|M=tools/call",
            call_echo(),
            bad(HEADER_MISMATCH),
        ),
        (
            "name header differs",
            "V|M=tools/call|N=ech",
            call_echo(),
            bad(HEADER_MISMATCH),
        ),
        (
            "name in sentinel form",
            "V|M=tools/call|N==?base64?ZWNobw==?=",
            call_echo(),
            named("tools/call", "echo"),
        ),
        (
            "name sentinel undecodable",
            "V|M=tools/call|N==?base64?%%%?=",
            call_echo(),
            bad(HEADER_MISMATCH),
        ),
        (
            "name sentinel not canonical",
            "V|M=tools/call|N==?base64?ZWNobx==?=",
            call_echo(),
            bad(HEADER_MISMATCH),
        ),
        (
            "name header not ASCII",
            "V|M=tools/call|N=ech\u{f6}",
            call_echo(),
            bad(HEADER_MISMATCH),
        ),
        (
            "body name a number",
            "V|M=tools/call|N=5",
            request("tools/call", json!({"name": 5})),
            bad(HEADER_MISMATCH),
        ),
        (
            "prompts/get",
            "V|M=prompts/get|N=greet",
            prompt(),
            named("prompts/get", "greet"),
        ),
        (
            "prompts/get without Mcp-Name",
            "V|M=prompts/get",
            prompt(),
            bad(HEADER_MISMATCH),
        ),
        (
            "uri in sentinel form",
            "V|M=resources/read|N==?base64?ZmlsZTovLy9hIGIvw6kudHh0?=",
            read(uri),
            named("resources/read", "file:///a b/\u{e9}.txt"),
        ),
        (
            "uri differs",
            "V|M=resources/read|N=file:///other.txt",
            read("file:///plain.txt"),
            bad(HEADER_MISMATCH),
        ),
        (
            "Mcp-Name ignored on tools/list",
            "V|M=tools/list|N=whatever",
            list(),
            call("tools/list"),
        ),
        (
            "header names in mixed case",
            "MCP-PROTOCOL-VERSION=2026-07-28|Mcp-Method=tools/call|mCP-nAME=echo",
            call_echo(),
            named("tools/call", "echo"),
        ),
    ]);
}
