//! `cove destroy` leaves nothing of the deployment: no namespace, no deployed-functions
//! record (the functions do not come back with the next apply), no cgroup directory
//! of the prefix in any hierarchy (v1 mounts and the v2 / hybrid v2 mount); and a
//! running `cove serve` starts no environment while another command holds the prefix.
//! Privileged (root) and needs the runtime clients (`scripts/install-runtimes.sh`).

mod common;

use std::path::PathBuf;

use common::Deployment;
use common::functions::{deploy_python, runtimes_ready};

/// Every directory named `cove-<prefix>` in any cgroup hierarchy of this host.
fn cgroup_roots(d: &Deployment) -> Vec<PathBuf> {
    let root = format!("cove-{}", d.prefix);
    let top = PathBuf::from("/sys/fs/cgroup");
    let mut bases = vec![top.clone()];
    if let Ok(entries) = std::fs::read_dir(&top) {
        bases.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    bases
        .into_iter()
        .map(|b| b.join(&root))
        .filter(|p| p.is_dir())
        .collect()
}

#[test]
fn destroy_removes_the_functions_record_and_the_cgroups() {
    if !cove_probe::privileged("destroy_removes_the_functions_record_and_the_cgroups")
        || !runtimes_ready()
    {
        return;
    }
    let d = Deployment::new("hsd");
    d.apply_example();
    deploy_python(&d, "hsfn", &["--subnets", "functions/private-a"]);
    let (code, answer) = common::invoke(&d, "hsfn", &serde_json::json!({"op": "echo"}));
    assert_eq!(code, 0, "{answer}");
    let roots = cgroup_roots(&d);
    assert!(
        roots.iter().any(|p| p.starts_with("/sys/fs/cgroup/memory")),
        "the invoke made no v1 cgroup root: {roots:?}"
    );
    let deployed = || {
        cove_deploy::Target::new(
            cove_deploy::Prefix::new(&d.prefix).expect("prefix"),
            d.state.path().to_owned(),
            std::time::Duration::from_secs(30),
        )
        .store()
        .expect("store")
        .deployed()
        .expect("deployed")
    };
    assert_eq!(deployed().len(), 1);

    let before = d.namespaces().len();
    let out = d
        .cove()
        .args(["destroy", "--json"])
        .output()
        .expect("destroy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["namespaces"].as_u64(), Some(before as u64), "{doc}");
    assert!(d.namespaces().is_empty(), "{:?}", d.namespaces());
    assert!(
        deployed().is_empty(),
        "the functions record survived destroy"
    );
    assert_eq!(cgroup_roots(&d), Vec::<PathBuf>::new(), "cgroups survived");

    // The next apply brings back the network only.
    d.apply_example();
    let out = d.cove().args(["fn", "list"]).output().expect("fn list");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("no functions"), "{text}");
    let out = d
        .cove()
        .args(["fn", "delete", "hsfn"])
        .output()
        .expect("delete");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ResourceNotFoundException"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One `POST /2015-03-31/functions/NAME/invocations` → (status, whole answer).
fn post_invoke(addr: &str, name: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("timeout");
    let body = r#"{"op": "echo"}"#;
    write!(
        s,
        "POST /2015-03-31/functions/{name}/invocations HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("answer");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, answer)
}

#[test]
fn a_cold_start_in_serve_respects_the_prefix_lock() {
    if !cove_probe::privileged("a_cold_start_in_serve_respects_the_prefix_lock")
        || !runtimes_ready()
    {
        return;
    }
    let d = Deployment::new("hsl");
    d.apply_example();
    deploy_python(&d, "hsfn", &["--subnets", "functions/private-a"]);
    let addr_file = d.state.path().join(&d.prefix).join("serve.addr");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cove"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            "--lock-wait",
            "0",
        ])
        .env("COVE_PREFIX", &d.prefix)
        .env("COVE_STATE_DIR", d.state.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("cove serve");
    let _serve = common::functions::Background(child);
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(&addr_file) {
            break a.trim().to_owned();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // An apply (say) holds the prefix: a cold start does not run meanwhile.
    let lock = d.hold_lock_as_apply();
    let (status, answer) = post_invoke(&addr, "hsfn");
    assert_eq!(status, 409, "{answer}");
    assert!(answer.contains("ResourceConflictException"), "{answer}");
    assert!(answer.contains("busy"), "{answer}");
    assert!(
        answer.contains(&format!("pid {}, `cove apply`", std::process::id())),
        "{answer}"
    );
    // `cove fn invoke` goes through the running serve: busy, exit 6.
    let out = d
        .cove()
        .args(["fn", "invoke", "hsfn", "--payload", r#"{"op": "echo"}"#])
        .output()
        .expect("invoke");
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(lock);
    let (status, answer) = post_invoke(&addr, "hsfn");
    assert_eq!(status, 200, "{answer}");
}
