//! Running code inside a named network namespace.

use std::fs::File;
use std::path::PathBuf;

use nix::sched::{CloneFlags, setns};

/// Why a probe could not be set up (a blocked flow is not an error: it is `false`).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The namespace does not exist or cannot be entered.
    #[error("cannot enter network namespace {ns}; is it applied (`cove status`)?")]
    Enter {
        /// Namespace name.
        ns: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A socket could not be created, bound or configured.
    #[error("socket setup failed in namespace {ns} for {what}")]
    Socket {
        /// Namespace name.
        ns: String,
        /// What was being set up.
        what: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A helper thread panicked.
    #[error("a probe thread for namespace {ns} panicked")]
    Thread {
        /// Namespace name.
        ns: String,
    },
}

/// Runs `f` on a fresh thread that has entered network namespace `ns`
/// (`/run/netns/<ns>`), and returns its result.
pub fn in_namespace<T: Send, F: FnOnce() -> T + Send>(ns: &str, f: F) -> Result<T, ProbeError> {
    let path = PathBuf::from("/run/netns").join(ns);
    let file = File::open(&path).map_err(|source| ProbeError::Enter {
        ns: ns.to_owned(),
        source,
    })?;
    std::thread::scope(|s| {
        s.spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| ProbeError::Enter {
                ns: ns.to_owned(),
                source: e.into(),
            })?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err(ProbeError::Thread { ns: ns.to_owned() }))
    })
}

/// Lets every group open ICMP echo ("ping") sockets in namespace `ns`.
pub fn allow_ping_sockets(ns: &str) -> Result<(), ProbeError> {
    in_namespace(ns, || {
        std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")
    })?
    .map_err(|source| ProbeError::Socket {
        ns: ns.to_owned(),
        what: "net.ipv4.ping_group_range".to_owned(),
        source,
    })
}

/// Whether privileged (root) tests can run here. Not root: `false` with a message,
/// except under `CI=true`, where the tests must run and this panics.
pub fn privileged(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{test} needs root, and CI=true: privileged tests must run in CI"
    );
    eprintln!("skipping {test}: needs root (network namespaces, nftables)");
    false
}
