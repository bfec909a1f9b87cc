//! Faults: `kill -9` of `cove apply` (and of `cove destroy`) at random points, then
//! the next apply converges, the network works, and destroy leaves zero objects of
//! the prefix (namespaces, mounts, files).
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

use std::path::PathBuf;
use std::process::{Command as Process, Stdio};
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/secure-compute.yaml")
}

struct Env {
    prefix: String,
    state: tempfile::TempDir,
}

impl Env {
    fn cove(&self) -> Process {
        let mut c = Process::new(cargo_bin("cove"));
        c.env("COVE_PREFIX", &self.prefix)
            .env("COVE_STATE_DIR", self.state.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cove()
            .args(args)
            .stdout(Stdio::piped())
            .output()
            .expect("run cove")
    }

    /// Everything of the prefix still visible: namespace files and mounts.
    fn leftovers(&self) -> Vec<String> {
        let mine = format!("{}-", self.prefix);
        let mut out: Vec<String> = std::fs::read_dir("/run/netns")
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&mine))
                    .collect()
            })
            .unwrap_or_default();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        out.extend(
            mounts
                .lines()
                .filter(|l| l.contains(&format!("/run/netns/{mine}")))
                .map(|l| format!("mount: {l}")),
        );
        out
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.run(&["destroy"]);
    }
}

/// Starts `cove ARGS`, kills it with SIGKILL after `delay`.
fn kill_after(env: &Env, args: &[&str], delay: Duration) {
    let mut child = env.cove().args(args).spawn().expect("spawn");
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn kill_9_at_random_points_then_apply_converges_and_destroy_leaves_nothing() {
    if !cove_probe::privileged("faults") {
        return;
    }
    let env = Env {
        prefix: format!(
            "{}k{}",
            std::env::var("COVE_TEST_PREFIX").unwrap_or_default(),
            std::process::id() % 100_000
        ),
        state: tempfile::tempdir().expect("tmp"),
    };
    let spec = example();
    let spec = spec.to_str().expect("utf-8 path");
    let mut rng = cove_testgen::SplitMix64::new(0xDEAD);
    let mut interrupted = 0;
    for round in 0..12 {
        // Kill apply somewhere in its ~100 ms; every third round start from scratch.
        if round % 3 == 0 {
            kill_after(&env, &["destroy"], Duration::from_millis(rng.below(40)));
        }
        kill_after(
            &env,
            &["apply", "-f", spec],
            Duration::from_millis(5 + rng.below(150)),
        );
        let status = env.run(&["status", "-f", spec]);
        if status.status.code() == Some(4) && !env.leftovers().is_empty() {
            interrupted += 1;
        }
    }
    // The kills must really have landed in the middle of applies.
    assert!(
        interrupted >= 2,
        "only {interrupted} kills left a half-applied state"
    );
    let out = env.run(&["apply", "-f", spec]);
    assert!(
        out.status.success(),
        "apply after kills: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.run(&["status", "-f", spec]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The converged network works: the function reaches the database port.
    let server = env
        .cove()
        .args([
            "exec",
            "prod/db-1",
            "--",
            "timeout",
            "10",
            "socat",
            "TCP-LISTEN:5432,reuseaddr",
            "SYSTEM:echo ok",
        ])
        .spawn()
        .expect("server");
    std::thread::sleep(Duration::from_millis(300));
    let out = env.run(&[
        "exec",
        "functions/fn-a",
        "--",
        "timeout",
        "5",
        "nc",
        "-w2",
        "10.30.1.10",
        "5432",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    drop(server);
    // Kill destroy half-way, then destroy again: nothing is left.
    kill_after(&env, &["destroy"], Duration::from_millis(3));
    let out = env.run(&["destroy"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        env.leftovers().is_empty(),
        "left behind: {:?}",
        env.leftovers()
    );
}
