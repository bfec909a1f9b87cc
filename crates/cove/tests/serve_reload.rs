//! A running `cove serve` follows the deployment: a function deployed, updated or
//! deleted with `cove fn` while it runs is served (or gone) once the change is
//! applied — the service reloads when the applied generation moves.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). Needs the
//! runtime clients (`scripts/install-runtimes.sh`).

mod common;

use std::time::{Duration, Instant};

use common::Deployment;
use common::functions::{deploy_python, runtimes_ready, serve};

/// `GET /2015-03-31/functions/NAME` (GetFunction) → HTTP status.
fn get_function(addr: std::net::SocketAddr, name: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET /2015-03-31/functions/{name} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status")
}

/// Waits until GetFunction of `name` answers `status` (the service polls the state;
/// the bound only keeps a broken reload from hanging the test).
fn wait_for(addr: std::net::SocketAddr, name: &str, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = get_function(addr, name);
        if now == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "cove serve still answers {now} for {name}, not {status}: it did not reload"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_reloads_when_a_change_is_applied() {
    if !cove_probe::privileged("serve_reloads_when_a_change_is_applied") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("hsv");
    d.apply_example();
    let (_serve, addr) = serve(&d, &[]);
    assert_eq!(get_function(addr, "rl"), 404);

    deploy_python(&d, "rl", &["--subnets", "functions/private-a"]);
    wait_for(addr, "rl", 200);
    let (code, answer) = common::invoke(&d, "rl", &serde_json::json!({"op": "echo"}));
    assert_eq!(code, 0, "{answer}");

    let out = d
        .cove()
        .args(["fn", "delete", "rl"])
        .output()
        .expect("delete");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(addr, "rl", 404);
}
