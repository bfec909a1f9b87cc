//! `remove_all` (what `cove destroy` calls) kills every environment of a root and
//! removes the root's directories in every hierarchy — v1 (and the hybrid v2 mount)
//! and v2 — and a sandbox that keeps running (a `cove serve`) creates its root again
//! on its next launch.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

use std::process::Command;
use std::time::Duration;

use cove_host::Host;
use cove_sandbox::{EnvSpec, EnvStdio, Hierarchy, InitProgram, Sandbox, SandboxConfig};

/// A network namespace `hssb-<pid>`, deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("hssb-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip")
            .success();
        assert!(ok, "ip netns add {name}");
        Netns(name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The detected hierarchy, and on a v1 host with a hybrid v2 mount also that mount
/// as a v2 host.
fn variants() -> Vec<(&'static str, Hierarchy)> {
    let detected = Hierarchy::detect().expect("cgroups");
    let mut out = vec![("detected", detected.clone())];
    if let Hierarchy::V1 {
        unified: Some(mount),
        ..
    } = detected
    {
        out.push(("v2", Hierarchy::V2 { mount }));
    }
    out
}

#[test]
fn remove_all_leaves_no_cgroup_and_a_running_sandbox_recreates_its_root() {
    if !cove_probe::privileged("remove_all_leaves_no_cgroup") {
        return;
    }
    let ns = Netns::new();
    let code = std::env::temp_dir().join(format!("hssb-code-{}", std::process::id()));
    std::fs::create_dir_all(&code).expect("code dir");
    for (i, (what, hierarchy)) in variants().into_iter().enumerate() {
        let root = cove_sandbox::CgroupRoot::new(&format!("hssb-{}-{i}", std::process::id()))
            .expect("root");
        let mut config = SandboxConfig::new(
            root.clone(),
            InitProgram::binary(env!("CARGO_BIN_EXE_cove-env-init")),
        );
        config.hierarchy = Some(hierarchy.clone());
        let sandbox = Sandbox::new(Host::new("hssb").expect("prefix"), config).expect("sandbox");
        let dirs = sandbox.root_dirs();
        let spec = |id: &str| {
            EnvSpec::new(
                ns.0.clone(),
                cove_sandbox::EnvId::new(id).expect("id"),
                vec!["sleep".into(), "600".into()],
                &code,
                64,
            )
        };
        let running = sandbox
            .launch(&spec("a"), EnvStdio::null())
            .expect("launch");
        let pid = running.pid();
        let report = cove_sandbox::remove_all(&root, Some(hierarchy.clone())).expect("remove all");
        assert_eq!(report.reaped, vec!["a".to_owned()], "{what}");
        let left: Vec<_> = dirs.iter().filter(|d| d.exists()).collect();
        assert!(left.is_empty(), "{what}: cgroups left: {left:?}");
        let exit = running
            .wait_timeout(Duration::from_secs(60))
            .expect("the environment ended")
            .expect("exit");
        assert_eq!(exit.signal, Some(9), "{what}: pid {pid}");
        let _ = running.cleanup();
        // The sandbox lives on (a `cove serve` across a destroy and an apply).
        let again = sandbox
            .launch(&spec("b"), EnvStdio::null())
            .unwrap_or_else(|e| panic!("{what}: launch after remove_all: {e}"));
        again.kill().expect("kill");
        again.cleanup().expect("cleanup");
        cove_sandbox::remove_all(&root, Some(hierarchy)).expect("remove all");
        assert!(dirs.iter().all(|d| !d.exists()), "{what}");
    }
    let _ = std::fs::remove_dir_all(&code);
}
