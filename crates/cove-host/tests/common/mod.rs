//! Helpers for the privileged tests: skip rules, unique prefixes, cleanup guards,
//! commands with timeouts.

#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use cove_host::Host;

pub mod nft;

/// Whether the kernel tests can run: root. Not root: skipped with a message, except
/// under `CI=true`, where it is a failure (the tests must run there).
pub fn privileged(test: &str) -> bool {
    // /proc/self belongs to the effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: CI=true but not root; the kernel tests must run as root in CI"
    );
    eprintln!("skipping {test}: needs root (network namespaces)");
    false
}

/// A prefix no other test (or engineer) uses: `th` + pid + a per-test tag.
pub fn prefix(tag: char) -> String {
    format!("th{}{tag}", std::process::id())
}

/// Owns a [`Host`]; destroys all of its namespaces on drop, even when the test fails.
pub struct Guard(pub Host);

impl Guard {
    /// A guard for a fresh host with prefix `prefix(tag)`.
    pub fn new(tag: char) -> Guard {
        let host = Host::new(&prefix(tag)).expect("valid prefix");
        // Leftovers of an earlier run with the same pid.
        let _ = host.destroy();
        Guard(host)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(errors) = self.0.destroy() {
            for e in errors {
                eprintln!("cleanup of {}: {}", self.0.prefix(), chain(&e));
            }
        }
    }
}

/// A namespace created with `ip netns add` (not cove's), deleted on drop.
pub struct ForeignNs(pub String);

impl ForeignNs {
    /// Creates `foreign-<pid><tag>`.
    pub fn new(tag: char) -> ForeignNs {
        let name = format!("foreign-{}{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let out = Command::new("timeout")
            .args(["5", "ip", "netns", "add", &name])
            .output()
            .expect("run ip");
        assert!(out.status.success(), "ip netns add {name}: {out:?}");
        ForeignNs(name)
    }
}

impl Drop for ForeignNs {
    fn drop(&mut self) {
        let _ = Command::new("timeout")
            .args(["5", "ip", "netns", "del", &self.0])
            .output();
    }
}

/// The error and all of its causes, one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Runs `timeout 5 ARGS` inside `ns` and returns its output.
pub fn run(host: &Host, ns: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.arg("5")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    host.spawn(ns, cmd)
        .unwrap_or_else(|e| panic!("spawn {args:?} in {ns}: {}", chain(&e)))
        .wait_with_output()
        .expect("wait")
}

/// Whether `timeout 5 ARGS` succeeds inside `ns`.
pub fn ok(host: &Host, ns: &str, args: &[&str]) -> bool {
    run(host, ns, args).status.success()
}

/// Polls `f` every 50 ms for up to `secs` seconds.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The identity (inode) of the network namespace mounted at `/run/netns/<ns>`.
pub fn netns_inode(ns: &str) -> u64 {
    std::fs::metadata(format!("/run/netns/{ns}"))
        .unwrap_or_else(|e| panic!("stat /run/netns/{ns}: {e}"))
        .ino()
}
