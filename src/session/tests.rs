//! `SessionSupervisor` driven through its mailbox with a scripted fake child, under paused
//! tokio time: the races of a real deployment (a server that answers and exits at once, one
//! that exits while the proxy's write to it blocks, a client gone during `initialize`, a
//! request arriving during teardown, a server reusing a request id) as deterministic tests.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{SessionArgs, SessionSupervisor};
use crate::budget::{GlobalBudgets, SessionBudgets};
use crate::child::Launcher;
use crate::child::fake::{FakeLauncher, FakeServer};
use crate::frame::Frame;
use crate::index::SessionIndex;
use crate::mailbox::MailboxBound;
use crate::metrics::ProxyMetrics;
use crate::process::ExitReport;
use crate::protocol::{CloseReason, RouterMsg, SessionMsg};
use crate::session_id::SessionId;
use crate::session_stats::SessionStats;
use crate::stream::{Priming, StreamReceiver, StreamSender};

/// Longest a step may take in (paused, so instantly advanced) time: a hang fails the test.
const STEP: Duration = Duration::from_secs(60);
/// As the HTTP side sizes a stream's channel.
const STREAM_CAPACITY: usize = 1024;

/// Stands in for the router: records what sessions tell it.
struct RecordingRouter;

impl Actor for RecordingRouter {
    type Msg = RouterMsg;
    type State = mpsc::UnboundedSender<CloseReason>;
    type Arguments = mpsc::UnboundedSender<CloseReason>;

    async fn pre_start(
        &self,
        _myself: ActorRef<RouterMsg>,
        closing: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(closing)
    }

    async fn handle(
        &self,
        _myself: ActorRef<RouterMsg>,
        message: RouterMsg,
        closing: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let RouterMsg::Closing { reason, .. } = message {
            let _ = closing.send(reason);
        }
        Ok(())
    }
}

struct Harness {
    session: ActorRef<SessionMsg>,
    children: mpsc::UnboundedReceiver<FakeServer>,
    closing: mpsc::UnboundedReceiver<CloseReason>,
    stats: Arc<SessionStats>,
    inbox: MailboxBound,
    budgets: SessionBudgets,
    next_stream: u64,
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn frame(value: Value) -> Frame {
    Frame::parse(&serde_json::to_vec(&value).unwrap()).unwrap()
}

async fn next_event(rx: &mut StreamReceiver) -> Option<Value> {
    let event = within("a stream event", rx.recv()).await?;
    Some(serde_json::from_slice(&event.payload).unwrap())
}

/// The session configuration of a proxy started with no flags.
fn default_config() -> Arc<crate::config::SessionConfig> {
    crate::config::Cli::try_parse_from(["hyper-mcp-proxy"])
        .unwrap()
        .into_config()
        .unwrap()
        .session
}

impl Harness {
    /// A session whose `initialize` reached its fake child, which has not answered yet.
    async fn start() -> (Harness, StreamReceiver, FakeServer) {
        let config = default_config();
        let global = GlobalBudgets::new(config.global_buffer_bytes);
        let budgets = global.session(config.session_buffer_bytes);
        let (closing_tx, closing) = mpsc::unbounded_channel();
        let (router, _) = Actor::spawn(None, RecordingRouter, closing_tx)
            .await
            .unwrap();
        let (launcher, children) = FakeLauncher::new();
        let stats = Arc::new(SessionStats::default());
        let inbox = MailboxBound::new(config.mailbox_capacity);
        let (stream, init_rx) = StreamSender::open(1, STREAM_CAPACITY, Priming::None);
        let initialize = frame(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}));
        let args = SessionArgs {
            kind: crate::protocol::SessionKind::Client,
            id: SessionId::mint().unwrap(),
            config,
            inbox: inbox.clone(),
            stats: stats.clone(),
            metrics: Arc::new(ProxyMetrics::new(Arc::new(SessionIndex::default()), global)),
            router,
            budgets: budgets.clone(),
            launcher: Launcher::Fake(launcher),
            initialize: Some((initialize, stream)),
        };
        let (session, _) = Actor::spawn(None, SessionSupervisor, args).await.unwrap();
        let mut harness = Harness {
            session,
            children,
            closing,
            stats,
            inbox,
            budgets,
            next_stream: 2,
        };
        let mut server = harness.child().await;
        let init = within("the initialize", server.read()).await;
        assert_eq!(init["method"], "initialize");
        assert_eq!(init["id"], 1);
        (harness, init_rx, server)
    }

    /// A session that is ready: the fake answered `initialize` and the client got it.
    async fn ready() -> (Harness, FakeServer) {
        let (harness, mut init_rx, mut server) = Harness::start().await;
        server.write(INIT_ANSWER).await;
        let answer = next_event(&mut init_rx).await.unwrap();
        assert_eq!(answer["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(answer["id"], 0);
        (harness, server)
    }

    async fn child(&mut self) -> FakeServer {
        within("a child launch", self.children.recv())
            .await
            .unwrap()
    }

    /// Sends a client request as the HTTP side does; returns its answer stream.
    fn request(&mut self, message: Value) -> StreamReceiver {
        let body = serde_json::to_vec(&message).unwrap();
        let (stream, rx) = StreamSender::open(self.next_stream, STREAM_CAPACITY, Priming::None);
        self.next_stream += 1;
        let _ = self.session.cast(SessionMsg::Request {
            frame: frame(message),
            stream,
            permit: self.inbox.try_reserve().unwrap(),
            charge: self.budgets.to_child.try_charge(body.len()).unwrap(),
        });
        rx
    }

    /// Sends a client notification or answer.
    fn send(&self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        let _ = self.session.cast(SessionMsg::ClientMessage {
            frame: frame(message),
            permit: self.inbox.try_reserve().unwrap(),
            charge: self.budgets.to_child.try_charge(body.len()).unwrap(),
        });
    }

    /// Opens the GET stream.
    fn listen(&mut self) -> StreamReceiver {
        let (stream, rx) = StreamSender::open(self.next_stream, STREAM_CAPACITY, Priming::None);
        let _ = self.session.cast(SessionMsg::AttachGetStream {
            stream,
            resume: None,
        });
        self.next_stream += 1;
        rx
    }
}

const INIT_ANSWER: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1"}}}"#;

fn call(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "echo", "arguments": {}}})
}

