//! Raw TCP connections to the proxy, for what an HTTP client library cannot do: send half a
//! request and stall, stop reading a response, hold many connections; and how many
//! descriptors a process holds, read from /proc.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::proxy::WAIT;

/// Half a request line: what a stalled (or slowloris) client sends before going quiet.
pub const HALF_REQUEST_LINE: &[u8] = b"POST /mcp HT";

/// Connects to `addr` (`127.0.0.1:<port>`).
pub async fn connect(addr: &str) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// Connects with a small receive buffer, for a client that will stop reading.
pub async fn connect_small_window(addr: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect(addr.parse().expect("socket address"))
        .await
        .expect("connect")
}

/// Connects and sends half a request line, then nothing.
pub async fn stalled_head(addr: &str) -> TcpStream {
    let mut stream = connect(addr).await;
    stream.write_all(HALF_REQUEST_LINE).await.expect("write");
    stream
}

/// Reads (discarding) until the server closes the connection (EOF or reset), at most
/// `bound`; returns how long that took, or `None` if it was still open.
pub async fn closed_within(stream: &mut TcpStream, bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(bound, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    closed.ok().map(|()| start.elapsed())
}

/// Whether the server has closed the connection, without waiting for it.
pub async fn is_closed(stream: &mut TcpStream) -> bool {
    closed_within(stream, Duration::from_millis(50))
        .await
        .is_some()
}

/// Sends `request` (a whole HTTP/1.1 request) and reads the response head and as much body
/// as `Content-Length` says; returns the status and the raw text.
pub async fn exchange(stream: &mut TcpStream, request: &str) -> (u16, String) {
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(WAIT, async {
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "closed before a whole response: {:?}",
                String::from_utf8_lossy(&text)
            );
            text.extend_from_slice(&buf[..n]);
            let as_text = String::from_utf8_lossy(&text).to_string();
            if let Some((head, body)) = as_text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return as_text;
                }
            }
        }
    })
    .await
    .expect("a response in time");
    let status = read
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {read}"));
    (status, read)
}

/// Descriptors `pid` holds open.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// Raises this process's soft descriptor limit to its hard limit; returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with valid pointers.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return raised.rlim_cur;
        }
    }
    limit.rlim_cur
}
