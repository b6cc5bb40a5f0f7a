//! The session's id tables: client requests in flight on the child (by proxy id) and
//! server→client requests waiting for the client's answer (by outbound id).
//!
//! The child only ever sees proxy ids and the client only ever sees its own ids back, which is
//! what makes restarts, cancellation and clients that reuse ids safe.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use tokio::time::Instant;

use crate::frame::{Frame, IdKey};
use crate::metrics::method_label;
use crate::stream::StreamSender;

/// A client request the child has not answered yet.
#[derive(Debug)]
pub struct ClientRequest {
    /// The id the client chose, restored verbatim on the answer.
    pub client_id: Value,
    /// Where the answer and related messages go; `None` once the client's stream detached.
    pub stream: Option<StreamSender>,
    /// `params._meta.progressToken`, if the client asked for progress.
    progress_token: Option<IdKey>,
    /// Key of `client_id`, to translate the client's cancellations.
    client_key: Option<IdKey>,
    /// When it was sent to the child, for `--request-timeout` and the duration histogram.
    pub started: Instant,
    /// Its `method` label index (see `metrics::METHODS`).
    pub method: usize,
}

/// Client requests in flight, keyed by the proxy id the child sees.
#[derive(Debug, Default)]
pub struct ClientRequests {
    /// Next proxy id; ids are never reused within a session, across restarts too.
    next_id: u64,
    /// Ordered, so "the newest request" is the last entry.
    requests: BTreeMap<u64, ClientRequest>,
    /// Client id → proxy id, for `notifications/cancelled` from the client, and progress
    /// token → proxy id, to put progress on the right stream. One table for both: the state
    /// of every session carries it.
    lookup: HashMap<(Lookup, IdKey), u64>,
}

/// What a [`ClientRequests::lookup`] key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Lookup {
    ClientId,
    ProgressToken,
}

impl ClientRequests {
    /// A fresh proxy id, also used for the proxy's own requests (handshake replay, ping).
    pub fn allocate_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Records `frame` (a client request) and rewrites its id to a fresh proxy id.
    pub fn begin(&mut self, frame: &mut Frame, stream: StreamSender) -> u64 {
        let proxy_id = self.allocate_id();
        let progress_token = frame.progress_token().and_then(IdKey::of);
        let method = method_label(frame.method());
        let client_id = frame
            .replace_id(Value::from(proxy_id))
            .unwrap_or(Value::Null);
        let client_key = IdKey::of(&client_id);
        if let Some(key) = &client_key {
            self.lookup
                .insert((Lookup::ClientId, key.clone()), proxy_id);
        }
        if let Some(token) = &progress_token {
            self.lookup
                .insert((Lookup::ProgressToken, token.clone()), proxy_id);
        }
        self.requests.insert(
            proxy_id,
            ClientRequest {
                client_id,
                stream: Some(stream),
                progress_token,
                client_key,
                started: Instant::now(),
                method,
            },
        );
        proxy_id
    }

    /// The `method` label index of a request in flight (`other` if unknown).
    pub fn method_of(&self, proxy_id: u64) -> usize {
        self.requests
            .get(&proxy_id)
            .map_or_else(|| method_label(None), |request| request.method)
    }

    /// Removes a request once it is answered, cancelled or failed.
    pub fn finish(&mut self, proxy_id: u64) -> Option<ClientRequest> {
        let mut request = self.requests.remove(&proxy_id)?;
        // Only this table reads the keys: they move into the lookups, uncloned.
        let keys = [
            request.client_key.take().map(|key| (Lookup::ClientId, key)),
            request
                .progress_token
                .take()
                .map(|token| (Lookup::ProgressToken, token)),
        ];
        for key in keys.into_iter().flatten() {
            // A newer request that reused the id or token owns the mapping now.
            if self.lookup.get(&key) == Some(&proxy_id) {
                self.lookup.remove(&key);
            }
        }
        if self.requests.is_empty() {
            self.release();
        }
        Some(request)
    }

    /// Every request, removed (the child died or the session ends).
    pub fn drain(&mut self) -> Vec<ClientRequest> {
        let requests = std::mem::take(&mut self.requests).into_values().collect();
        self.release();
        requests
    }

    /// Frees the tables' memory once nothing is in flight. Emptied, a `BTreeMap` keeps its
    /// root node (11 entries, about 3 KiB here) and a `HashMap` its buckets: an idle session
    /// would hold them for good. Both allocate again, lazily, with the next request.
    fn release(&mut self) {
        self.requests = BTreeMap::new();
        self.lookup = HashMap::new();
    }

    /// The proxy id of the in-flight request the client knows as `client_id`.
    pub fn proxy_id_of(&self, client_id: &Value) -> Option<u64> {
        let key = (Lookup::ClientId, IdKey::of(client_id)?);
        self.lookup.get(&key).copied()
    }

