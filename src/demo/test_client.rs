//! Test-only MCP client that drives a whole in-process demo server over
//! in-memory pipes, reading back exactly the lines the server writes.

use std::io;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::task::JoinHandle;

use super::{DemoOptions, serve};

const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Client {
    to_server: Option<DuplexStream>,
    from_server: BufReader<DuplexStream>,
    server: JoinHandle<io::Result<()>>,
}

impl Client {
    pub fn start(options: DemoOptions) -> Self {
        let (to_server, server_input) = tokio::io::duplex(1 << 20);
        let (server_output, from_server) = tokio::io::duplex(1 << 20);
        let server =
            tokio::spawn(async move { serve(&options, server_input, server_output).await });
        Self {
            to_server: Some(to_server),
            from_server: BufReader::new(from_server),
            server,
        }
    }

    pub async fn send_line(&mut self, line: &str) {
        let to_server = self.to_server.as_mut().expect("stdin still open");
        to_server.write_all(line.as_bytes()).await.expect("write");
        to_server.write_all(b"\n").await.expect("write");
    }

    pub async fn send(&mut self, message: Value) {
        self.send_line(&message.to_string()).await;
    }

    pub async fn request(&mut self, id: i64, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
    }

    /// Sends a 2026-07-28 request: `params` (an object) with the envelope added to its `_meta`,
    /// declaring `capabilities`.
    pub async fn modern_request(
        &mut self,
        id: i64,
        method: &str,
        params: Value,
        capabilities: Value,
    ) {
        self.request(id, method, enveloped(params, capabilities))
            .await;
    }

    pub async fn call_tool(&mut self, id: i64, name: &str, arguments: Value) {
        self.request(
            id,
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await;
    }

    pub async fn next_line(&mut self) -> String {
        let mut line = String::new();
        tokio::time::timeout(REPLY_TIMEOUT, self.from_server.read_line(&mut line))
            .await
            .expect("server answered in time")
            .expect("read");
        assert!(
            line.ends_with('\n'),
            "every line ends with a newline: {line:?}"
        );
        line.trim_end().to_owned()
    }

    pub async fn next(&mut self) -> Value {
        let line = self.next_line().await;
        serde_json::from_str(&line).expect("server wrote JSON")
    }

    /// Closes stdin and waits for the server to return; returns what it wrote after.
    pub async fn finish(mut self) -> Vec<String> {
        self.to_server = None;
        let result = tokio::time::timeout(REPLY_TIMEOUT, &mut self.server)
            .await
            .expect("server stopped in time")
            .expect("server task joined");
        result.expect("serve returned Ok");
        let mut rest = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut self.from_server, &mut rest)
            .await
            .expect("read");
        rest.lines().map(str::to_owned).collect()
    }
}

/// `params` with the 2026-07-28 envelope declaring `capabilities` added to its `_meta`.
pub fn enveloped(mut params: Value, capabilities: Value) -> Value {
    let meta = params
        .as_object_mut()
        .expect("params object")
        .entry("_meta")
        .or_insert_with(|| json!({}));
    meta["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
    meta["io.modelcontextprotocol/clientCapabilities"] = capabilities;
    meta["io.modelcontextprotocol/clientInfo"] = json!({"name": "demo-test", "version": "0"});
    params
}

pub fn text_result(id: i64, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"content": [{"type": "text", "text": text}]}})
}

pub fn error_reply(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The `_meta` of every modern result: the demo's `serverInfo`.
pub fn server_info_meta() -> Value {
    json!({ "io.modelcontextprotocol/serverInfo": { "name": "hyper-mcp-proxy-demo", "version": env!("CARGO_PKG_VERSION") } })
}

/// A complete modern tool result with one text item.
pub fn modern_text_result(id: i64, text: &str) -> Value {
    let mut reply = text_result(id, text);
    reply["result"]["resultType"] = json!("complete");
    reply["result"]["_meta"] = server_info_meta();
    reply
}

pub fn error_with_data(id: i64, code: i64, message: &str, data: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message, "data": data } })
}

/// The demo's `requestState` for this JSON text.
pub fn state_token(state: &str) -> String {
    crate::base64url::encode(state.as_bytes())
}
