//! A raw HTTP/1.1 client (keep-alive, Content-Length bodies) and test helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use cove_runtime_api::{FunctionInfo, Invocation, RuntimeApi};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Every test gives up after this long instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Runs `fut`, failing the test if it does not finish within [`LIMIT`].
pub async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .expect("the test step did not finish in time")
}

pub fn info() -> FunctionInfo {
    FunctionInfo {
        function_name: "echo".to_owned(),
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:echo".to_owned(),
        version: "$LATEST".to_owned(),
    }
}

/// An endpoint on a fresh loopback port.
pub fn serve() -> RuntimeApi {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    RuntimeApi::serve(listener, info()).unwrap()
}

pub fn invocation(id: &str, payload: &str) -> Invocation {
    Invocation {
        request_id: id.to_owned(),
        payload: Bytes::from(payload.to_owned()),
        deadline_ms: 1_700_000_003_000,
        invoked_function_arn: String::new(),
        trace_id: None,
        client_context: None,
        cognito_identity: None,
    }
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Header names exactly as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body {:?} is not JSON: {e}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// One keep-alive connection to the endpoint.
pub struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream: BufReader::new(stream),
        }
    }

    pub fn from_stream(stream: TcpStream) -> Client {
        Client {
            stream: BufReader::new(stream),
        }
    }

    /// Asks for the next invocation; `None` if the connection closes instead.
    pub async fn try_next(&mut self) -> Option<Reply> {
        let request = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n";
        self.stream.get_mut().write_all(request).await.ok()?;
        self.read_reply().await
    }

    /// Writes raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
    }

    /// Sends one request.
    pub async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: runtime\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
    }

    /// Reads one response; `None` if the server closed the connection first.
    pub async fn read_reply(&mut self) -> Option<Reply> {
        let mut line = String::new();
        if self.stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.ok()?;
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            let (name, value) = trimmed.split_once(':').expect("a header line");
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.ok()?;
        Some(Reply {
            status,
            headers,
            body,
        })
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        self.send(method, path, headers, body).await;
        self.read_reply().await.expect("a reply")
    }

    pub async fn next(&mut self) -> Reply {
        self.request("GET", "/2018-06-01/runtime/invocation/next", &[], b"")
            .await
    }

    pub async fn respond(&mut self, id: &str, body: &[u8]) -> Reply {
        self.request(
            "POST",
            &format!("/2018-06-01/runtime/invocation/{id}/response"),
            &[],
            body,
        )
        .await
    }

    pub async fn error(&mut self, id: &str, error_type: &str, body: &[u8]) -> Reply {
        let headers = [("Lambda-Runtime-Function-Error-Type", error_type)];
        self.request(
            "POST",
            &format!("/2018-06-01/runtime/invocation/{id}/error"),
            &headers,
            body,
        )
        .await
    }

    pub async fn init_error(&mut self, error_type: &str, body: &[u8]) -> Reply {
        let headers = [("Lambda-Runtime-Function-Error-Type", error_type)];
        self.request("POST", "/2018-06-01/runtime/init/error", &headers, body)
            .await
    }

    /// Whether the server closed the connection (reads EOF or a reset).
    pub async fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte).await, Ok(0) | Err(_))
    }
}
