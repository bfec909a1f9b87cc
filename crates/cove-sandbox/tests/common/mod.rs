//! Fixtures for the privileged tests: a throwaway network namespace (`hisb-…`), a
//! sandbox with its own cgroup root (`hisb-…`), a code directory, and runs with
//! timeouts. Everything is removed on drop, also when a test fails.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use cove_host::Host;
use cove_sandbox::{EnvSpec, EnvStdio, Exit, InitProgram, Running, Sandbox, SandboxConfig};

/// Longest a test waits for an environment to end.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Python as installed by Debian (readable by `nobody`, unlike a pyenv under /root).
pub const PYTHON: &str = "/usr/bin/python3";

pub use cove_probe::privileged;

/// A name unique to this process and call: `hisb-<pid>-<n>`.
pub fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "hisb-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A network namespace created with `ip netns add`, deleted on drop.
pub struct Netns(pub String);

impl Netns {
    /// Creates `name` (which must start with `hisb-`).
    pub fn new(name: &str) -> Netns {
        assert!(name.starts_with("hisb-"));
        let ok = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .expect("run ip")
            .success();
        assert!(ok, "ip netns add {name}");
        Netns(name.to_owned())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A namespace, a sandbox with its own cgroup root, a code directory and an output
/// directory. Dropping it reaps every environment of the root and removes the root,
/// the namespace and the directories.
pub struct Fixture {
    pub name: String,
    pub sandbox: Sandbox,
    pub dir: PathBuf,
    pub code: PathBuf,
    // Dropped after the sandbox's environments are reaped (field order).
    _ns: Netns,
}

pub fn init() -> InitProgram {
    InitProgram::binary(env!("CARGO_BIN_EXE_cove-env-init"))
}

impl Fixture {
    pub fn new() -> Fixture {
        let name = unique();
        let ns = Netns::new(&name);
        let sandbox = Sandbox::new(
            Host::new("hisb").expect("prefix"),
            SandboxConfig::new(cove_sandbox::CgroupRoot::new(&name).expect("root"), init()),
        )
        .expect("sandbox");
        // Under the host's /tmp on purpose: the code is bound before /tmp is
        // replaced, so it must still be found.
        let dir = std::env::temp_dir().join(&name);
        let code = dir.join("code");
        fs::create_dir_all(&code).expect("code dir");
        for d in [&dir, &code] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        fs::write(
            code.join("handler.py"),
            "def handler(event, context):\n    return 1\n",
        )
        .expect("handler");
        Fixture {
            _ns: ns,
            sandbox,
            dir,
            code,
            name,
        }
    }

    /// A spec in this fixture's namespace running `argv`, with `memory_mib`.
    pub fn spec(&self, id: &str, argv: &[&str], memory_mib: u64) -> EnvSpec {
        EnvSpec::new(
            self._ns.0.clone(),
            cove_sandbox::EnvId::new(id).expect("id"),
            argv.iter().map(|s| s.to_string()).collect(),
            &self.code,
            memory_mib,
        )
    }

    /// Standard output and error into files of the fixture (named after `id`).
    pub fn files(&self, id: &str) -> (EnvStdio, PathBuf, PathBuf) {
        let out = self.dir.join(format!("{id}.out"));
        let err = self.dir.join(format!("{id}.err"));
        let stdio = EnvStdio {
            stdout: fs::File::create(&out).expect("stdout file").into(),
            stderr: fs::File::create(&err).expect("stderr file").into(),
        };
        (stdio, out, err)
    }

    /// Launches `spec`, waits (bounded) and returns the exit and standard output.
    pub fn run(&self, spec: &EnvSpec) -> (Exit, String) {
        let (stdio, out, err) = self.files(spec.id.as_str());
        let running = self.sandbox.launch(spec, stdio).expect("launch");
        let exit = wait(&running);
        running.cleanup().expect("cleanup");
        let stderr = fs::read_to_string(&err).unwrap_or_default();
        if !stderr.is_empty() {
            eprintln!("[{} stderr]\n{stderr}", spec.id);
        }
        (exit, fs::read_to_string(&out).expect("stdout"))
    }

    /// Standard output of a Python program run with `memory_mib`.
    pub fn python(&self, id: &str, program: &str, memory_mib: u64) -> (Exit, String) {
        self.run(&self.spec(id, &[PYTHON, "-c", program], memory_mib))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.sandbox.reap_stale(|_| false);
        let _ = self.sandbox.remove_root();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Waits for `running` (bounded by [`TIMEOUT`]).
pub fn wait(running: &Running) -> Exit {
    running
        .wait_timeout(TIMEOUT)
        .expect("the environment did not end in time")
        .expect("wait")
}

/// Polls `f` every few milliseconds until it returns `Some`, for at most [`TIMEOUT`].
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether process `pid` is gone (no `/proc` entry, or a zombie awaiting its parent).
pub fn dead(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Whether any of `paths` still exists.
pub fn any_exists(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter(|p| Path::new(p).exists())
        .cloned()
        .collect()
}

/// `KEY=value` lines as a map.
pub fn env_lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (a minimal executor, so the tests do
/// not depend on an async runtime), giving up after [`TIMEOUT`].
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "future did not complete"
        );
        std::thread::park_timeout(Duration::from_millis(100));
    }
}
