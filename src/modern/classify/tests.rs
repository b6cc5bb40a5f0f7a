use axum::http::{HeaderMap, HeaderName, HeaderValue};
use rmcp::model::ProtocolVersion;

use super::*;

/// Headers from `(name, value)` pairs, appended so that a name may repeat.
fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    map
}

fn frame(text: &str) -> Frame {
    Frame::parse(text.as_bytes()).unwrap()
}

const ENVELOPED_TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
const LEGACY_INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#;
const ENVELOPED_INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
const PLAIN_TOOLS_LIST: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"progressToken":1}}}"#;
const ENVELOPED_NOTIFICATION: &str = r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
const PLAIN_NOTIFICATION: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const HALF_ENVELOPE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":null}}}"#;
const META_NOT_OBJECT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":"io.modelcontextprotocol/protocolVersion"}}"#;
const RESPONSE_WITH_META: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}},"params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;

#[test]
fn classify_post_table() {
    type Row = (
        &'static str,
        Vec<(&'static str, &'static [u8])>,
        Option<&'static str>,
        Era,
    );
    let rows: Vec<Row> = vec![
        // (a) the body claim decides, whatever the header says.
        (
            "envelope, no header",
            vec![],
            Some(ENVELOPED_TOOLS_LIST),
            Era::Modern,
        ),
        (
            "envelope, legacy header",
            vec![("mcp-protocol-version", b"2025-11-25")],
            Some(ENVELOPED_TOOLS_LIST),
            Era::Modern,
        ),
        (
            "enveloped initialize",
            vec![],
            Some(ENVELOPED_INITIALIZE),
            Era::Modern,
        ),
        (
            "enveloped notification",
            vec![],
            Some(ENVELOPED_NOTIFICATION),
            Era::Modern,
        ),
        (
            "claim with a null version",
            vec![],
            Some(HALF_ENVELOPE),
            Era::Modern,
        ),
        // (b) no claim: a header that names no legacy version decides.
        (
            "modern header, plain body",
            vec![("mcp-protocol-version", b"2026-07-28")],
            Some(PLAIN_TOOLS_LIST),
            Era::Modern,
        ),
        (
            "unknown version header",
            vec![("mcp-protocol-version", b"2030-01-01")],
            Some(PLAIN_TOOLS_LIST),
            Era::Modern,
        ),
        (
            "empty version header",
            vec![("mcp-protocol-version", b"")],
            Some(PLAIN_TOOLS_LIST),
            Era::Modern,
        ),
        (
            "non-ASCII version header",
            vec![("mcp-protocol-version", b"2026-07-28\xe9")],
            Some(PLAIN_TOOLS_LIST),
            Era::Modern,
        ),
        (
            "modern header, body did not parse",
            vec![("mcp-protocol-version", b"2026-07-28")],
            None,
            Era::Modern,
        ),
        (
            "modern header, plain notification",
            vec![("mcp-protocol-version", b"2026-07-28")],
            Some(PLAIN_NOTIFICATION),
            Era::Modern,
        ),
        (
            "header name in mixed case",
            vec![("Mcp-PROTOCOL-version", b"2026-07-28")],
            Some(PLAIN_TOOLS_LIST),
            Era::Modern,
        ),
        (
            "first of two headers decides (modern first)",
            vec![
                ("mcp-protocol-version", b"2026-07-28"),
                ("mcp-protocol-version", b"2025-11-25"),
            ],
            Some(PLAIN_TOOLS_LIST),
            Era::Modern,
        ),
        (
            "first of two headers decides (legacy first)",
            vec![
                ("mcp-protocol-version", b"2025-11-25"),
                ("mcp-protocol-version", b"2026-07-28"),
            ],
            Some(PLAIN_TOOLS_LIST),
            Era::Legacy,
        ),
        // (c) everything else is legacy.
        (
            "legacy initialize, no header",
            vec![],
            Some(LEGACY_INITIALIZE),
            Era::Legacy,
        ),
        (
            "legacy initialize, legacy header",
            vec![("mcp-protocol-version", b"2025-06-18")],
            Some(LEGACY_INITIALIZE),
            Era::Legacy,
        ),
        (
            "plain request, no header",
            vec![],
            Some(PLAIN_TOOLS_LIST),
            Era::Legacy,
        ),
        (
            "plain notification, no header",
            vec![],
            Some(PLAIN_NOTIFICATION),
            Era::Legacy,
        ),
        ("body did not parse, no header", vec![], None, Era::Legacy),
        (
            "_meta that is not an object",
            vec![],
            Some(META_NOT_OBJECT),
            Era::Legacy,
        ),
        (
            "a response is never a claim",
            vec![],
            Some(RESPONSE_WITH_META),
            Era::Legacy,
        ),
        (
            "2024-11-05 header",
            vec![("mcp-protocol-version", b"2024-11-05")],
            Some(PLAIN_TOOLS_LIST),
            Era::Legacy,
        ),
        (
            "2025-03-26 header",
            vec![("mcp-protocol-version", b"2025-03-26")],
            Some(PLAIN_TOOLS_LIST),
            Era::Legacy,
        ),
    ];
    for (name, pairs, body, expected) in rows {
        let body = body.map(frame);
        assert_eq!(
            classify_post(&headers(&pairs), body.as_ref()),
            expected,
            "{name}"
        );
    }
}

#[test]
fn modern_version_header_table() {
    type Row = (&'static str, Vec<(&'static str, &'static [u8])>, bool);
    let rows: [Row; 8] = [
        ("absent", vec![], false),
        (
            "2026-07-28",
            vec![("mcp-protocol-version", b"2026-07-28")],
            true,
        ),
        (
            "unknown",
            vec![("MCP-Protocol-Version", b"2099-01-01")],
            true,
        ),
        ("non-ASCII", vec![("mcp-protocol-version", b"\xff")], true),
        (
            "2025-11-25",
            vec![("mcp-protocol-version", b"2025-11-25")],
            false,
        ),
        (
            "2025-06-18",
            vec![("MCP-PROTOCOL-VERSION", b"2025-06-18")],
            false,
        ),
        (
            "2025-03-26",
            vec![("mcp-protocol-version", b"2025-03-26")],
            false,
        ),
        (
            "2024-11-05",
            vec![("mcp-protocol-version", b"2024-11-05")],
            false,
        ),
    ];
    for (name, pairs, expected) in rows {
        assert_eq!(
            is_modern_version_header(&headers(&pairs)),
            expected,
            "{name}"
        );
    }
}

#[test]
fn legacy_versions_are_rmcps_handshake_versions() {
    let from_rmcp = [
        ProtocolVersion::V_2024_11_05,
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
    ];
    let names: Vec<&str> = from_rmcp.iter().map(ProtocolVersion::as_str).collect();
    assert_eq!(names, LEGACY_VERSIONS);
    assert!(from_rmcp.iter().all(ProtocolVersion::has_initialize));
    assert!(!ProtocolVersion::V_2026_07_28.has_initialize());
    assert_eq!(
        ProtocolVersion::V_2026_07_28.as_str(),
        crate::modern::MODERN_VERSION
    );
}
