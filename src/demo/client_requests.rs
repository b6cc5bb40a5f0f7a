//! Requests the demo server sends to the client (`sampling/createMessage`,
//! `elicitation/create`, `roots/list`, `ping`): id allocation (`"demo-1"`,
//! `"demo-2"`, …) and the table of tool calls waiting for the client's answer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use tokio::sync::oneshot;

use super::error::RpcError;
use super::lock;
use super::wire::{self, Outbox};

/// What the client answered: its `result`, or its `error` kept verbatim.
pub type ClientOutcome = Result<Value, RpcError>;

pub struct ClientRequests {
    next_number: AtomicU64,
    waiting: Mutex<HashMap<String, oneshot::Sender<ClientOutcome>>>,
}

impl Default for ClientRequests {
    fn default() -> Self {
        Self {
            next_number: AtomicU64::new(1),
            waiting: Mutex::default(),
        }
    }
}

/// Removes a waiting entry when its caller stops waiting, whether because the
/// answer came or because the caller's task was cancelled.
struct ForgetOnDrop<'a> {
    waiting: &'a Mutex<HashMap<String, oneshot::Sender<ClientOutcome>>>,
    id: &'a str,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        lock(self.waiting).remove(self.id);
    }
}

impl ClientRequests {
    /// Sends `method` to the client and waits for the matching response.
    pub async fn call(
        &self,
        outbox: &Outbox,
        method: &str,
        params: Option<Value>,
    ) -> ClientOutcome {
        let id = format!("demo-{}", self.next_number.fetch_add(1, Ordering::Relaxed));
        let (answer, answered) = oneshot::channel();
        lock(&self.waiting).insert(id.clone(), answer);
        let _forget = ForgetOnDrop {
            waiting: &self.waiting,
            id: &id,
        };
        outbox.send(&wire::request(&id, method, params)).await;
        answered.await.unwrap_or_else(|_| {
            Err(RpcError::internal(
                "demo server stopped waiting for the client",
            ))
        })
    }

    /// Hands a client response to the call waiting for it. Returns `false` for
    /// ids nobody is waiting for (those responses are ignored).
    pub fn resolve(&self, id: &Value, outcome: ClientOutcome) -> bool {
        let Some(id) = id.as_str() else {
            return false;
        };
        let Some(answer) = lock(&self.waiting).remove(id) else {
            return false;
        };
        // The waiting task may have been cancelled a moment ago.
        let _ = answer.send(outcome);
        true
    }

    /// The client cancelled one of our requests: its caller fails with -32800.
    pub fn cancel(&self, id: &Value) -> bool {
        self.resolve(id, Err(RpcError::request_cancelled()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::REQUEST_CANCELLED;
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use tokio::io::AsyncBufReadExt;

    /// Starts a call and returns the request line the client would receive.
    async fn start_call(
        requests: &Arc<ClientRequests>,
        method: &'static str,
    ) -> (Value, tokio::task::JoinHandle<ClientOutcome>) {
        let (server_side, test_side) = tokio::io::duplex(4096);
        let (outbox, _writer) = wire::spawn_writer(server_side);
        let call = tokio::spawn({
            let requests = Arc::clone(requests);
            async move { requests.call(&outbox, method, None).await }
        });
        let mut line = String::new();
        tokio::io::BufReader::new(test_side)
            .read_line(&mut line)
            .await
            .expect("reads");
        (serde_json::from_str(&line).expect("json"), call)
    }

    #[tokio::test]
    async fn responses_complete_calls_and_ids_count_up() {
        let requests = Arc::new(ClientRequests::default());
        let (first, first_call) = start_call(&requests, "ping").await;
        assert_eq!(
            first,
            json!({"jsonrpc":"2.0","method":"ping","id":"demo-1"})
        );
        let (second, second_call) = start_call(&requests, "roots/list").await;
        assert_eq!(second["id"], json!("demo-2"));

        assert!(
            !requests.resolve(&json!("demo-9"), Ok(json!(1))),
            "unknown id"
        );
        assert!(!requests.resolve(&json!(1), Ok(json!(1))), "numeric id");
        assert!(requests.resolve(&json!("demo-2"), Err(RpcError::new(-5, "no"))));
        assert!(requests.resolve(&json!("demo-1"), Ok(json!({}))));
        assert_eq!(first_call.await.expect("joins"), Ok(json!({})));
        assert_eq!(
            second_call.await.expect("joins"),
            Err(RpcError::new(-5, "no"))
        );
        assert!(lock(&requests.waiting).is_empty());
    }

    #[tokio::test]
    async fn client_cancellation_fails_the_call() {
        let requests = Arc::new(ClientRequests::default());
        let (request, call) = start_call(&requests, "ping").await;
        assert!(requests.cancel(&request["id"]));
        let error = call.await.expect("joins").expect_err("cancelled");
        assert_eq!(error.code, REQUEST_CANCELLED);
        assert_eq!(error.message, "request cancelled");
    }

    #[tokio::test]
    async fn abandoned_calls_are_forgotten() {
        let requests = Arc::new(ClientRequests::default());
        let (_request, call) = start_call(&requests, "ping").await;
        call.abort();
        let _ = call.await;
        assert!(lock(&requests.waiting).is_empty());
    }
}
