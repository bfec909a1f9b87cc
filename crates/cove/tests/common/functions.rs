//! What the function tests share: the runtime clients, the test function, and
//! processes that end with the test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Deployment;

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test function of `runtime` (`crates/cove-runtimes/fixtures/<runtime>`).
pub fn fixture(runtime: &str) -> PathBuf {
    repo().join("crates/cove-runtimes/fixtures").join(runtime)
}

/// The runtime clients must be installed; under CI a missing install is a failure.
pub fn runtimes_ready() -> bool {
    let dir = cove_runtimes::fs::runtime_dir();
    let ok = dir.join("python/awslambdaric").is_dir() && dir.join("python/pg8000").is_dir();
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "runtime clients missing in {}: run scripts/install-runtimes.sh",
        dir.display()
    );
    ok
}

/// Deploys the Python test function as `name`.
pub fn deploy_python(d: &Deployment, name: &str, extra: &[&str]) {
    super::deploy(
        d,
        name,
        "python3.11",
        "handler.handler",
        &fixture("python"),
        extra,
    );
}

/// A process killed on drop.
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cove serve` for a deployment on a free loopback port, with `extra` arguments;
/// killed on drop. Returns it with the address it listens on.
pub fn serve(d: &Deployment, extra: &[&str]) -> (Background, std::net::SocketAddr) {
    let addr_file = d.state.path().join(&d.prefix).join("serve.addr");
    let _ = std::fs::remove_file(&addr_file);
    let child = Command::new(assert_cmd::cargo::cargo_bin("cove"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env("COVE_PREFIX", &d.prefix)
        .env("COVE_STATE_DIR", d.state.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("cove serve");
    let child = Background(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(addr) = std::fs::read_to_string(&addr_file)
            .ok()
            .and_then(|a| a.trim().parse().ok())
        {
            return (child, addr);
        }
        assert!(Instant::now() < deadline, "cove serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The addresses function `name`'s environments send from, one per slot: its
/// shared ENIs' private addresses (`cove fn list --json`).
pub fn slot_ips(d: &Deployment, name: &str) -> Vec<String> {
    listed(d, name, "slot_ips")
}

/// The namespaces of function `name`'s execution environments (`cove fn list --json`).
#[allow(dead_code)]
pub fn slot_namespaces(d: &Deployment, name: &str) -> Vec<String> {
    listed(d, name, "slots")
}

fn listed(d: &Deployment, name: &str, field: &str) -> Vec<String> {
    let out = d
        .cove()
        .args(["fn", "list", "--json"])
        .output()
        .expect("list");
    let fns: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    fns.as_array()
        .expect("array")
        .iter()
        .find(|f| f["name"] == name)
        .expect("function listed")[field]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[allow(dead_code)]
/// One HTTP/1.1 request → (status, headers, body).
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    http_with(addr, method, path, "", body)
}

#[allow(dead_code)]
/// [`http`] with extra header lines (each ending in `\r\n`).
pub fn http_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("write");
    s.write_all(body).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head, raw[split + 4..].to_vec())
}
