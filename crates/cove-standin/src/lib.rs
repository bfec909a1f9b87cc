//! Stand-in AWS services behind interface endpoints (issue 12).
//!
//! An interface endpoint to an AWS service (`com.amazonaws.us-east-1.secretsmanager`)
//! must lead somewhere: cove has no AWS behind it, so `cove serve` runs a stand-in
//! in each such endpoint ENI's namespace — a listener on ports 80 and 443 of the
//! endpoint's address that answers every HTTP request with `200` and a JSON body
//! naming the service and the endpoint (plain HTTP on both ports: it shows the
//! network path works; it is not the service's API). Connections come through the
//! router like any other, so the consumer's security groups and ACLs decide who
//! reaches it.
//!
//! One thread per endpoint namespace accepts (sockets opened inside the namespace by
//! a thread that enters it once); each connection is answered on a thread of its own
//! and closed. Dropping a [`StandIn`] stops it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The ports a stand-in listens on.
pub const PORTS: [u16; 2] = [80, 443];

/// How long an accept waits before the thread checks whether to stop.
const TICK: Duration = Duration::from_millis(200);

/// The longest request head read (then the answer is sent anyway).
const MAX_HEAD: usize = 16 << 10;

/// What a stand-in answers for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StandInConfig {
    /// The endpoint ENI's namespace.
    pub ns: String,
    /// The endpoint's address there.
    pub address: Ipv4Addr,
    /// The service (`com.amazonaws.us-east-1.secretsmanager`).
    pub service: String,
    /// The endpoint (`tenant/vpc/endpoint`).
    pub endpoint: String,
}

/// Starting a stand-in failed.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    /// Opening its listeners inside the namespace.
    #[error("cannot listen for the stand-in of {service} in namespace {ns}")]
    Listen {
        /// The namespace.
        ns: String,
        /// The service.
        service: String,
        /// Why.
        #[source]
        source: Box<cove_host::HostError>,
    },
    /// A listener's socket call.
    #[error("cannot open port {port} for the stand-in of {service}")]
    Socket {
        /// The service.
        service: String,
        /// The port.
        port: u16,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A running stand-in; dropping it stops it.
pub struct StandIn {
    config: StandInConfig,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl StandIn {
    /// Listens on [`PORTS`] of `config.address` in `config.ns` and answers.
    pub fn start(config: StandInConfig) -> Result<StandIn, StandInError> {
        let address = config.address;
        let opened = cove_host::in_namespace(&config.ns, move || {
            PORTS.map(|port| (port, listen(address, port)))
        })
        .map_err(|source| StandInError::Listen {
            ns: config.ns.clone(),
            service: config.service.clone(),
            source,
        })?;
        let mut listeners = Vec::new();
        for (port, l) in opened {
            listeners.push(l.map_err(|source| StandInError::Socket {
                service: config.service.clone(),
                port,
                source,
            })?);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let body = Arc::new(format!(
            "{{\"service\":\"{}\",\"endpoint\":\"{}\",\"stand_in\":true}}\n",
            json_escape(&config.service),
            json_escape(&config.endpoint)
        ));
        let threads = listeners
            .into_iter()
            .map(|l| {
                let (stop, answered, body) =
                    (Arc::clone(&stop), Arc::clone(&answered), Arc::clone(&body));
                std::thread::spawn(move || serve(&l, &stop, &answered, &body))
            })
            .collect();
        Ok(StandIn {
            config,
            stop,
            answered,
            threads,
        })
    }

    /// What it stands in for.
    pub fn config(&self) -> &StandInConfig {
        &self.config
    }

    /// Requests answered so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Whether its threads still run.
    pub fn running(&self) -> bool {
        self.threads.iter().all(|t| !t.is_finished())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn listen(address: Ipv4Addr, port: u16) -> std::io::Result<TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.bind(&SocketAddrV4::new(address, port).into())?;
    s.listen(128)?;
    // `accept` honours the receive timeout.
    s.set_read_timeout(Some(TICK))?;
    Ok(s.into())
}

fn serve(listener: &TcpListener, stop: &AtomicBool, answered: &Arc<AtomicU64>, body: &Arc<String>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok((conn, _)) = listener.accept() else {
            continue;
        };
        let (answered, body) = (Arc::clone(answered), Arc::clone(body));
        let _ = std::thread::Builder::new()
            .name("standin-conn".into())
            .spawn(move || {
                if answer(conn, &body).is_ok() {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            });
    }
}

/// Reads the request head (or what comes within a second) and answers 200.
fn answer(mut conn: TcpStream, body: &str) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(response.as_bytes())
}

fn json_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => vec![' '],
            c => vec![c],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_escape("a\"b\\c\nd"), "a\\\"b\\\\c d");
    }
}