    /// The request that asked for progress under `token`.
    pub fn with_progress_token(&self, token: &Value) -> Option<u64> {
        let key = (Lookup::ProgressToken, IdKey::of(token)?);
        self.lookup.get(&key).copied()
    }

    /// The proxy id of the only request in flight, if exactly one is.
    pub fn sole(&self) -> Option<u64> {
        if self.requests.len() == 1 {
            self.requests.keys().next().copied()
        } else {
            None
        }
    }

    /// The newest request whose client stream is still attached.
    pub fn newest_attached(&self) -> Option<u64> {
        self.requests
            .iter()
            .rev()
            .find(|(_, request)| {
                request
                    .stream
                    .as_ref()
                    .is_some_and(StreamSender::is_attached)
            })
            .map(|(id, _)| *id)
    }

    pub fn get_mut(&mut self, proxy_id: u64) -> Option<&mut ClientRequest> {
        self.requests.get_mut(&proxy_id)
    }

    /// Proxy ids of the requests sent more than `age` ago, oldest first.
    pub fn older_than(&self, age: std::time::Duration) -> Vec<u64> {
        let now = Instant::now();
        self.requests
            .iter()
            .filter(|(_, request)| now.duration_since(request.started) >= age)
            .map(|(id, _)| *id)
            .collect()
    }

    pub fn stream_of(&mut self, proxy_id: u64) -> Option<&mut StreamSender> {
        self.requests.get_mut(&proxy_id)?.stream.as_mut()
    }

    /// The stream of a request in flight, by stream number (for resumption).
    pub fn stream_with_id(&mut self, stream_id: u64) -> Option<&mut StreamSender> {
        self.requests
            .values_mut()
            .filter_map(|request| request.stream.as_mut())
            .find(|stream| stream.id == stream_id)
    }

    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

/// A request the child sent to the client, waiting for the client's answer.
#[derive(Debug)]
pub struct ServerRequest {
    /// The id the child chose, restored on the client's answer.
    pub child_id: Value,
    /// Which child asked; answers for a replaced child are dropped.
    pub generation: u64,
    /// When it was sent to the client, for its deadline.
    since: Instant,
}

/// Server→client requests waiting for an answer, keyed by the outbound id the client sees.
#[derive(Debug, Default)]
pub struct ServerRequests {
    next_id: u64,
    requests: HashMap<u64, ServerRequest>,
    /// (generation, child id) → outbound id, for the child's own cancellations.
    by_child_id: HashMap<(u64, IdKey), u64>,
}

impl ServerRequests {
    /// Records `frame` (a child request) and rewrites its id to a fresh outbound id.
    pub fn begin(&mut self, frame: &mut Frame, generation: u64) -> u64 {
        self.next_id += 1;
        let outbound_id = self.next_id;
        let child_id = frame
            .replace_id(Value::from(outbound_id))
            .unwrap_or(Value::Null);
        if let Some(key) = IdKey::of(&child_id) {
            self.by_child_id.insert((generation, key), outbound_id);
        }
        self.requests.insert(
            outbound_id,
            ServerRequest {
                child_id,
                generation,
                since: Instant::now(),
            },
        );
        outbound_id
    }

    /// Removes the request the client answered (or that was cancelled) by outbound id.
    pub fn finish(&mut self, outbound_id: u64) -> Option<ServerRequest> {
        let request = self.requests.remove(&outbound_id)?;
        if let Some(key) = IdKey::of(&request.child_id) {
            let key = (request.generation, key);
            // A child that reused the id for a newer request owns the mapping now.
            if self.by_child_id.get(&key) == Some(&outbound_id) {
                self.by_child_id.remove(&key);
            }
        }
        if self.requests.is_empty() {
            // Emptied hash maps keep their buckets; an idle session holds none.
            self.requests = HashMap::new();
            self.by_child_id = HashMap::new();
        }
        Some(request)
    }

    /// Outbound ids of the requests waiting for longer than `age`.
    pub fn older_than(&self, age: std::time::Duration) -> Vec<u64> {
        let now = Instant::now();
        let mut ids: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, request)| now.duration_since(request.since) >= age)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The outbound id of a child request, by the child's id.
    pub fn outbound_id_of(&self, generation: u64, child_id: &Value) -> Option<u64> {
        self.by_child_id
            .get(&(generation, IdKey::of(child_id)?))
            .copied()
    }

    /// Removes and returns the outbound ids of every request of `generation`.
    pub fn drain_generation(&mut self, generation: u64) -> Vec<u64> {
        let ids: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, request)| request.generation == generation)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.finish(*id);
        }
        ids
    }

    /// Number of requests waiting for the client.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

/// Reads an outbound or proxy id back from a JSON-RPC id the proxy minted.
pub fn proxy_number(id: Option<&Value>) -> Option<u64> {
    id?.as_u64()
}

#[cfg(test)]
mod tests;
