//! `subscriptions/listen` on a modern-pinned process (2026-07-28), as a dual-era SDK server on
//! stdio serves it: the demo acknowledges the filter (all of it: it can change every list and
//! every resource), keeps the request open until the client cancels it, and `notify` sends each
//! open listen the change notifications it opted in to, tagged with the listen's id under
//! `_meta["io.modelcontextprotocol/subscriptionId"]` (every listen shares stdout, so the tag is
//! how the client tells them apart). A legacy process has no listens: `notify` sends plain
//! change notifications there.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::error::RpcError;
use super::lock;
use super::request::{Reply, RequestContext};
use super::state::ServerState;
use super::wire;

/// The `_meta` key naming the listen a message belongs to.
pub const SUBSCRIPTION_ID_KEY: &str = "io.modelcontextprotocol/subscriptionId";

/// Filter flags and the notification each one opts in to.
const LIST_FLAGS: [(&str, &str); 3] = [
    ("toolsListChanged", "notifications/tools/list_changed"),
    (
        "resourcesListChanged",
        "notifications/resources/list_changed",
    ),
    ("promptsListChanged", "notifications/prompts/list_changed"),
];

/// The listens open now.
#[derive(Default)]
pub struct Listens(Mutex<Registry>);

#[derive(Default)]
struct Registry {
    next: u64,
    /// The honoured filter of each open listen, by its id (in opening order).
    open: BTreeMap<u64, (Value, Value)>,
}

/// An open listen's place in the registry; it leaves when dropped (the request was cancelled).
pub struct OpenListen<'a> {
    listens: &'a Listens,
    key: u64,
}

impl Drop for OpenListen<'_> {
    fn drop(&mut self) {
        lock(&self.listens.0).open.remove(&self.key);
    }
}

impl Listens {
    fn open(&self, id: Value, honoured: Value) -> OpenListen<'_> {
        let mut registry = lock(&self.0);
        registry.next += 1;
        let key = registry.next;
        registry.open.insert(key, (id, honoured));
        OpenListen { listens: self, key }
    }

    /// What `notify` sends: for each open listen, the notifications its filter opts in to.
    pub fn changes(&self) -> Vec<Value> {
        let registry = lock(&self.0);
        let mut messages = Vec::new();
        for (id, honoured) in registry.open.values() {
            let meta = json!({ SUBSCRIPTION_ID_KEY: id });
            for (flag, method) in LIST_FLAGS {
                if honoured.get(flag) == Some(&Value::Bool(true)) {
                    let params = json!({ "_meta": meta });
                    messages.push(wire::notification(method, Some(params)));
                }
            }
            let uris = honoured
                .get("resourceSubscriptions")
                .and_then(Value::as_array);
            for uri in uris.into_iter().flatten() {
                let params = json!({ "uri": uri, "_meta": meta });
                messages.push(wire::notification(
                    "notifications/resources/updated",
                    Some(params),
                ));
            }
        }
        messages
    }
}

/// Serves one listen: the acknowledgement, then nothing until the request is cancelled (the
/// serve loop drops this future then; a listen is never answered).
pub async fn listen(state: &ServerState, request: &RequestContext) -> Result<Reply, RpcError> {
    let honoured = honoured(request.params_or_null().get("notifications"));
    let params = json!({
        "notifications": honoured,
        "_meta": { SUBSCRIPTION_ID_KEY: request.id },
    });
    state
        .notify("notifications/subscriptions/acknowledged", Some(params))
        .await;
    let _open = state.listens.open(request.id.clone(), honoured);
    std::future::pending().await
}

/// The filter the demo honours: every `true` flag and a non-empty list of string uris.
fn honoured(requested: Option<&Value>) -> Value {
    let mut honoured = Map::new();
    for (flag, _) in LIST_FLAGS {
        if requested.and_then(|asked| asked.get(flag)) == Some(&Value::Bool(true)) {
            honoured.insert(flag.into(), Value::Bool(true));
        }
    }
    let uris: Vec<Value> = requested
        .and_then(|asked| asked.get("resourceSubscriptions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|uri| uri.is_string())
        .cloned()
        .collect();
    if !uris.is_empty() {
        honoured.insert("resourceSubscriptions".into(), Value::Array(uris));
    }
    Value::Object(honoured)
}
