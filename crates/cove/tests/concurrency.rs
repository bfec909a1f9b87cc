//! One writer at a time: concurrent kernel-changing commands on one prefix take turns
//! (the prefix lock), so each pair ends in a state that `cove status` confirms —
//! in sync with the spec applied last, or nothing left after a destroy — with one
//! mount per namespace; a command that finds the prefix busy says who holds it.
//! Privileged (root): the kernel commands run for real.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};

use common::{Deployment, example};

fn privileged() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the concurrency tests need root (CI must run them)"
    );
    eprintln!("skipped: needs root");
    false
}

/// The example without ENI `fn-b`: a different kernel layout (one namespace fewer).
fn spec_b(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(example()).expect("example");
    let line = "          - { name: fn-b, subnet: private-b, security_groups: [fn] }\n";
    assert_eq!(text.matches(line).count(), 1);
    let path = dir.join("b.yaml");
    std::fs::write(&path, text.replace(line, "")).expect("write spec b");
    path
}

fn spawn(d: &Deployment, args: &[&str], spec: Option<&Path>) -> Child {
    let mut c = Process::new(assert_cmd::cargo::cargo_bin("cove"));
    c.args(args)
        .env("COVE_PREFIX", &d.prefix)
        .env("COVE_STATE_DIR", d.state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(s) = spec {
        c.arg("-f").arg(s);
    }
    c.spawn().expect("spawn cove")
}

fn finish(c: Child, what: &str) {
    let out = c.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cove status -f spec` → in sync?
fn in_sync(d: &Deployment, spec: &Path) -> bool {
    let out = d
        .cove()
        .args(["status", "-f"])
        .arg(spec)
        .output()
        .expect("status");
    match out.status.code() {
        Some(0) => true,
        Some(4) => false,
        other => panic!("status: {other:?} {}", String::from_utf8_lossy(&out.stderr)),
    }
}

/// Mounts under /run/netns of the deployment (a stacked mount counts twice).
fn netns_mounts(d: &Deployment) -> usize {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let needle = format!("/run/netns/{}-", d.prefix);
    info.lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&needle)))
        .count()
}

#[test]
fn ten_concurrent_pairs_each_end_in_a_state_status_confirms() {
    if !privileged() {
        return;
    }
    let d = Deployment::new("hsc");
    let a = example();
    let b = spec_b(d.state.path());
    let recorded_spec = || {
        cove_deploy::Target::new(
            cove_deploy::Prefix::new(&d.prefix).expect("prefix"),
            d.state.path().to_owned(),
            std::time::Duration::from_secs(30),
        )
        .store()
        .expect("store")
        .spec()
        .expect("spec")
    };
    for round in 0..10 {
        if round % 2 == 0 {
            // apply A against apply B: exactly one of them is what the kernel holds.
            let (first, second) = if round % 4 == 0 { (&a, &b) } else { (&b, &a) };
            let c1 = spawn(&d, &["apply"], Some(first));
            let c2 = spawn(&d, &["apply"], Some(second));
            finish(c1, "apply");
            finish(c2, "apply");
            let (sa, sb) = (in_sync(&d, &a), in_sync(&d, &b));
            assert!(
                sa != sb,
                "round {round}: the kernel matches {} spec",
                if sa { "both" } else { "neither" }
            );
            // The recorded state is the spec that won.
            let recorded = recorded_spec().expect("an applied spec");
            let won = std::fs::read_to_string(if sa { &a } else { &b }).expect("spec");
            assert!(
                recorded.starts_with(&won),
                "round {round}: the recorded spec lies"
            );
        } else {
            // apply against destroy: the spec in sync, or nothing left.
            let spec = if round % 4 == 1 { &a } else { &b };
            let c1 = spawn(&d, &["apply"], Some(spec));
            let c2 = spawn(&d, &["destroy"], None);
            finish(c1, "apply");
            finish(c2, "destroy");
            if d.namespaces().is_empty() {
                assert!(
                    recorded_spec().is_none(),
                    "round {round}: destroyed, state kept"
                );
            } else {
                assert!(
                    in_sync(&d, spec),
                    "round {round}: namespaces left that match no spec: {:?}",
                    d.namespaces()
                );
                assert!(
                    recorded_spec().is_some(),
                    "round {round}: applied, state deleted"
                );
            }
        }
        assert_eq!(
            netns_mounts(&d),
            d.namespaces().len(),
            "round {round}: stacked namespace mounts"
        );
    }
}

#[test]
fn a_busy_prefix_names_the_holder_and_exits_6() {
    if !privileged() {
        return;
    }
    let d = Deployment::new("hsb");
    // Hold the lock as a cove command would.
    let lock = d.hold_lock_as_apply();
    let example = example();
    let runs: [(&str, Vec<&str>); 4] = [
        (
            "apply",
            vec!["apply", "-f", example.to_str().expect("utf-8")],
        ),
        ("destroy", vec!["destroy"]),
        ("fn delete", vec!["fn", "delete", "f"]),
        (
            "serve",
            vec![
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--api-listen",
                "127.0.0.1:0",
            ],
        ),
    ];
    for (what, args) in runs {
        let out = d
            .cove()
            .args(&args)
            .args(["--lock-wait", "0"])
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(6), "{what}: {err}");
        assert!(err.contains("busy"), "{what}: {err}");
        assert!(
            err.contains(&format!("pid {}, `cove apply`", std::process::id())),
            "{what}: {err}"
        );
        assert!(err.contains(&d.prefix), "{what}: {err}");
    }
    assert!(d.namespaces().is_empty(), "a busy apply changed the kernel");
    drop(lock);
    d.apply_example();
}
