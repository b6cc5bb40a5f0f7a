//! Raw HTTP/1.1 on a TCP socket, for requests no HTTP client sends: headers followed by a body
//! that stalls, or a `Host` of the test's choosing. Every read is bounded by [`WAIT`].

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::proxy::WAIT;

/// A response head as read off the socket.
#[derive(Debug)]
pub struct RawHead {
    /// The status code.
    pub status: u16,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// How long after the request was sent the head arrived.
    pub elapsed: Duration,
}

impl RawHead {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One TCP connection to the proxy.
pub struct RawConn {
    stream: TcpStream,
    buffer: Vec<u8>,
    sent_at: Instant,
}

impl RawConn {
    /// Connects to `addr` (`127.0.0.1:port`).
    pub async fn connect(addr: &str) -> RawConn {
        RawConn {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buffer: Vec::new(),
            sent_at: Instant::now(),
        }
    }

    /// Writes `head` (request line and headers; the blank line is added) and then `body`, and
    /// starts the clock the answer is timed by.
    pub async fn send(&mut self, head: &str, body: &[u8]) {
        let mut bytes = head.trim_end().replace('\n', "\r\n").into_bytes();
        bytes.extend_from_slice(b"\r\n\r\n");
        bytes.extend_from_slice(body);
        self.sent_at = Instant::now();
        self.stream.write_all(&bytes).await.expect("write request");
        self.stream.flush().await.expect("flush");
    }

    /// Reads the response head.
    pub async fn read_head(&mut self) -> RawHead {
        let end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            self.fill().await;
        };
        let elapsed = self.sent_at.elapsed();
        let head: Vec<u8> = self.buffer.drain(..end + 4).collect();
        let head = String::from_utf8_lossy(&head).to_string();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
            .collect();
        RawHead {
            status,
            headers,
            elapsed,
        }
    }

    /// Reads the body of a response with a `Content-Length`.
    pub async fn read_body(&mut self, head: &RawHead) -> String {
        let length: usize = head
            .header("content-length")
            .expect("content-length")
            .parse()
            .expect("numeric content-length");
        while self.buffer.len() < length {
            self.fill().await;
        }
        let body: Vec<u8> = self.buffer.drain(..length).collect();
        String::from_utf8(body).expect("UTF-8 body")
    }

    /// Whether the proxy closes the connection (bounded wait): reads until end of stream.
    pub async fn closed_by_peer(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout(WAIT, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("timed out waiting for the proxy's answer")
            .expect("read");
        assert!(read > 0, "the proxy closed the connection before answering");
        self.buffer.extend_from_slice(&chunk[..read]);
    }
}
