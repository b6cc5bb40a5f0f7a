//! A scripted child for unit tests: each launch hands the test the far ends of the child's
//! pipes and a switch for its exit, so a test plays the MCP server line by line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::{mpsc, watch};

use super::launcher::{ChildHandle, ChildIo};
use crate::process::ExitReport;

/// Pipe capacity of a fake child: small, so a test can fill it.
const PIPE_BYTES: usize = 4096;

/// Launches fake children and hands each to the test.
#[derive(Clone)]
pub struct FakeLauncher {
    children: mpsc::UnboundedSender<FakeServer>,
}

impl FakeLauncher {
    /// A launcher and the receiver of the children it launches.
    pub fn new() -> (FakeLauncher, mpsc::UnboundedReceiver<FakeServer>) {
        let (children, launched) = mpsc::unbounded_channel();
        (FakeLauncher { children }, launched)
    }

    pub(super) fn launch(&self) -> (ChildHandle, ChildIo) {
        let (stdin, server_stdin) = tokio::io::duplex(PIPE_BYTES);
        let (server_stdout, stdout) = tokio::io::duplex(PIPE_BYTES);
        let (server_stderr, stderr) = tokio::io::duplex(PIPE_BYTES);
        let (exit, exit_watch) = watch::channel(None);
        let stopped = Arc::new(AtomicBool::new(false));
        let _ = self.children.send(FakeServer {
            stdin: BufReader::new(server_stdin),
            stdout: Some(server_stdout),
            _stderr: server_stderr,
            exit: exit.clone(),
            stopped: stopped.clone(),
        });
        let process = FakeProcess {
            exit,
            exit_watch,
            stopped,
        };
        let io = ChildIo {
            stdin: Box::new(stdin),
            stdout: Box::new(stdout),
            stderr: Box::new(stderr),
        };
        (ChildHandle::Fake(process), io)
    }
}

/// The child as its actor sees it.
pub struct FakeProcess {
    exit: watch::Sender<Option<ExitReport>>,
    exit_watch: watch::Receiver<Option<ExitReport>>,
    stopped: Arc<AtomicBool>,
}

impl FakeProcess {
    pub(super) fn pid(&self) -> u32 {
        4242
    }

    pub(super) fn exit_watch(&self) -> watch::Receiver<Option<ExitReport>> {
        self.exit_watch.clone()
    }

    /// A stopped fake exits at once, as a well-behaved server does when stdin closes.
    pub(super) async fn stop(&mut self, _grace: Duration) -> ExitReport {
        self.stopped.store(true, Ordering::Relaxed);
        self.exit.send_if_modified(|exit| {
            exit.get_or_insert(ExitReport::Code(0));
            true
        });
        self.exit_watch
            .borrow()
            .as_ref()
            .copied()
            .unwrap_or(ExitReport::Unknown)
    }

    pub(super) fn kill(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        self.exit.send_if_modified(|exit| {
            exit.get_or_insert(ExitReport::Signal(9));
            true
        });
    }
}

/// The test's side of a fake child: it reads what the proxy wrote and writes the answers.
pub struct FakeServer {
    stdin: BufReader<DuplexStream>,
    stdout: Option<DuplexStream>,
    _stderr: DuplexStream,
    exit: watch::Sender<Option<ExitReport>>,
    stopped: Arc<AtomicBool>,
}

impl FakeServer {
    /// The next line the proxy wrote to the child's stdin, parsed.
    pub async fn read(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.stdin.read_line(&mut line).await.expect("fake stdin");
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line:?}"))
    }

    /// Writes one line to the child's stdout; like a real server's write, it fails quietly
    /// once the proxy stopped reading.
    pub async fn write(&mut self, line: &str) {
        let stdout = self.stdout.as_mut().expect("stdout still open");
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        let _ = stdout.write_all(&bytes).await;
    }

    /// Closes stdout and exits with `report`, in that order, as a real process does.
    pub fn exit(&mut self, report: ExitReport) {
        self.stdout = None;
        self.exit.send_replace(Some(report));
    }

    /// Whether the proxy stopped or killed this child.
    pub fn was_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}