#[tokio::test(start_paused = true)]
async fn an_answer_written_just_before_exit_is_delivered() {
    let (mut harness, mut server) = Harness::ready().await;
    let mut rx = harness.request(call(7));
    let forwarded = within("the call", server.read()).await;
    assert_eq!(forwarded["id"], 2);
    for n in 0..100 {
        let log = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": n}});
        server.write(&log.to_string()).await;
    }
    server
        .write(r#"{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"last words"}]}}"#)
        .await;
    server.exit(ExitReport::Code(0));
    let mut logs = 0;
    let answer = loop {
        let event = next_event(&mut rx).await.expect("the answer");
        if event["method"] == "notifications/message" {
            logs += 1;
            continue;
        }
        break event;
    };
    assert_eq!(logs, 100);
    assert_eq!(
        answer,
        json!({"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": "last words"}]}})
    );
    // The crash then restarts the child, with the handshake replayed.
    let mut next = harness.child().await;
    assert_eq!(
        within("the replay", next.read()).await["method"],
        "initialize"
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_that_exits_while_a_write_blocks_fails_the_request() {
    let (mut harness, mut server) = Harness::ready().await;
    // Far more than the fake's 4 KiB pipe: the writer blocks on a child that does not read.
    let big = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"pad": "x".repeat(256 * 1024)}}});
    let mut rx = harness.request(big);
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.exit(ExitReport::Code(1));
    let answer = next_event(&mut rx).await.expect("an error, not a hang");
    assert_eq!(answer["id"], 8);
    assert_eq!(answer["error"]["code"], -32000);
    assert_eq!(
        answer["error"]["message"],
        "MCP server process exited (exit code 1)"
    );
    assert_eq!(
        answer["error"]["data"],
        json!({"exit": {"code": 1}, "generation": 1})
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_gone_during_initialize_ends_the_session_and_stops_the_child() {
    let (mut harness, init_rx, server) = Harness::start().await;
    drop(init_rx);
    let _ = harness.session.cast(SessionMsg::InitializeAbandoned);
    let reason = within("the closing notice", harness.closing.recv()).await;
    assert_eq!(reason, Some(CloseReason::Abandoned));
    assert!(harness.stats.is_closing());
    within("the session's stop", async {
        while harness.session.get_status() != ractor::ActorStatus::Stopped {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(server.was_stopped());
}

#[tokio::test(start_paused = true)]
async fn an_initialize_answer_nobody_receives_ends_the_session() {
    let (mut harness, init_rx, mut server) = Harness::start().await;
    drop(init_rx);
    server.write(INIT_ANSWER).await;
    let reason = within("the closing notice", harness.closing.recv()).await;
    assert_eq!(reason, Some(CloseReason::Abandoned));
}

#[tokio::test(start_paused = true)]
async fn a_request_during_teardown_gets_no_answer_and_server_traffic_does_not_keep_it_alive() {
    let (mut harness, mut server) = Harness::ready().await;
    // The server keeps talking; the client says nothing for the idle timeout (30 min).
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let log = json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "tick"}});
        server.write(&log.to_string()).await;
        if harness.stats.is_closing() {
            break;
        }
    }
    let reason = within("the closing notice", harness.closing.recv()).await;
    assert_eq!(reason, Some(CloseReason::Idle));
    assert!(harness.stats.is_closing());
    let mut rx = harness.request(call(9));
    assert_eq!(
        next_event(&mut rx).await,
        None,
        "the HTTP side answers 404 then"
    );
}

