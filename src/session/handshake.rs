//! `HandshakeRecord`: what the client declared to the server, kept so a restarted child can be
//! brought to the same point: the raw `initialize` params, `notifications/initialized`, the
//! last `logging/setLevel`, and one `resources/subscribe` per active subscription.

use serde_json::Value;

use crate::frame::{Frame, FrameKind};

/// The client's declarations, in the form they are replayed.
#[derive(Debug, Default)]
pub struct HandshakeRecord {
    /// `params` of the client's `initialize`, verbatim.
    initialize_params: Option<Value>,
    /// The protocol version the first child negotiated; a restarted child must agree.
    protocol_version: Option<String>,
    /// `params` of the last `logging/setLevel`.
    log_level: Option<Value>,
    /// `params` of each active `resources/subscribe`, by uri, in subscription order.
    subscriptions: Vec<(String, Value)>,
}

impl HandshakeRecord {
    /// Remembers what a client message declares (called for every client message).
    pub fn observe_client(&mut self, frame: &Frame) {
        if frame.kind() != FrameKind::Request {
            return;
        }
        match frame.method() {
            Some("initialize") => self.initialize_params = frame.params().cloned(),
            Some("logging/setLevel") => self.log_level = frame.params().cloned(),
            Some("resources/subscribe") => {
                if let Some((uri, params)) = uri_of(frame) {
                    self.subscriptions.retain(|(known, _)| *known != uri);
                    self.subscriptions.push((uri, params));
                }
            }
            Some("resources/unsubscribe") => {
                if let Some((uri, _)) = uri_of(frame) {
                    self.subscriptions.retain(|(known, _)| *known != uri);
                }
            }
            _ => {}
        }
    }

    /// Remembers the protocol version of the first successful `initialize`.
    pub fn observe_initialize_result(&mut self, result: Option<&Value>) {
        if self.protocol_version.is_none() {
            self.protocol_version = negotiated_version(result);
        }
    }

    /// The version negotiated at session start.
    pub fn protocol_version(&self) -> Option<&str> {
        self.protocol_version.as_deref()
    }

    /// The replayed `initialize` request, under proxy id `id`.
    pub fn initialize(&self, id: u64) -> Frame {
        Frame::request(
            Value::from(id),
            "initialize",
            self.initialize_params.clone(),
        )
    }

    /// What follows a successful replayed `initialize`, in order; requests get ids from
    /// `next_id`.
    pub fn after_initialize(&self, mut next_id: impl FnMut() -> u64) -> Vec<Frame> {
        let mut frames = vec![Frame::notification("notifications/initialized", None)];
        if let Some(params) = &self.log_level {
            frames.push(Frame::request(
                Value::from(next_id()),
                "logging/setLevel",
                Some(params.clone()),
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

/// `result.protocolVersion` of an initialize answer.
pub fn negotiated_version(result: Option<&Value>) -> Option<String> {
    result?.get("protocolVersion")?.as_str().map(str::to_string)
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

    #[test]
    fn replays_initialize_verbatim_then_level_and_subscriptions() {
        let mut record = HandshakeRecord::default();
        record.observe_client(&client(
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"x":1.50},"clientInfo":{"name":"c","version":"1"}}}"#,
        ));
        record
            .observe_initialize_result(Some(&serde_json::json!({"protocolVersion": "2025-06-18"})));
        record.observe_client(&client(
            r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"debug"}}"#,
        ));
        record.observe_client(&client(
            r#"{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"error"}}"#,
        ));
        for uri in ["a://1", "a://2", "a://3"] {
            record.observe_client(&client(&format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{{"uri":"{uri}"}}}}"#
            )));
        }
        record.observe_client(&client(
            r#"{"jsonrpc":"2.0","id":4,"method":"resources/unsubscribe","params":{"uri":"a://2"}}"#,
        ));
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
}
