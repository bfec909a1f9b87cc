//! AWS's NAT gateway idle timeout (issue 11, root, `CI=true`): a connection through
//! a NAT gateway that the gateway has forgotten — its 350 s idle timeout passed; here
//! its tracked flows are flushed, which is what the timeout does — gets a RST on its
//! next packet, as AWS's NAT gateway sends one, instead of silently leaving through
//! a new translation the server does not know. And the gateway's tracked connections
//! carry the 350 s timeout policy (the table is in the golden file).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use cove_plan::names::Names;
use cove_probe::in_namespace;

use common::Deployment;

/// TCP resets a namespace has sent (`Tcp: OutRsts` of its `/proc/net/snmp`).
fn out_rsts(ns: &str) -> u64 {
    let text = in_namespace(ns, || std::fs::read_to_string("/proc/thread-self/net/snmp"))
        .expect("namespace")
        .expect("snmp");
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else {
        panic!("no Tcp lines: {text}")
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "OutRsts")
        .and_then(|(_, v)| v.parse().ok())
        .expect("OutRsts")
}

#[test]
fn a_forgotten_connection_gets_a_reset() {
    if !cove_probe::privileged("nat idle timeout") {
        return;
    }
    let d = Deployment::new("ni");
    d.apply_example();
    let net = common::example_network();
    let names = Names::new(&net, &d.prefix);
    let client_ns = names.eni_ns(net.find_eni("functions/fn-a").expect("fn-a"));
    let nat = net
        .nat_gateways
        .iter()
        .find(|n| n.name == "nat-a")
        .expect("nat-a");
    let nat_ns = names.eni_ns(nat.eni);
    let internet = net.internet_stand_in();
    let outside = names.outside_ns();

    // An echo server on the internet stand-in.
    let listener: TcpListener = in_namespace(&outside, move || {
        TcpListener::bind(SocketAddr::from((internet, 18_500)))
    })
    .expect("namespace")
    .expect("bind");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 64];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let connect = || -> TcpStream {
        let s: TcpStream = in_namespace(&client_ns, move || {
            TcpStream::connect_timeout(
                &SocketAddr::from((internet, 18_500)),
                Duration::from_secs(5),
            )
        })
        .expect("namespace")
        .expect("connect through the NAT gateway");
        s.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        s
    };
    let echo = |s: &mut TcpStream, what: &[u8]| -> std::io::Result<Vec<u8>> {
        s.write_all(what)?;
        let mut buf = vec![0u8; what.len()];
        s.read_exact(&mut buf)?;
        Ok(buf)
    };

    // Control: a connection the gateway still tracks keeps working after a pause.
    let mut kept = connect();
    assert_eq!(echo(&mut kept, b"one").expect("echo"), b"one");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(echo(&mut kept, b"two").expect("echo"), b"two");

    // The gateway forgets its flows (what the idle timeout does): the next packet of
    // the connection is answered with a RST.
    let mut forgotten = connect();
    assert_eq!(echo(&mut forgotten, b"one").expect("echo"), b"one");
    cove_probe::flush_conntrack(&nat_ns).expect("flush the NAT gateway's flows");
    let resets_before = out_rsts(&outside);
    let err = echo(&mut forgotten, b"two").expect_err("the gateway forgot the connection");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    // The gateway sent it: the packet never went on under a new translation, so the
    // server had nothing to reset.
    assert_eq!(
        out_rsts(&outside),
        resets_before,
        "the server sent the reset"
    );
    // A new connection works at once.
    let mut fresh = connect();
    assert_eq!(echo(&mut fresh, b"three").expect("echo"), b"three");

    // The tracked connection has the gateway's idle timeout, not the kernel's five
    // days: at most 350 s left.
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &nat_ns, "conntrack", "-L", "-p", "tcp"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        let timeouts: Vec<u32> = text
            .lines()
            .filter(|l| l.contains("ESTABLISHED"))
            .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
            .collect();
        assert!(!timeouts.is_empty(), "{text}");
        assert!(timeouts.iter().all(|t| *t <= 350), "{text}");
    } else {
        panic!("`conntrack -L` failed in {nat_ns}: install Debian's conntrack");
    }
    drop((kept, fresh));
}
