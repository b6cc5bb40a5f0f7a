use super::*;
use serde_json::json;

fn frame(text: &str) -> Frame {
    Frame::parse(text.as_bytes()).unwrap()
}

fn text(frame: &Frame) -> String {
    String::from_utf8(frame.to_bytes().to_vec()).unwrap()
}

#[test]
fn strip_envelope_keeps_everything_but_the_envelope_and_mrtr_fields() {
    let mut request = frame(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"x":1.0e3,"big":123456789012345678901234567890,"z":[-0.0]},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":"p1","io.modelcontextprotocol/clientInfo":{"name":"mcp","version":"0.1.0"},"traceparent":"00-aa-bb-01","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"com.example/tag":1.50,"io.modelcontextprotocol/logLevel":"info"},"inputResponses":{"k":{"action":"accept"}},"requestState":"JVjJ","after":true},"zzz":0}"#,
    );
    strip_envelope(&mut request);
    // `1.0e3` leaves as `1.0e+3`: serde_json's `arbitrary_precision` parser writes an unsigned
    // exponent with `+` when the frame is parsed (`scan_exponent`), on every path of the proxy.
    // Mantissa, digits and value are kept; stripping adds no change of its own.
    assert_eq!(
        text(&request),
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"x":1.0e+3,"big":123456789012345678901234567890,"z":[-0.0]},"_meta":{"progressToken":"p1","traceparent":"00-aa-bb-01","com.example/tag":1.50},"after":true},"zzz":0}"#
    );
}

#[test]
fn strip_envelope_drops_the_meta_it_emptied_and_nothing_else() {
    let mut discover = frame(
        r#"{"jsonrpc":"2.0","id":"server-discover-probe-1","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#,
    );
    strip_envelope(&mut discover);
    assert_eq!(
        text(&discover),
        r#"{"jsonrpc":"2.0","id":"server-discover-probe-1","method":"server/discover","params":{}}"#
    );

    let already_empty =
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{},"cursor":"c"}}"#;
    let mut untouched = frame(already_empty);
    strip_envelope(&mut untouched);
    assert_eq!(text(&untouched), already_empty);

    let no_params = r#"{"jsonrpc":"2.0","method":"notifications/cancelled"}"#;
    let mut notification = frame(no_params);
    strip_envelope(&mut notification);
    assert_eq!(text(&notification), no_params);
}

#[test]
fn rewrite_progress_token_swaps_in_place_and_returns_the_original() {
    let mut request = frame(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"a":1,"progressToken":123456789012345678901234567890,"b":2},"name":"t"}}"#,
    );
    let original = rewrite_progress_token(&mut request, json!("proxy-7"));
    assert_eq!(
        text(&request),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"a":1,"progressToken":"proxy-7","b":2},"name":"t"}}"#
    );
    assert_eq!(
        original.map(|token| token.to_string()),
        Some("123456789012345678901234567890".to_string())
    );

    let without =
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":{"a":1},"name":"t"}}"#;
    let mut request = frame(without);
    assert_eq!(rewrite_progress_token(&mut request, json!("proxy-8")), None);
    assert_eq!(text(&request), without);
}

#[test]
fn restore_progress_token_rewrites_only_progress_notifications() {
    let mut progress = frame(
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"proxy-7","progress":0.50,"total":1}}"#,
    );
    restore_progress_token(&mut progress, json!("p1"));
    assert_eq!(
        text(&progress),
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p1","progress":0.50,"total":1}}"#
    );

    let other_text = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"progressToken":"proxy-7"}}"#;
    let mut other = frame(other_text);
    restore_progress_token(&mut other, json!("p1"));
    assert_eq!(text(&other), other_text);
}

#[test]
fn patch_result_completes_a_list_result() {
    let info = json!({"name": "srv", "version": "1"});
    let mut list = frame(
        r#"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"t","inputSchema":{"type":"object","maximum":1.0e3}}],"nextCursor":"n"},"zzz":[]}"#,
    );
    patch_result("tools/list", &mut list, Some(&info));
    assert_eq!(
        text(&list),
        r#"{"jsonrpc":"2.0","id":4,"result":{"tools":[{"name":"t","inputSchema":{"type":"object","maximum":1.0e+3}}],"nextCursor":"n","resultType":"complete","ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"srv","version":"1"}}},"zzz":[]}"#
    );
}

