//! `cove destroy` leaves nothing of the deployment: no namespace, no deployed-functions
//! record (the functions do not come back with the next apply), no cgroup directory
//! of the prefix in any hierarchy (v1 mounts and the v2 / hybrid v2 mount).
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
    let deployed = d.state.path().join(&d.prefix).join("deployed.yaml");
    assert!(deployed.exists());

    let out = d.cove().arg("destroy").output().expect("destroy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.namespaces().is_empty(), "{:?}", d.namespaces());
    assert!(!deployed.exists(), "the functions record survived destroy");
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
