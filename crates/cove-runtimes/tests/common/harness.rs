//! A minimal Lambda Runtime API for testing runtime clients (until cove-runtime-api
//! is wired in): `GET …/invocation/next` serves queued events in order, then holds
//! the request open like an idle environment; every `POST` is answered `202` and
//! recorded. HTTP/1.1 with keep-alive (and `Connection: close`), Content-Length or
//! chunked bodies. Plus a one-line HTTP server for the fixtures' `http` op.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the served invocations may run (their deadline is this far ahead).
pub const INVOCATION_WINDOW_MS: u64 = 30_000;

/// The function ARN the harness serves.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:fixture";

/// A request the runtime client sent (other than `next`).
#[derive(Debug, Clone)]
pub struct Posted {
    /// The request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Posted {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} posted a body that is not JSON ({e}): {}",
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One queued invocation.
#[derive(Debug, Clone)]
pub struct Served {
    /// Its request id.
    pub request_id: String,
    /// Its deadline (ms since the epoch).
    pub deadline_ms: u64,
}

struct Shared {
    queue: Mutex<VecDeque<String>>,
    served: Mutex<Vec<Served>>,
    posts: Mutex<Sender<Posted>>,
    stop: AtomicBool,
    counter: AtomicU64,
}

/// The test Runtime API, on 127.0.0.1 and an ephemeral port; stops on drop.
pub struct Harness {
    addr: SocketAddr,
    shared: Arc<Shared>,
    posts: Receiver<Posted>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Harness {
    /// Serves `events` (JSON texts) to `next`, in order.
    pub fn start(events: &[String]) -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test Runtime API");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = channel();
        let shared = Arc::new(Shared {
            queue: Mutex::new(events.iter().cloned().collect()),
            served: Mutex::new(Vec::new()),
            posts: Mutex::new(tx),
            stop: AtomicBool::new(false),
            counter: AtomicU64::new(0),
        });
        let s = Arc::clone(&shared);
        thread::spawn(move || accept_loop(&listener, &s));
        Harness {
            addr,
            shared,
            posts: rx,
        }
    }

    /// `host:port` for `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The next recorded POST, waiting up to `timeout`.
    pub fn next_post(&self, timeout: Duration) -> Option<Posted> {
        self.posts.recv_timeout(timeout).ok()
    }

    /// The invocations served so far.
    pub fn served(&self) -> Vec<Served> {
        self.shared
            .served
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let s = Arc::clone(shared);
                thread::spawn(move || {
                    let _ = serve_connection(stream, &s);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return,
        }
    }
}

/// One parsed HTTP request.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

fn serve_connection(stream: TcpStream, shared: &Arc<Shared>) -> io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        let close = req
            .headers
            .iter()
            .any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close"));
        let response = if req.method == "GET" && req.path.ends_with("/runtime/invocation/next") {
            let event = shared.queue.lock().ok().and_then(|mut q| q.pop_front());
            let Some(event) = event else {
                // Idle: hold `next` until the harness stops.
                while !shared.stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(20));
                }
                return Ok(());
            };
            let n = shared.counter.fetch_add(1, Ordering::SeqCst);
            let served = Served {
                request_id: format!("cvrt-req-{n}-{:x}", now_ms()),
                deadline_ms: now_ms() + INVOCATION_WINDOW_MS,
            };
            if let Ok(mut s) = shared.served.lock() {
                s.push(served.clone());
            }
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                 Lambda-Runtime-Aws-Request-Id: {}\r\nLambda-Runtime-Deadline-Ms: {}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: {FUNCTION_ARN}\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\
                 Content-Length: {}\r\n\r\n{event}",
                served.request_id,
                served.deadline_ms,
                event.len()
            )
        } else if req.method == "POST" {
            if let Ok(tx) = shared.posts.lock() {
                let _ = tx.send(Posted {
                    path: req.path,
                    headers: req.headers,
                    body: req.body,
                });
            }
            let body = r#"{"status":"OK"}"#;
            format!(
                "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
        };
        writer.write_all(response.as_bytes())?;
        writer.flush()?;
        if close {
            return Ok(());
        }
    }
    Ok(())
}

/// An HTTP server on 127.0.0.1 answering every GET with `200` and `body`; stops on drop.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    /// Starts serving `body`.
    pub fn start(body: &'static str) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the HTTP server");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        thread::spawn(move || {
                            let _ = answer(stream, body);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => return,
                }
            }
        });
        HttpServer { addr, stop }
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn answer(stream: TcpStream, body: &str) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    if read_request(&mut reader)?.is_some() {
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
    }
    Ok(())
}
