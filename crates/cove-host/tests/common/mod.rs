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
    cove_host::error_chain(e)
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

/// A thread parked inside a network namespace that reports what else in this
/// process still refers to it, after the namespace is unmounted: netlink sockets
/// opened in it (`/proc/thread-self/net/netlink`, read from inside, kernel
/// sockets left out) and other threads inside it (`/proc/self/task/*/ns/net`).
/// The witness itself keeps the namespace alive until it is dropped.
pub struct NsWitness {
    ask: Option<std::sync::mpsc::Sender<()>>,
    answers: std::sync::mpsc::Receiver<Vec<String>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl NsWitness {
    /// Parks a thread in namespace `ns` (mounted at `/run/netns/ns`).
    pub fn enter(ns: &str) -> NsWitness {
        let (ask, asked) = std::sync::mpsc::channel::<()>();
        let (answer, answers) = std::sync::mpsc::channel();
        let path = format!("/run/netns/{ns}");
        let thread = thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            let ino = file.metadata().expect("stat the namespace").ino();
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("enter {path}: {e}"));
            drop(file);
            // `/proc/thread-self` links to `<pid>/task/<tid>`.
            let me = std::fs::read_link("/proc/thread-self")
                .ok()
                .and_then(|l| Some(l.file_name()?.to_string_lossy().into_owned()))
                .unwrap_or_default();
            while asked.recv().is_ok() {
                let _ = answer.send(holders(ino, &me));
            }
        });
        NsWitness {
            ask: Some(ask),
            answers,
            thread: Some(thread),
        }
    }

    /// What else holds the namespace now (empty: nothing but the witness).
    pub fn holders(&self) -> Vec<String> {
        self.ask
            .as_ref()
            .expect("witness running")
            .send(())
            .expect("the witness thread ended");
        self.answers
            .recv_timeout(Duration::from_secs(30))
            .expect("the witness thread answers")
    }
}

impl Drop for NsWitness {
    fn drop(&mut self) {
        self.ask.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Netlink sockets of the calling thread's namespace that a process opened (not
/// the kernel's own), and the threads of this process other than `me` inside the
/// namespace with inode `ino`.
fn holders(ino: u64, me: &str) -> Vec<String> {
    let mut held = Vec::new();
    let table = std::fs::read_to_string("/proc/thread-self/net/netlink").unwrap_or_default();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
        // The kernel's own sockets have port id 0; a bound user socket does not.
        if cols.len() >= 10 && cols[2] != "0" {
            held.push(format!(
                "netlink socket protocol {} port {} inode {}",
                cols[1], cols[2], cols[9]
            ));
        }
    }
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let tid = task.file_name().to_string_lossy().into_owned();
            let link = std::fs::read_link(task.path().join("ns/net")).unwrap_or_default();
            if tid != me && link.to_string_lossy() == format!("net:[{ino}]") {
                held.push(format!("thread {tid}"));
            }
        }
    }
    held
}