#[tokio::test(start_paused = true)]
async fn a_child_reusing_a_request_id_keeps_the_newer_mapping() {
    let (mut harness, mut server) = Harness::ready().await;
    let mut get = harness.listen();
    tokio::task::yield_now().await;
    let roots = r#"{"jsonrpc":"2.0","id":"x","method":"roots/list"}"#;
    server.write(roots).await;
    let first = next_event(&mut get).await.unwrap();
    harness.send(json!({"jsonrpc": "2.0", "id": first["id"], "result": {"roots": []}}));
    let answered = within("the answer", server.read()).await;
    assert_eq!(answered["id"], "x");
    server.write(roots).await;
    let second = next_event(&mut get).await.unwrap();
    assert_ne!(first["id"], second["id"]);
    server
        .write(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"x"}}"#)
        .await;
    let cancelled = next_event(&mut get).await.unwrap();
    assert_eq!(cancelled["method"], "notifications/cancelled");
    assert_eq!(cancelled["params"]["requestId"], second["id"]);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_server_request_expires_both_ways() {
    let (mut harness, mut server) = Harness::ready().await;
    let mut get = harness.listen();
    tokio::task::yield_now().await;
    server
        .write(r#"{"jsonrpc":"2.0","id":5,"method":"elicitation/create","params":{}}"#)
        .await;
    let asked = next_event(&mut get).await.unwrap();
    assert_eq!(asked["method"], "elicitation/create");
    // Ten minutes pass (instantly: time is paused) with the client silent.
    let refusal = tokio::time::timeout(super::SERVER_REQUEST_TTL + STEP, server.read())
        .await
        .expect("the child's error after the deadline");
    assert_eq!(refusal["id"], 5);
    assert_eq!(refusal["error"]["code"], -32000);
    let cancelled = next_event(&mut get).await.unwrap();
    assert_eq!(cancelled["method"], "notifications/cancelled");
    assert_eq!(cancelled["params"]["requestId"], asked["id"]);
}

/// ractor keeps one future per actor for its whole message loop, sized for the largest
/// handler future (twice over). The rare work that waits (a child's spawn) is boxed, so the
/// handler's future stays about the size of its message, and so does what an idle session
/// holds (unboxed, it was 2.5 KiB, and the loop 5.4 KiB).
#[tokio::test(start_paused = true)]
async fn the_handler_future_every_session_keeps_stays_about_its_message() {
    let (harness, _server) = Harness::ready().await;
    let config = default_config();
    let global = GlobalBudgets::new(config.global_buffer_bytes);
    let (closing_tx, _closing) = mpsc::unbounded_channel();
    let (router, _) = Actor::spawn(None, RecordingRouter, closing_tx)
        .await
        .unwrap();
    let args = SessionArgs {
        kind: crate::protocol::SessionKind::Client,
        id: SessionId::mint().unwrap(),
        inbox: MailboxBound::new(config.mailbox_capacity),
        stats: Arc::new(SessionStats::default()),
        metrics: Arc::new(ProxyMetrics::new(
            Arc::new(SessionIndex::default()),
            global.clone(),
        )),
        router,
        budgets: global.session(config.session_buffer_bytes),
        launcher: Launcher::Fake(FakeLauncher::new().0),
        initialize: None,
        config,
    };
    let myself = harness.session.clone();
    let mut state = SessionSupervisor
        .pre_start(myself.clone(), args)
        .await
        .unwrap();
    let handling = SessionSupervisor.handle(myself, SessionMsg::Drain, &mut state);
    let size = std::mem::size_of_val(&handling);
    assert!(
        size <= 2 * std::mem::size_of::<SessionMsg>(),
        "{size} bytes"
    );
}
