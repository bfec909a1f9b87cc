//! What an interrupted namespace create or delete leaves under `/run/netns` (a
//! process killed between creating the file and mounting the namespace on it, or
//! between unmounting and removing it: `kill -9` of `cove serve` mid-reconcile) is
//! a plain file the observers skip, so no plan removed it and it leaked. A
//! reconcile removes it under the prefix lock, and the continuous reconciler does
//! on an otherwise in-sync kernel. Privileged (root; `CI=true` must not skip);
//! prefix `cvhdlo…`, destroyed when the test ends (also when it fails).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use cove_deploy::{Deployment, Kernel as _, Prefix, Reconciler, ReconcilerConfig, Target, Tick};

/// A reconciler of a deployment under `cvhdlo<pid>`, destroyed when dropped.
struct Fixture {
    reconciler: Reconciler<cove_deploy::HostKernel>,
    prefix: String,
    _state: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let state = tempfile::tempdir().expect("state dir");
        let prefix = format!("cvhdlo{}", std::process::id() % 100_000);
        let target = Target::new(
            Prefix::new(&prefix).expect("prefix"),
            state.path().to_owned(),
            Duration::from_secs(30),
        );
        let config = ReconcilerConfig {
            holder: "leftovers".to_owned(),
            lease_ttl: Duration::from_secs(60),
            poll: Duration::from_millis(10),
            drift_every: Duration::ZERO,
            idempotency_ttl: cove_deploy::reconciler::IDEMPOTENCY_TTL,
            sweep_every: Duration::from_secs(3600),
            scale_every: Duration::from_secs(3600),
            shared_eni_connections: cove_deploy::shared_scale::SHARED_ENI_CONNECTIONS,
            failback_after: cove_deploy::failover::FAILBACK_AFTER,
            dns_upstreams: Vec::new(),
            dns_fast_path: true,
            objects_listen: None,
        };
        Fixture {
            reconciler: Reconciler::new(Deployment::open(target).expect("open"), config),
            prefix,
            _state: state,
        }
    }

    fn d(&self) -> &Deployment {
        self.reconciler.deployment()
    }

    /// The prefix's entries under `/run/netns` (namespaces and leftovers), sorted.
    fn entries(&self) -> Vec<String> {
        let mine = format!("{}-", self.prefix);
        let mut v: Vec<String> = std::fs::read_dir(cove_host::NETNS_DIR)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&mine))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn leftovers(&self) -> Vec<String> {
        let mut v = self.d().kernel().leftovers().expect("leftovers");
        v.sort();
        v
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Ok(lock) = self.d().lock("cleanup") {
            let _ = self.d().destroy(&lock);
        }
    }
}

fn path(ns: &str) -> PathBuf {
    Path::new(cove_host::NETNS_DIR).join(ns)
}

/// Unmounts namespace `ns` and leaves its file: an interrupted delete.
fn interrupt_delete(ns: &str) {
    let out = Command::new("timeout")
        .args(["10", "umount", "-l"])
        .arg(path(ns))
        .output()
        .expect("umount");
    assert!(
        out.status.success(),
        "umount {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(path(ns).exists());
}

#[test]
fn leftovers_of_interrupted_creates_and_deletes_are_removed() {
    if !cove_probe::privileged("leftovers_of_interrupted_creates_and_deletes_are_removed") {
        return;
    }
    let mut f = Fixture::new();
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/secure-compute.yaml");
    let text = std::fs::read_to_string(&example).expect("example");
    {
        let lock = f.d().lock("test").expect("lock");
        f.d().set_spec(&lock, &example, &text).expect("spec");
        f.d().reconcile(&lock).expect("reconcile");
    }
    let desired = f.entries();
    assert!(f.leftovers().is_empty());
    // An interrupted delete of a desired namespace and an interrupted create of
    // one that is not desired.
    let victim = desired
        .iter()
        .find(|n| n.contains("-e-"))
        .expect("an ENI namespace")
        .clone();
    interrupt_delete(&victim);
    let stray = format!("{}-e-cvhd0000", f.prefix);
    std::fs::File::create(path(&stray)).expect("a leftover file");
    let mut want_leftovers = vec![victim.clone(), stray.clone()];
    want_leftovers.sort();
    assert_eq!(f.leftovers(), want_leftovers);
    // `cove apply`'s path: the reconcile removes both and makes the victim again.
    {
        let lock = f.d().lock("test").expect("lock");
        let applied = f.d().reconcile(&lock).expect("reconcile");
        assert!(applied.changes > 0, "{applied:?}");
        assert!(f.leftovers().is_empty(), "{:?}", f.leftovers());
        assert_eq!(f.entries(), desired);
        assert!(f.d().plan().expect("plan").changes.is_empty(), "in sync");
    }
    // The continuous reconciler on an in-sync kernel: a leftover is drift.
    assert!(matches!(
        f.reconciler.tick().expect("tick"),
        Tick::InSync | Tick::Applied { ops: 0, .. }
    ));
    std::fs::File::create(path(&stray)).expect("a leftover file");
    let tick = f.reconciler.tick().expect("tick");
    assert!(
        matches!(tick, Tick::Applied { drift: true, ops, .. } if ops >= 1),
        "{tick:?}"
    );
    assert!(f.leftovers().is_empty(), "{:?}", f.leftovers());
    assert_eq!(f.entries(), desired);
    assert_eq!(f.reconciler.tick().expect("tick"), Tick::InSync);
}
