//! Every way of killing an environment's process tree, on this host's hierarchies:
//! `cgroup.kill` (v2, or the hybrid v2 mount of a v1 host), the v1 freezer, and plain
//! signals over `cgroup.procs`; and the v2 code path without any controller (limits
//! reported missing, the launch still works).
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::path::PathBuf;

use common::*;
use cove_host::Host;
use cove_sandbox::{
    CgroupVersion, Controller, EnvStdio, Hierarchy, Sandbox, SandboxConfig, V1Mount,
};

/// The hierarchies to try: the detected one, and on a v1 host also the freezer only,
/// signals only, and the hybrid v2 mount as if it were a v2 host without controllers.
fn variants() -> Vec<(&'static str, Hierarchy)> {
    let detected = Hierarchy::detect().expect("cgroups");
    let mut out = vec![("detected", detected.clone())];
    if let Hierarchy::V1 { mounts, unified } = detected {
        let no_freezer: Vec<V1Mount> = mounts.iter().filter(|m| !m.freezer).cloned().collect();
        if mounts.iter().any(|m| m.freezer) {
            out.push((
                "v1 freezer",
                Hierarchy::V1 {
                    mounts: mounts.clone(),
                    unified: None,
                },
            ));
        }
        out.push((
            "v1 signals",
            Hierarchy::V1 {
                mounts: no_freezer,
                unified: None,
            },
        ));
        if let Some(mount) = unified {
            out.push(("v2 without controllers", Hierarchy::V2 { mount }));
        }
    }
    out
}

/// Forks forever: children sleep, refused forks are retried.
const FORK_FOREVER: &str = r#"
import os, time
while True:
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    except OSError:
        time.sleep(0.001)
"#;

/// A sandbox on `hierarchy` with its own root, removed (with its environments) on
/// drop.
struct Scoped {
    sandbox: Sandbox,
}

impl Drop for Scoped {
    fn drop(&mut self) {
        let _ = self.sandbox.reap_stale(|_| false);
        let _ = self.sandbox.remove_root();
    }
}

#[test]
fn every_kill_method_takes_the_whole_tree() {
    if !privileged("every_kill_method_takes_the_whole_tree") {
        return;
    }
    let f = Fixture::new();
    for (name, hierarchy) in variants() {
        let mut config = SandboxConfig::new(
            cove_sandbox::CgroupRoot::new(&unique()).expect("root"),
            init(),
        );
        config.hierarchy = Some(hierarchy);
        let s = Scoped {
            sandbox: Sandbox::new(Host::new("hisb").expect("prefix"), config).expect(name),
        };
        let limited = !s
            .sandbox
            .missing_controllers()
            .contains_key(&Controller::Pids);
        // With a pids limit: a program that never stops forking (and shrugs off
        // refused forks). Without one: a fixed tree of five.
        let (argv, at_least) = if limited {
            ([PYTHON, "-c", FORK_FOREVER, ""], 10)
        } else {
            (
                [
                    "sh",
                    "-c",
                    "sleep 600 & sh -c 'sleep 600 & sleep 600 & wait' & wait",
                    "",
                ],
                5,
            )
        };
        let mut spec = f.spec("tree", &argv[..3], 64);
        spec.pids_max = 32;
        let running = s.sandbox.launch(&spec, EnvStdio::null()).expect(name);
        let seen = eventually(name, || {
            let p = running.processes().ok()?;
            (p.len() >= at_least).then_some(p)
        });
        running.kill().expect(name);
        assert!(running.processes().expect(name).is_empty(), "{name}");
        // A killed task leaves its cgroup (so `processes()` is empty) a moment
        // before it becomes a zombie: wait for that moment, bounded.
        eventually(&format!("{name}: every process is gone"), || {
            seen.iter().all(|&p| dead(p)).then_some(())
        });
        assert_eq!(wait(&running).signal, Some(9), "{name}");
        let dirs = running.cgroup_dirs().to_vec();
        running.cleanup().expect(name);
        assert_eq!(any_exists(&dirs), Vec::<PathBuf>::new(), "{name}");
    }
}

#[test]
fn without_controllers_the_launch_works_and_says_what_is_missing() {
    if !privileged("without_controllers_the_launch_works_and_says_what_is_missing") {
        return;
    }
    let Some((_, hierarchy)) = variants()
        .into_iter()
        .find(|(n, _)| *n == "v2 without controllers")
    else {
        // A v2 host with controllers: the other tests cover its limits.
        assert_eq!(
            Hierarchy::detect().expect("cgroups").version(),
            CgroupVersion::V2
        );
        return;
    };
    let f = Fixture::new();
    let mut config = SandboxConfig::new(
        cove_sandbox::CgroupRoot::new(&unique()).expect("root"),
        init(),
    );
    config.hierarchy = Some(hierarchy);
    let s = Scoped {
        sandbox: Sandbox::new(Host::new("hisb").expect("prefix"), config).expect("sandbox"),
    };
    assert_eq!(s.sandbox.cgroup_version(), CgroupVersion::V2);
    let missing = s.sandbox.missing_controllers();
    assert_eq!(
        missing.keys().copied().collect::<Vec<_>>(),
        Controller::ALL.to_vec()
    );
    assert!(
        missing.values().all(|why| why.contains("not offered")),
        "{missing:?}"
    );
    let running = s
        .sandbox
        .launch(
            &f.spec("bare", &["sh", "-c", "exit 3"], 64),
            EnvStdio::null(),
        )
        .expect("launch");
    assert_eq!(running.report().missing, Controller::ALL.to_vec());
    let exit = wait(&running);
    assert_eq!(exit.code, Some(3));
    assert_eq!(exit.oom_kills, None, "no memory controller, no OOM count");
    running.cleanup().expect("cleanup");
}
