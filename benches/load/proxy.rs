//! The proxy under test as a process: starting it on 127.0.0.1:0, keeping the tail of its
//! log, listing its live children, and stopping it (SIGTERM, then SIGKILL) on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::Uri;

use crate::procfs::{processes, proxy_pid_below};

/// The proxy under test.
pub const PROXY_BIN: &str = env!("CARGO_BIN_EXE_hyper-mcp-proxy");

/// What the scenarios run against: the proxy, or the floor server (`--against=floor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    Proxy,
    Floor,
}

/// Set once from the command line; the proxy when unset.
pub static AGAINST: std::sync::OnceLock<Against> = std::sync::OnceLock::new();

/// `proxy` or `floor`, for the scenario lines.
pub fn against_name() -> &'static str {
    match AGAINST.get().copied().unwrap_or(Against::Proxy) {
        Against::Proxy => "proxy",
        Against::Floor => "floor",
    }
}

/// The program (and its leading arguments) started as "the proxy".
fn target_command() -> Vec<String> {
    match AGAINST.get().copied().unwrap_or(Against::Proxy) {
        Against::Proxy => vec![PROXY_BIN.to_string()],
        Against::Floor => {
            let me = std::env::current_exe().expect("path of the bench executable");
            vec![
                me.display().to_string(),
                crate::floor_server::FLOOR_ARG.to_string(),
            ]
        }
    }
}

/// A running proxy process.
pub struct Proxy {
    child: Child,
    pub pid: u32,
    pub url: Uri,
    /// Last lines of its log, and how many WARN/ERROR lines it wrote.
    log: Arc<Mutex<ProxyLog>>,
}

#[derive(Default)]
pub struct ProxyLog {
    tail: std::collections::VecDeque<String>,
    problems: usize,
    /// The first WARN/ERROR lines (the tail may hold none of them).
    first_problems: Vec<String>,
}

impl Proxy {
    /// Starts the proxy on 127.0.0.1:0 with `backend` after `--`; waits for its address.
    pub fn start(backend: &[String]) -> Result<Proxy, String> {
        Proxy::start_with(&[], backend)
    }

    /// Like [`Proxy::start`], with extra proxy flags (`flags`) before `--`.
    pub fn start_with(flags: &[&str], backend: &[String]) -> Result<Proxy, String> {
        // For profiling: HYPER_MCP_BENCH_WRAP="valgrind --tool=callgrind" runs the proxy
        // under that command (CPU figures then describe the wrapped process).
        let wrap: Vec<String> = std::env::var("HYPER_MCP_BENCH_WRAP")
            .map(|wrap| wrap.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        let target = target_command();
        let mut command = match wrap.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).args(&target);
                command
            }
            None => {
                let mut command = Command::new(&target[0]);
                command.args(&target[1..]);
                command
            }
        };
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", "0"])
            .args(flags)
            .arg("--")
            .args(backend)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start {PROXY_BIN}: {err}"))?;
        let pid = child.id();
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let log = Arc::new(Mutex::new(ProxyLog::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(sender) = tx.take()
                {
                    let _ = sender.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                let mut log = sink.lock().unwrap();
                if line.contains(" WARN ") || line.contains(" ERROR ") {
                    log.problems += 1;
                    if log.first_problems.len() < 5 {
                        log.first_problems.push(line.clone());
                    }
                }
                if log.tail.len() == 40 {
                    log.tail.pop_front();
                }
                log.tail.push_back(line);
            }
        });
        let mut proxy = Proxy {
            child,
            pid,
            url: Uri::from_static("http://127.0.0.1/"),
            log,
        };
        let address = rx.recv_timeout(Duration::from_secs(20)).map_err(|_| {
            format!(
                "the proxy did not log its address; log: {}",
                proxy.log_tail()
            )
        })?;
        proxy.url = format!("http://{address}")
            .parse()
            .map_err(|err| format!("bad address {address:?}: {err}"))?;
        if !wrap.is_empty() {
            // A wrapper may run the proxy as its child: measure the proxy itself.
            proxy.pid = proxy_pid_below(proxy.pid, &target[0]);
        }
        eprintln!("proxy pid {} at {}", proxy.pid, proxy.url);
        Ok(proxy)
    }

    pub fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log.tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Prints (to stderr) the proxy's warnings and errors, if it logged any.
    pub fn report_log_problems(&self, scenario: &str) {
        let log = self.log.lock().unwrap();
        if log.problems > 0 {
            eprintln!(
                "{scenario}: the proxy logged {} WARN/ERROR lines; the first ones:\n{}\nlast lines:\n{}",
                log.problems,
                log.first_problems.join("\n"),
                log.tail.iter().cloned().collect::<Vec<_>>().join("\n")
            );
        }
    }

    /// The proxy's `/metrics` address (served on the main listener by default).
    pub fn metrics_url(&self) -> Uri {
        let authority = self.url.authority().map_or("127.0.0.1", |a| a.as_str());
        format!("http://{authority}/metrics")
            .parse()
            .unwrap_or_else(|_| Uri::from_static("http://127.0.0.1/metrics"))
    }

    /// Every child process of the proxy, zombies included: (pid, state).
    pub fn all_children(&self) -> Vec<(u32, char)> {
        processes()
            .into_iter()
            .filter(|p| p.ppid == self.pid)
            .map(|p| (p.pid, p.state))
            .collect()
    }

    /// Live (non-zombie) child processes of the proxy.
    pub fn children(&self) -> Vec<u32> {
        processes()
            .into_iter()
            .filter(|p| p.ppid == self.pid && p.state != 'Z')
            .map(|p| p.pid)
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child process this bench started and has not reaped.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded) until the proxy has at most `target` children; returns how many are left.
pub async fn wait_for_children(proxy: &Proxy, target: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let left = proxy.children().len();
        if left <= target || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