#[test]
fn patch_result_adds_no_cache_hints_outside_cacheable_results() {
    let mut call = frame(
        r#"{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":"hi"}],"structuredContent":{"n":123456789012345678901234567890}}}"#,
    );
    patch_result("tools/call", &mut call, None);
    assert_eq!(
        text(&call),
        r#"{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":"hi"}],"structuredContent":{"n":123456789012345678901234567890},"resultType":"complete"}}"#
    );

    let mut parked = frame(
        r#"{"jsonrpc":"2.0","id":6,"result":{"resultType":"input_required","requestState":"s"}}"#,
    );
    patch_result("resources/read", &mut parked, None);
    assert_eq!(
        text(&parked),
        r#"{"jsonrpc":"2.0","id":6,"result":{"resultType":"input_required","requestState":"s"}}"#
    );
}

#[test]
fn patch_result_never_overwrites_what_the_child_sent() {
    let info = json!({"name": "proxy-view", "version": "9"});
    let complete = r#"{"jsonrpc":"2.0","id":7,"result":{"contents":[],"cacheScope":"public","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"child","version":"1"}},"ttlMs":5000,"resultType":"complete"}}"#;
    let mut read = frame(complete);
    patch_result("resources/read", &mut read, Some(&info));
    assert_eq!(text(&read), complete);

    let mut partial = frame(
        r#"{"jsonrpc":"2.0","id":8,"result":{"prompts":[],"_meta":{"com.example/x":1},"ttlMs":60000}}"#,
    );
    patch_result("prompts/list", &mut partial, Some(&info));
    assert_eq!(
        text(&partial),
        r#"{"jsonrpc":"2.0","id":8,"result":{"prompts":[],"_meta":{"com.example/x":1,"io.modelcontextprotocol/serverInfo":{"name":"proxy-view","version":"9"}},"ttlMs":60000,"resultType":"complete","cacheScope":"private"}}"#
    );

    let mut odd_meta = frame(r#"{"jsonrpc":"2.0","id":9,"result":{"_meta":null}}"#);
    patch_result("completion/complete", &mut odd_meta, Some(&info));
    assert_eq!(
        text(&odd_meta),
        r#"{"jsonrpc":"2.0","id":9,"result":{"_meta":null,"resultType":"complete"}}"#
    );

    let error = r#"{"jsonrpc":"2.0","id":10,"error":{"code":-32603,"message":"m"}}"#;
    let mut not_a_result = frame(error);
    patch_result("tools/list", &mut not_a_result, Some(&info));
    assert_eq!(text(&not_a_result), error);
}

#[test]
fn patch_error_maps_codes_and_statuses() {
    let table: [(i64, i64, StatusCode); 12] = [
        (-32002, -32602, StatusCode::BAD_REQUEST),
        (-32601, -32601, StatusCode::NOT_FOUND),
        (-32602, -32602, StatusCode::BAD_REQUEST),
        (-32700, -32700, StatusCode::BAD_REQUEST),
        (-32600, -32600, StatusCode::BAD_REQUEST),
        (-32020, -32020, StatusCode::BAD_REQUEST),
        (-32021, -32021, StatusCode::BAD_REQUEST),
        (-32022, -32022, StatusCode::BAD_REQUEST),
        (-32603, -32603, StatusCode::OK),
        (-32000, -32000, StatusCode::OK),
        (-32042, -32042, StatusCode::OK),
        (1, 1, StatusCode::OK),
    ];
    for (child_code, client_code, status) in table {
        let mut error = frame(&format!(
            r#"{{"jsonrpc":"2.0","id":"a","error":{{"code":{child_code},"message":"m","data":{{"uri":"file:///x","n":1.0e3}}}}}}"#
        ));
        assert_eq!(patch_error(&mut error), status, "code {child_code}");
        // An untouched frame is forwarded as its bytes; a rewritten one is serialized from
        // `serde_json`'s tree, which writes an exponent's sign.
        let n = if child_code == client_code {
            "1.0e3"
        } else {
            "1.0e+3"
        };
        assert_eq!(
            text(&error),
            format!(
                r#"{{"jsonrpc":"2.0","id":"a","error":{{"code":{client_code},"message":"m","data":{{"uri":"file:///x","n":{n}}}}}}}"#
            ),
            "code {child_code}"
        );
    }
}

#[test]
fn patch_error_leaves_non_errors_and_odd_codes_alone() {
    let response = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
    let mut result = frame(response);
    assert_eq!(patch_error(&mut result), StatusCode::OK);
    assert_eq!(text(&result), response);

    let float_code = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32002.0,"message":"m"}}"#;
    let mut error = frame(float_code);
    assert_eq!(patch_error(&mut error), StatusCode::OK);
    assert_eq!(text(&error), float_code);
}
