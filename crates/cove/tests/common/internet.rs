//! A TCP listener "on the internet" (the outside namespace) that records the
//! source address of every connection it accepts: what a NAT gateway let out.

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Connections to the outside namespace (the internet stand-in), with the source
/// address each arrived from.
pub struct Internet {
    seen: std::sync::Arc<std::sync::Mutex<Vec<std::net::IpAddr>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Internet {
    /// Accepts TCP connections on `addr:port` in namespace `ns` until dropped.
    pub fn listen(ns: &str, addr: Ipv4Addr, port: u16) -> Internet {
        let listener = cove_probe::in_namespace(ns, || {
            let l = std::net::TcpListener::bind((addr, port)).expect("listen");
            l.set_nonblocking(true).expect("nonblocking");
            l
        })
        .expect("outside namespace");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, halt) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((_, peer)) => s.lock().expect("lock").push(peer.ip()),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Internet {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    /// The source address of every connection accepted so far, in order.
    pub fn sources(&self) -> Vec<std::net::IpAddr> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
