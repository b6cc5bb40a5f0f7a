//! The proxy under test: the real binary started as a child process of the test on a free
//! loopback port (the address read from its log), its stderr collected as the log, signalled,
//! and stopped (SIGTERM, then SIGKILL) when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::Client;

/// Path of the binary under test (also the demo server, as `hyper-mcp-proxy demo-server`).
pub const BIN: &str = env!("CARGO_BIN_EXE_hyper-mcp-proxy");

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running proxy process.
pub struct Proxy {
    /// The OS process.
    pub child: Child,
    /// `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// Everything the proxy has logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Proxy {
    /// Starts the proxy with `args` (before `--`) and, if given, a backend command after `--`.
    pub fn start(args: &[&str], backend: &[&str]) -> Proxy {
        let mut command = Command::new(BIN);
        command.args(["-p", "0"]).args(args);
        if !backend.is_empty() {
            command.arg("--").args(backend);
        }
        command
            .env("RUST_LOG", "info,hyper_mcp_proxy=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start hyper-mcp-proxy");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(sender) = tx.take()
                {
                    // Ends at whitespace (text logs) or a quote (`--log-format json`).
                    let addr = rest
                        .split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    let _ = sender.send(addr);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let url_tail = rx
            .recv_timeout(WAIT)
            .expect("proxy did not log its address");
        let (addr, path) = url_tail.split_at(url_tail.find('/').expect("endpoint in log line"));
        Proxy {
            url: format!("http://{addr}{path}"),
            addr: addr.to_string(),
            child,
            log,
        }
    }

    /// The proxy with the built-in demo server as backend.
    pub fn demo() -> Proxy {
        Proxy::start(&[], &[])
    }

    /// The proxy's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client for this proxy.
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(WAIT)
                .build()
                .expect("http client"),
            url: self.url.clone(),
            session: None,
            protocol_version: None,
        }
    }

    /// Sends a signal to the proxy.
    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on a pid we own.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// Waits (bounded) for the proxy to exit and returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("proxy did not exit in time");
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (bounded) until a line of the log satisfies `matches`. The proxy writes its log
    /// from a thread of its own, so a line may arrive after the HTTP answer that followed it.
    pub async fn logged(&self, what: &str, matches: impl Fn(&str) -> bool) {
        let deadline = std::time::Instant::now() + WAIT;
        while !self.log().lines().any(&matches) {
            assert!(
                std::time::Instant::now() < deadline,
                "no log line {what}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGTERM);
            let deadline = std::time::Instant::now() + WAIT;
            while std::time::Instant::now() < deadline {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
