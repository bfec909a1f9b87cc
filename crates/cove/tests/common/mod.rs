//! What the function tests share: a deployment under a unique prefix and state
//! directory, destroyed (with everything in it) when dropped.

#![allow(dead_code)]

pub mod api_serve;
pub mod flows;
pub mod functions;
pub mod internet;
pub mod tcp;

use std::path::PathBuf;
use std::process::Command as Process;
use std::time::Duration;

use assert_cmd::Command;
use cove_model::Network;

/// The shipped example.
pub fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/secure-compute.yaml")
}

/// The shipped example's network.
pub fn example_network() -> Network {
    let text = std::fs::read_to_string(example()).expect("example");
    cove_model::validate::validate_text(&text)
        .network
        .expect("valid")
}

/// A deployment under a unique prefix.
pub struct Deployment {
    /// Its prefix.
    pub prefix: String,
    /// Its state directory.
    pub state: tempfile::TempDir,
}

impl Deployment {
    /// A new deployment; `tag` (1–4 letters) keeps tests apart, and
    /// `COVE_TEST_PREFIX` (if set) concurrent runs.
    pub fn new(tag: &str) -> Self {
        let base = std::env::var("COVE_TEST_PREFIX").unwrap_or_default();
        Deployment {
            prefix: format!("{base}{tag}{}", std::process::id() % 100_000),
            state: tempfile::tempdir().expect("state dir"),
        }
    }

    /// `cove` with this deployment's prefix and state directory.
    pub fn cove(&self) -> Command {
        let mut c = Command::cargo_bin("cove").expect("binary");
        c.env("COVE_PREFIX", &self.prefix)
            .env("COVE_STATE_DIR", self.state.path())
            .timeout(Duration::from_secs(120));
        c
    }

    /// `cove apply -f examples/secure-compute.yaml`, which must succeed.
    pub fn apply_example(&self) {
        self.apply(&example());
    }

    /// `cove apply -f SPEC`, which must succeed.
    pub fn apply(&self, spec: &std::path::Path) {
        let out = self
            .cove()
            .args(["apply", "-f"])
            .arg(spec)
            .output()
            .expect("apply");
        assert!(
            out.status.success(),
            "apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Writes `spec` (YAML) into a new directory next to a function package
    /// `./code` (a Python handler `app.handler` that returns its event), applies
    /// it, and returns the directory, the spec file and the validated network.
    pub fn apply_text(&self, spec: &str) -> (tempfile::TempDir, PathBuf, Network) {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("code")).expect("code dir");
        std::fs::write(
            dir.path().join("code/app.py"),
            "def handler(event, context):\n    return event\n",
        )
        .expect("code");
        let path = dir.path().join("spec.yaml");
        std::fs::write(&path, spec).expect("spec");
        self.apply(&path);
        let net = cove_model::validate::validate_text(spec)
            .network
            .expect("valid");
        (dir, path, net)
    }

    /// Takes this deployment's prefix lock as `cove apply` would (holder recorded as
    /// `<pid> apply`); held until the returned lock is dropped.
    pub fn hold_lock_as_apply(&self) -> cove_scheduler::PrefixLock {
        let path = self.state.path().join(&self.prefix).join("lock");
        let mut lock = cove_scheduler::PrefixLock::take(
            &path,
            cove_scheduler::LockMode::Exclusive,
            // A running `cove serve` may be reconciling (its reconciler takes the lock too).
            std::time::Duration::from_secs(30),
        )
        .expect("lock")
        .expect("free");
        lock.record_holder(&format!("{} apply", std::process::id()))
            .expect("record");
        lock
    }

    /// This deployment's namespaces.
    pub fn namespaces(&self) -> Vec<String> {
        std::fs::read_dir("/run/netns")
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&format!("{}-", self.prefix)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// This deployment's environment cgroups (any hierarchy).
    pub fn cgroups(&self) -> Vec<PathBuf> {
        let root = format!("cove-{}", self.prefix);
        let mut out = Vec::new();
        for base in cgroup_bases() {
            let dir = base.join(&root);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                out.extend(
                    entries
                        .filter_map(Result::ok)
                        .filter(|e| e.path().is_dir())
                        .map(|e| e.path()),
                );
            }
        }
        out
    }
}

/// The cgroup hierarchies of this machine (v2: the unified root; v1: each mount).
fn cgroup_bases() -> Vec<PathBuf> {
    let root = PathBuf::from("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return vec![root];
    }
    std::fs::read_dir(&root)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// A `cove serve` (or any long-running cove process), killed when dropped.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Deployment {
    /// `cove` with this deployment's prefix and state directory, as a plain
    /// process (for long-running commands: no timeout).
    pub fn process(&self) -> Process {
        let mut c = Process::new(assert_cmd::cargo::cargo_bin("cove"));
        c.env("COVE_PREFIX", &self.prefix)
            .env("COVE_STATE_DIR", self.state.path());
        c
    }

    /// `cove serve --no-api` with `args`, its output in `log`.
    pub fn serve(&self, args: &[&str], log: &std::path::Path) -> Running {
        let file = std::fs::File::create(log).expect("log");
        Running(
            self.process()
                .args(["serve", "--listen", "127.0.0.1:0", "--no-api"])
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(file.try_clone().expect("dup"))
                .stderr(file)
                .spawn()
                .expect("cove serve"),
        )
    }

    /// `cove status --json -f SPEC`, parsed.
    pub fn status_json(&self, spec: &std::path::Path) -> serde_json::Value {
        let out = self
            .process()
            .args(["status", "--json", "-f"])
            .arg(spec)
            .output()
            .expect("status");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = self.cove().arg("destroy").output();
        for ns in self.namespaces() {
            let _ = Process::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

/// `cove fn deploy NAME --runtime … --handler … --code CODE EXTRA…`, which must succeed.
pub fn deploy(
    d: &Deployment,
    name: &str,
    runtime: &str,
    handler: &str,
    code: &std::path::Path,
    extra: &[&str],
) {
    let out = d
        .cove()
        .args([
            "fn",
            "deploy",
            name,
            "--runtime",
            runtime,
            "--handler",
            handler,
        ])
        .arg("--code")
        .arg(code)
        .args(extra)
        .output()
        .expect("deploy");
    assert!(
        out.status.success(),
        "deploy {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cove fn invoke NAME --payload EVENT` → (exit code, answer as JSON).
pub fn invoke(d: &Deployment, name: &str, event: &serde_json::Value) -> (i32, serde_json::Value) {
    let out = d
        .cove()
        .args(["fn", "invoke", name, "--payload"])
        .arg(event.to_string())
        .output()
        .expect("invoke");
    let text = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "invoke {name} {event}: not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// `cove check --from FROM --to TO --proto tcp --port PORT`, which must say BLOCKED
/// (exit 3); returns the explanation.
pub fn check_blocked(d: &Deployment, from: &str, to: &str, port: u16) -> String {
    let out = d
        .cove()
        .args([
            "check", "--from", from, "--to", to, "--proto", "tcp", "--port",
        ])
        .arg(port.to_string())
        .output()
        .expect("check");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{from} -> {to}:{port} is not blocked: {text}"
    );
    text
}
