//! `HandshakeRecord`: what the client declared to the server, kept so a restarted child can be
//! brought to the same point: the raw `initialize` params, `notifications/initialized`, the
//! last accepted `logging/setLevel`, and one `resources/subscribe` per active subscription.
//!
//! A declaration counts once the server accepted it: it is noted when forwarded (by proxy id)
//! and committed when the server's successful answer comes back.

use std::collections::HashMap;

use rmcp::model::ProtocolVersion;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::frame::{Frame, FrameKind};

/// The client's declarations, in the form they are replayed.
#[derive(Debug, Default)]
pub struct HandshakeRecord {
    /// `params` of the client's `initialize`, verbatim, as compact JSON text: kept for the
    /// session's whole life and read only on a restart, where a tree would cost about ten
    /// times the bytes (`preserve_order` maps).
    initialize_params: Option<Box<RawValue>>,
    /// The protocol version the first child negotiated; a restarted child must agree.
    protocol_version: Option<Box<str>>,
    /// `params` of the last `logging/setLevel`, as compact JSON text (like the `initialize`
    /// params: read only on a restart).
    log_level: Option<Box<RawValue>>,
    /// `params` of each active `resources/subscribe`, by uri, in subscription order.
    subscriptions: Vec<(String, Value)>,
    /// Declarations forwarded and not answered yet, by proxy id.
    pending: HashMap<u64, Declaration>,
}

/// A state-changing request the client sent.
#[derive(Debug, Clone, PartialEq)]
enum Declaration {
    /// `logging/setLevel` with these params.
    LogLevel(Value),
    /// `resources/subscribe` of this uri with these params.
    Subscribe(String, Value),
    /// `resources/unsubscribe` of this uri.
    Unsubscribe(String),
}

impl HandshakeRecord {
    /// Remembers the client's `initialize` params, verbatim.
    pub fn observe_initialize(&mut self, frame: &Frame) {
        self.initialize_params = frame.params().and_then(raw);
    }

    /// Notes a client request forwarded under `proxy_id`, if it declares something.
    pub fn observe_forwarded(&mut self, proxy_id: u64, frame: &Frame) {
        if frame.kind() != FrameKind::Request {
            return;
        }
        let declaration = match frame.method() {
            Some("logging/setLevel") => frame.params().cloned().map(Declaration::LogLevel),
            Some("resources/subscribe") => {
                uri_of(frame).map(|(uri, params)| Declaration::Subscribe(uri, params))
            }
            Some("resources/unsubscribe") => {
                uri_of(frame).map(|(uri, _)| Declaration::Unsubscribe(uri))
            }
            _ => None,
        };
        if let Some(declaration) = declaration {
            self.pending.insert(proxy_id, declaration);
        }
    }

    /// The server answered `proxy_id`: a successful answer the client received commits its
    /// declaration (`accepted` is false for an error, or an answer nobody received).
    pub fn observe_answer(&mut self, proxy_id: u64, accepted: bool) {
        let Some(declaration) = self.pending.remove(&proxy_id) else {
            return;
        };
        self.release_pending();
        if !accepted {
            return;
        }
        match declaration {
            Declaration::LogLevel(params) => self.log_level = raw(&params),
            Declaration::Subscribe(uri, params) => {
                self.subscriptions.retain(|(known, _)| *known != uri);
                self.subscriptions.push((uri, params));
            }
            Declaration::Unsubscribe(uri) => {
                self.subscriptions.retain(|(known, _)| *known != uri);
            }
        }
    }

    /// Forgets the declaration of a request that ended without a delivered answer (cancelled,
    /// timed out, failed): the client was told it did not happen, so it is never replayed.
    pub fn forget(&mut self, proxy_id: u64) {
        self.pending.remove(&proxy_id);
        self.release_pending();
    }

    /// Forgets declarations that will never be answered (their child died).
    pub fn forget_pending(&mut self) {
        self.pending = HashMap::new();
    }

    /// An emptied `HashMap` keeps its buckets; an idle session holds none.
    fn release_pending(&mut self) {
        if self.pending.is_empty() {
            self.pending = HashMap::new();
        }
    }

    /// Remembers the protocol version of the first successful `initialize`.
    pub fn observe_initialize_result(&mut self, result: Option<&Value>) {
        if self.protocol_version.is_none() {
            self.protocol_version = negotiated_version(result).map(String::into_boxed_str);
        }
    }

    /// The version negotiated at session start.
    pub fn protocol_version(&self) -> Option<&str> {
        self.protocol_version.as_deref()
    }

    /// The replayed `initialize` request, under proxy id `id`.
    pub fn initialize(&self, id: u64) -> Frame {
        let params = self.initialize_params.as_deref().and_then(tree);
        Frame::request(Value::from(id), "initialize", params)
    }

    /// What follows a successful replayed `initialize`, in order; requests get ids from
    /// `next_id`.
    pub fn after_initialize(&self, mut next_id: impl FnMut() -> u64) -> Vec<Frame> {
        let mut frames = vec![Frame::notification("notifications/initialized", None)];
        if let Some(params) = self.log_level.as_deref().and_then(tree) {
            frames.push(Frame::request(
                Value::from(next_id()),
                "logging/setLevel",
                Some(params),
            ));
        }
        for (_, params) in &self.subscriptions {
            frames.push(Frame::request(
                Value::from(next_id()),
                "resources/subscribe",
                Some(params.clone()),
            ));
        }
        frames
    }
}

/// `result.protocolVersion` of an initialize answer, read through rmcp's typed view (the frame
/// itself is never re-serialized from it).
pub fn negotiated_version(result: Option<&Value>) -> Option<String> {
    let version = result?.get("protocolVersion")?;
    ProtocolVersion::deserialize(version)
        .ok()
        .map(|version| version.to_string())
}

