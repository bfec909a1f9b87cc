//! What the flow-log tests share: finding an ENI's namespace, a TCP sink, an
//! interface's counters, and waiting for a flow log's lines.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::Deployment;

/// The ENI namespace of the deployment that holds `ip`.
pub fn ns_with(d: &Deployment, ip: Ipv4Addr) -> String {
    d.namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&format!("{}-e-", d.prefix)))
        .find(|n| {
            let out = Command::new("ip")
                .args(["-n", n, "-4", "-o", "addr"])
                .output()
                .expect("ip addr");
            String::from_utf8_lossy(&out.stdout).contains(&format!("inet {ip}/"))
        })
        .unwrap_or_else(|| panic!("no namespace holds {ip}"))
}

/// `eth0`'s received (bytes, packets) in namespace `ns`.
pub fn received(ns: &str) -> (u64, u64) {
    let out = Command::new("ip")
        .args(["-n", ns, "-s", "-j", "link", "show", "eth0"])
        .output()
        .expect("ip link");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rx = &v[0]["stats64"]["rx"];
    (
        rx["bytes"].as_u64().expect("bytes"),
        rx["packets"].as_u64().expect("packets"),
    )
}

/// A server on `ip:port` in `ns` that reads each connection to its end, then
/// closes it.
pub fn sink(ns: &str, ip: Ipv4Addr, port: u16) {
    let listener: TcpListener =
        cove_probe::in_namespace(ns, move || TcpListener::bind(SocketAddr::from((ip, port))))
            .expect("namespace")
            .expect("listen");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { break };
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
}

/// The lines of `path` once it has at least `n` that `keep` accepts (30 s).
pub fn lines_of(path: &Path, n: usize, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| keep(l))
            .map(str::to_owned)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records in {}:\n{}",
            lines.len(),
            path.display(),
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits (30 s) until the flow-log collector of `cove serve` runs: it turns
/// conntrack's counters on in the router when it starts, and connections before
/// that are not counted.
pub fn wait_for_collector(d: &Deployment) {
    let router = format!("{}-router", d.prefix);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("ip")
            .args(["netns", "exec", &router, "cat"])
            .arg("/proc/sys/net/netfilter/nf_conntrack_acct")
            .output()
            .expect("sysctl");
        if String::from_utf8_lossy(&out.stdout).trim() == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "the collector never started");
        std::thread::sleep(Duration::from_millis(100));
    }
}
