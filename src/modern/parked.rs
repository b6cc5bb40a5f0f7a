//! `ParkedCalls`: translated calls waiting for the client's answers. When a legacy child asks
//! its client something mid-call, the modern caller is answered with an `InputRequiredResult`
//! and the call — its leased child, its place in the session, the child's open questions — is
//! parked here under a number that the sealed `requestState` carries. The client's retry takes
//! it back (once: a second retry with the same state finds nothing), answers the questions and
//! waits for the rest of the call.
//!
//! A parked call nobody comes back for expires after `--modern-input-ttl`: the child's
//! questions are answered as a user who went away would (elicitation `cancel`, an error
//! otherwise), the child's request is cancelled, and its child is released.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::call::ModernCall;
use super::request_state::{Binding, StateKind, StateSealer, unix_ms_now};
use super::server_asks::Ask;
use crate::frame::Frame;

/// Calls parked at once, at most: each holds a child, so the pool bounds them too; this
/// bounds the table against anything else.
const MAX_PARKED: usize = 4096;

/// Translated calls waiting for their client's retry.
pub struct ParkedCalls {
    calls: Mutex<HashMap<u64, Parked>>,
    next: AtomicU64,
    sealer: Arc<StateSealer>,
    ttl: Duration,
}

struct Parked {
    call: ModernCall,
    /// The child's questions not answered yet.
    asks: Vec<Ask>,
    /// Ends the parking at the deadline; aborted when the call is taken back. (It holds the
    /// table only weakly, so a table dropped at shutdown is not kept alive by its timers.)
    expiry: tokio::task::JoinHandle<()>,
}

/// A parked call taken back by its retry.
pub struct Resumed {
    pub call: ModernCall,
    pub asks: Vec<Ask>,
}

impl ParkedCalls {
    pub fn new(sealer: Arc<StateSealer>, ttl: Duration) -> Arc<ParkedCalls> {
        Arc::new(ParkedCalls {
            calls: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            sealer,
            ttl,
        })
    }

    pub fn sealer(&self) -> &Arc<StateSealer> {
        &self.sealer
    }

    /// How long a sealed state is good for.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Parks `call` on `asks` and returns the `InputRequiredResult` that answers the caller;
    /// `None` if too many calls are parked (the call is then dropped, which cancels it).
    pub fn park(
        self: &Arc<Self>,
        call: ModernCall,
        asks: Vec<Ask>,
        binding: &Binding,
    ) -> Option<Bytes> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let expires =
            unix_ms_now().saturating_add(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        let token = self
            .sealer
            .seal(&StateKind::Parked { parked: number }, binding, expires);
        let answer = input_required(call.client_id().clone(), &asks, token);
        let mut calls = self.calls();
        if calls.len() >= MAX_PARKED {
            tracing::warn!(
                limit = MAX_PARKED,
                "too many modern calls wait for their clients' answers; refusing to park another"
            );
            return None;
        }
        let parked = Arc::downgrade(self);
        let ttl = self.ttl;
        let expiry = tokio::spawn(async move {
            tokio::time::sleep(ttl).await;
            if let Some(calls) = parked.upgrade() {
                calls.expire(number);
            }
        });
        calls.insert(number, Parked { call, asks, expiry });
        Some(answer)
    }

    /// Takes parked call `number` back for its retry (only once).
    pub fn resume(&self, number: u64) -> Option<Resumed> {
        let Parked { call, asks, expiry } = self.calls().remove(&number)?;
        expiry.abort();
        Some(Resumed { call, asks })
    }

    /// Shutdown: every parked call is given up at once, as if its TTL had passed, so the
    /// drain does not wait `--shutdown-timeout` for clients that may never come back.
    pub fn expire_all(&self) {
        let numbers: Vec<u64> = self.calls().keys().copied().collect();
        for number in numbers {
            self.expire(number);
        }
    }

    fn expire(&self, number: u64) {
        let Some(Parked { call, asks, .. }) = self.calls().remove(&number) else {
            return;
        };
        tracing::info!(
            questions = asks.len(),
            "a modern client did not come back with its answers within --modern-input-ttl; the server's questions are answered as cancelled and its request is cancelled"
        );
        call.abandon(&asks);
        // Dropping the call cancels the child's request and releases the child.
        drop(call);
    }

    fn calls(&self) -> MutexGuard<'_, HashMap<u64, Parked>> {
        // Every critical section only inserts or removes: a poisoned map is still consistent.
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `InputRequiredResult` answer to the caller's request `id`.
pub fn input_required(id: Value, asks: &[Ask], token: String) -> Bytes {
    let mut requests = Map::new();
    for ask in asks {
        requests.insert(ask.key.clone(), ask.request_value());
    }
    Frame::response(
        id,
        json!({
            "resultType": "input_required",
            "inputRequests": requests,
            "requestState": token,
        }),
    )
    .to_bytes()
}