/// `params` as compact JSON text. Serializing a `Value` cannot fail: its map keys are strings.
fn raw(params: &Value) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(params).ok()
}

/// Text [`raw`] wrote, as a tree again: `arbitrary_precision` and `preserve_order` make the
/// round trip exact (number spellings, key order).
fn tree(raw: &RawValue) -> Option<Value> {
    serde_json::from_str(raw.get()).ok()
}

fn uri_of(frame: &Frame) -> Option<(String, Value)> {
    let params = frame.params()?;
    let uri = params.get("uri")?.as_str()?.to_string();
    Some((uri, params.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> Frame {
        Frame::parse(text.as_bytes()).unwrap()
    }

    /// Forwards `text` under `id` and lets the server answer it (`accepted` or refused).
    fn declare(record: &mut HandshakeRecord, id: u64, text: &str, accepted: bool) {
        record.observe_forwarded(id, &client(text));
        record.observe_answer(id, accepted);
    }

    #[test]
    fn replays_initialize_verbatim_then_level_and_subscriptions() {
        let mut record = HandshakeRecord::default();
        record.observe_initialize(&client(
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"x":1.50},"clientInfo":{"name":"c","version":"1"}}}"#,
        ));
        record
            .observe_initialize_result(Some(&serde_json::json!({"protocolVersion": "2025-06-18"})));
        let level = |name: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{{"level":"{name}"}}}}"#
            )
        };
        declare(&mut record, 1, &level("debug"), true);
        declare(&mut record, 2, &level("error"), true);
        declare(&mut record, 3, &level("verbose"), false);
        for (id, uri) in [(4, "a://1"), (5, "a://2"), (6, "a://3")] {
            let text = format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{{"uri":"{uri}"}}}}"#
            );
            declare(&mut record, id, &text, true);
        }
        declare(
            &mut record,
            7,
            r#"{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"a://refused"}}"#,
            false,
        );
        declare(
            &mut record,
            8,
            r#"{"jsonrpc":"2.0","id":4,"method":"resources/unsubscribe","params":{"uri":"a://2"}}"#,
            true,
        );
        record.observe_forwarded(
            9,
            &client(r#"{"jsonrpc":"2.0","id":5,"method":"logging/setLevel","params":{"level":"debug"}}"#),
        );
        record.forget_pending();
        record.observe_answer(9, true);
        assert_eq!(record.protocol_version(), Some("2025-06-18"));
        assert_eq!(
            record.initialize(41).to_bytes(),
            &br#"{"jsonrpc":"2.0","id":41,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"x":1.50},"clientInfo":{"name":"c","version":"1"}}}"#[..]
        );
        let mut ids = 41..;
        let replay: Vec<String> = record
            .after_initialize(|| ids.next().unwrap() + 1)
            .iter()
            .map(|f| String::from_utf8(f.to_bytes().to_vec()).unwrap())
            .collect();
        assert_eq!(
            replay,
            vec![
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                r#"{"jsonrpc":"2.0","id":42,"method":"logging/setLevel","params":{"level":"error"}}"#,
                r#"{"jsonrpc":"2.0","id":43,"method":"resources/subscribe","params":{"uri":"a://1"}}"#,
                r#"{"jsonrpc":"2.0","id":44,"method":"resources/subscribe","params":{"uri":"a://3"}}"#,
            ]
        );
    }

    #[test]
    fn a_declaration_the_client_did_not_get_is_never_replayed() {
        let mut record = HandshakeRecord::default();
        let subscribe =
            r#"{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"a://1"}}"#;
        // Cancelled, timed out or failed: forgotten, so a late success commits nothing.
        record.observe_forwarded(5, &client(subscribe));
        record.forget(5);
        record.observe_answer(5, true);
        // Answered with success, but the answer reached no client: not accepted either.
        record.observe_forwarded(6, &client(subscribe));
        record.observe_answer(6, false);
        assert_eq!(
            record.after_initialize(|| 9).len(),
            1,
            "only notifications/initialized"
        );
        assert!(record.pending.is_empty());
    }

    #[test]
    fn settled_declarations_give_back_their_memory() {
        let mut record = HandshakeRecord::default();
        let level =
            r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"debug"}}"#;
        record.observe_forwarded(1, &client(level));
        record.observe_forwarded(2, &client(level));
        record.observe_answer(1, true);
        assert!(record.pending.capacity() > 0, "one is still pending");
        record.forget(2);
        assert_eq!(record.pending.capacity(), 0);
        record.observe_forwarded(3, &client(level));
        record.forget_pending();
        assert_eq!(record.pending.capacity(), 0);
        let replay = record.after_initialize(|| 7);
        assert_eq!(
            replay[1].to_bytes(),
            &br#"{"jsonrpc":"2.0","id":7,"method":"logging/setLevel","params":{"level":"debug"}}"#
                [..]
        );
    }

    #[test]
    fn replayed_initialize_keeps_order_and_number_spellings_or_has_no_params() {
        let mut record = HandshakeRecord::default();
        record.observe_initialize(&client(
            r#"{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"z":[1e400,-0.0,12345678901234567890123],"a":{"y":null,"b":"\u00e9"}}}"#,
        ));
        assert_eq!(
            std::str::from_utf8(&record.initialize(7).to_bytes()).unwrap(),
            // What the replay sent when the params were kept as a tree, which spells `1e400` `1e+400`.
            r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"z":[1e+400,-0.0,12345678901234567890123],"a":{"y":null,"b":"é"}}}"#
        );
        record.observe_initialize(&client(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#));
        assert_eq!(
            record.initialize(8).to_bytes(),
            &br#"{"jsonrpc":"2.0","id":8,"method":"initialize"}"#[..]
        );
    }
}
