//! TCP helpers of the shared-ENI tests: a server in a namespace that records its
//! clients' addresses and echoes, and a client connection from a namespace.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cove_probe::in_namespace;

/// A TCP server on `ip:port` in a namespace: records each client's address,
/// echoes what it receives and holds every connection open until it ends.
pub struct Db {
    /// The clients' addresses, in the order they were accepted.
    pub peers: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Db {
    /// The clients seen so far.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.peers.lock().expect("lock").clone()
    }

    /// Waits (at most `guard`) until `n` clients were seen; returns them.
    pub fn wait_for(&self, n: usize, guard: Duration) -> Vec<SocketAddr> {
        let deadline = std::time::Instant::now() + guard;
        while self.peers().len() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.peers()
    }
}

/// Starts a [`Db`] on `ip:port` in namespace `ns`.
pub fn db_server(ns: &str, ip: Ipv4Addr, port: u16) -> Db {
    // A backlog for many environments at once (std's is 128: a client whose final
    // ACK met a full queue counts as connected, and closes before it is accepted).
    let listener: TcpListener = in_namespace(ns, move || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((ip, port)).into())?;
        s.listen(1024)?;
        Ok::<_, std::io::Error>(s.into())
    })
    .expect("namespace")
    .expect("listen");
    let peers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&peers);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { break };
            if let Ok(p) = c.peer_addr() {
                seen.lock().expect("lock").push(p);
            }
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 || c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    Db { peers }
}

/// A TCP connection from namespace `ns`, from source port `src_port` (0: any),
/// to `dst:port` (10 s to connect).
pub fn connect_from(
    ns: &str,
    dst: Ipv4Addr,
    port: u16,
    src_port: u16,
) -> std::io::Result<TcpStream> {
    in_namespace(ns, move || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, src_port)).into())?;
        s.connect_timeout(
            &SocketAddr::from((dst, port)).into(),
            Duration::from_secs(10),
        )?;
        Ok(s.into())
    })
    .map_err(std::io::Error::other)?
}

/// Whether `s` still carries data both ways: `byte` sent comes back (2 s).
pub fn echoes(s: &mut TcpStream, byte: u8) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut got = [0u8; 1];
    s.write_all(&[byte]).is_ok() && s.read_exact(&mut got).is_ok() && got[0] == byte
}
