//! State shared by every request task of one demo server: the outbox, the era the first
//! request pinned, what the client declared at `initialize`, the log level, resource
//! subscriptions (and, modern, listens), the record of received messages, and the registries of requests in flight in
//! both directions.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::client_requests::ClientRequests;
use super::era::EraPin;
use super::in_flight::InFlightRequests;
use super::listens::Listens;
use super::lock;
use super::logging::LogLevel;
use super::request::RequestContext;
use super::wire::{self, Outbox};

pub struct ServerState {
    pub outbox: Outbox,
    pub client_requests: ClientRequests,
    pub in_flight: InFlightRequests,
    pub era: EraPin,
    /// Open `subscriptions/listen` requests (modern era).
    pub listens: Listens,
    /// `--protocol-version`: answer every `initialize` with this.
    pub forced_protocol_version: Option<String>,
    minimum_log_level: Mutex<LogLevel>,
    subscriptions: Mutex<BTreeSet<String>>,
    /// Every JSON line read from stdin, as text (cheaper to keep than `Value`s).
    received_lines: Mutex<Vec<Box<str>>>,
    /// `false` with `--no-record`: nothing is kept in `received_lines`.
    record: bool,
    client_capabilities: Mutex<Value>,
}

impl ServerState {
    pub fn new(outbox: Outbox, forced_protocol_version: Option<String>) -> Self {
        Self {
            outbox,
            client_requests: ClientRequests::default(),
            in_flight: InFlightRequests::default(),
            era: EraPin::default(),
            listens: Listens::default(),
            forced_protocol_version,
            minimum_log_level: Mutex::new(LogLevel::DEFAULT_MINIMUM),
            subscriptions: Mutex::default(),
            received_lines: Mutex::default(),
            record: true,
            client_capabilities: Mutex::new(json!({})),
        }
    }

    /// `--no-record`: received lines are not kept (`received` then lists nothing).
    pub fn without_recording(mut self) -> Self {
        self.record = false;
        self
    }

    /// Records one received line that parsed as JSON; returns its index.
    pub fn record_received(&self, json_line: &[u8]) -> usize {
        if !self.record {
            return usize::MAX;
        }
        let mut lines = lock(&self.received_lines);
        lines.push(String::from_utf8_lossy(json_line).into());
        lines.len() - 1
    }

    /// Every received JSON message except the one at `excluded_index`.
    pub fn received_except(&self, excluded_index: usize) -> Vec<Value> {
        let lines = lock(&self.received_lines);
        lines
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != excluded_index)
            // Every recorded line parsed as JSON once, so it parses again.
            .filter_map(|(_, line)| serde_json::from_str(line).ok())
            .collect()
    }

    pub fn remember_client_capabilities(&self, capabilities: Value) {
        *lock(&self.client_capabilities) = capabilities;
    }

    /// Whether the client declared `capability` (e.g. `"sampling"`) at initialize.
    pub fn client_declared(&self, capability: &str) -> bool {
        lock(&self.client_capabilities).get(capability).is_some()
    }

    pub fn set_minimum_log_level(&self, level: LogLevel) {
        *lock(&self.minimum_log_level) = level;
    }

    pub fn subscribe(&self, uri: &str) {
        lock(&self.subscriptions).insert(uri.to_owned());
    }

    pub fn unsubscribe(&self, uri: &str) {
        lock(&self.subscriptions).remove(uri);
    }

    /// Subscribed URIs in sorted order.
    pub fn subscriptions(&self) -> Vec<String> {
        lock(&self.subscriptions).iter().cloned().collect()
    }

    pub async fn notify(&self, method: &str, params: Option<Value>) {
        self.outbox.send(&wire::notification(method, params)).await;
    }

    /// Sends `notifications/message` from logger `demo` while handling `request`, unless the
    /// client filters `level` out: on a legacy process with `logging/setLevel`, on a modern one
    /// with the request's own `logLevel` (none means no logs). Returns whether it was sent.
    pub async fn log(&self, request: &RequestContext, level: LogLevel, data: Value) -> bool {
        let minimum = match &request.envelope {
            None => Some(*lock(&self.minimum_log_level)),
            Some(envelope) => envelope.log_level,
        };
        if !minimum.is_some_and(|minimum| level.passes(minimum)) {
            return false;
        }
        let params = json!({ "level": level.as_str(), "logger": "demo", "data": data });
        self.notify("notifications/message", Some(params)).await;
        true
    }
}
