//! Where an environment's cgroups live and what is written into them (pure).
//!
//! Layout: `<mount>/<parent>/<root>/<environment id>` in every hierarchy cove uses;
//! `<parent>` is empty by default (the top of the hierarchy) and `<root>` is named by
//! the caller (e.g. `cove-<prefix>`). On v1 the hierarchies are memory, pids, cpu,
//! and for killing either the hybrid v2 mount (`cgroup.kill`) or the freezer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cgroup::Controller;
use crate::cgroup::detect::Hierarchy;
use crate::limits::Limits;

/// Where cove's environments live in a host's hierarchies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupBase {
    /// The host's hierarchies.
    pub hierarchy: Hierarchy,
    /// Path of cove's root's parent inside each hierarchy (relative; empty for the top).
    pub parent: PathBuf,
    /// Name of cove's root directory.
    pub root: String,
    /// The limit controllers environments get (v1: those mounted; v2: those enabled
    /// for the root's children).
    pub available: BTreeSet<Controller>,
}

/// One write into a cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupWrite {
    /// The file.
    pub file: PathBuf,
    /// What is written.
    pub value: String,
    /// Skip the write when the kernel does not offer the file (e.g. `memory.swap.max`
    /// without swap accounting).
    pub optional: bool,
}

/// How the whole process tree of an environment is killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillMethod {
    /// Write `1` to this `cgroup.kill` (v2, or the hybrid v2 mount of a v1 host): the
    /// kernel kills every process, including ones forking meanwhile.
    CgroupKill(PathBuf),
    /// v1 freezer: freeze (`freezer.state`), SIGKILL everything listed, thaw; repeat
    /// until the cgroup is empty.
    Freeze(PathBuf),
    /// SIGKILL everything listed until the cgroup is empty (the pids limit bounds how
    /// many processes can be forked meanwhile).
    Signal,
}

/// Everything about one environment's cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvLayout {
    /// Its directories, in creation order (removal goes backwards).
    pub dirs: Vec<PathBuf>,
    /// The `cgroup.procs` files the first process is written to (one per directory).
    pub join: Vec<PathBuf>,
    /// The limits, in order (on v1 the memory limit must precede the memory+swap one).
    pub writes: Vec<CgroupWrite>,
    /// Limit controllers the kernel does not offer here.
    pub missing: Vec<Controller>,
    /// How to kill all of its processes.
    pub kill: KillMethod,
    /// A `cgroup.procs` that lists every process of the environment.
    pub members: PathBuf,
    /// `memory.events` (v2) or `memory.oom_control` (v1), which count OOM kills.
    pub oom_events: Option<PathBuf>,
    /// The directory with the CPU controller and whether it is v2 (for changing the
    /// CPU share of a running environment).
    pub cpu: Option<(PathBuf, bool)>,
}

impl EnvLayout {
    /// The writes that set the environment's CPU quota to `quota_us` per `period_us`
    /// (none without a CPU controller).
    pub fn cpu_writes(&self, quota_us: u64, period_us: u64) -> Vec<CgroupWrite> {
        match &self.cpu {
            Some((dir, v2)) => cpu_writes(dir, *v2, quota_us, period_us),
            None => Vec::new(),
        }
    }
}

impl CgroupBase {
    /// A base on `hierarchy`; on v1 the available controllers are the mounted ones.
    /// On v2 start from `available` being what the parent enabled (see
    /// `ops::prepare_root`).
    pub fn new(hierarchy: Hierarchy, parent: PathBuf, root: String) -> CgroupBase {
        let available = match &hierarchy {
            Hierarchy::V1 { mounts, .. } => mounts
                .iter()
                .flat_map(|m| m.controllers.iter().copied())
                .collect(),
            Hierarchy::V2 { .. } => BTreeSet::new(),
        };
        CgroupBase {
            hierarchy,
            parent,
            root,
            available,
        }
    }

    /// The hierarchies' directories cove uses, each with the controllers it carries:
    /// v2 one; v1 the memory/pids/cpu mounts, then the hybrid v2 mount or else the
    /// freezer.
    fn mounts(&self) -> Vec<(&Path, BTreeSet<Controller>)> {
        match &self.hierarchy {
            Hierarchy::V2 { mount } => vec![(mount.as_path(), self.available.clone())],
            Hierarchy::V1 { mounts, unified } => {
                let mut out: Vec<(&Path, BTreeSet<Controller>)> = mounts
                    .iter()
                    .filter(|m| !m.controllers.is_empty())
                    .map(|m| (m.path.as_path(), m.controllers.clone()))
                    .collect();
                match (unified, mounts.iter().find(|m| m.freezer)) {
                    (Some(u), _) => out.push((u.as_path(), BTreeSet::new())),
                    (None, Some(f)) if f.controllers.is_empty() => {
                        out.push((f.path.as_path(), BTreeSet::new()));
                    }
                    _ => {}
                }
                out
            }
        }
    }

    /// cove's root directory in every hierarchy it uses.
    pub fn root_dirs(&self) -> Vec<PathBuf> {
        self.mounts()
            .into_iter()
            .map(|(m, _)| m.join(&self.parent).join(&self.root))
            .collect()
    }

    /// The layout of environment `id` with `limits`.
    pub fn env(&self, id: &str, limits: &Limits) -> EnvLayout {
        let mut dirs = Vec::new();
        let mut writes = Vec::new();
        let v2 = matches!(self.hierarchy, Hierarchy::V2 { .. });
        for (mount, controllers) in self.mounts() {
            let dir = mount.join(&self.parent).join(&self.root).join(id);
            for c in &controllers {
                writes.extend(limit_writes(&dir, *c, limits, v2));
            }
            dirs.push(dir);
        }
        let missing = Controller::ALL
            .into_iter()
            .filter(|c| !self.available.contains(c))
            .collect();
        let find = |c: Controller| {
            self.mounts()
                .into_iter()
                .find(|(_, cs)| cs.contains(&c))
                .map(|(m, _)| m.join(&self.parent).join(&self.root).join(id))
        };
        let cpu = find(Controller::Cpu).map(|d| (d, v2));
        let oom_events = find(Controller::Memory).map(|d| {
            d.join(if v2 {
                "memory.events"
            } else {
                "memory.oom_control"
            })
        });
        // The last directory is the one that can kill: v2's only one, a v1 host's
        // hybrid v2 mount or freezer (when present).
        let last = dirs.last().cloned().unwrap_or_default();
        let kill = match &self.hierarchy {
            Hierarchy::V2 { .. } => KillMethod::CgroupKill(last.join("cgroup.kill")),
            Hierarchy::V1 {
                unified: Some(_), ..
            } => KillMethod::CgroupKill(last.join("cgroup.kill")),
            Hierarchy::V1 { mounts, .. }
                if mounts
                    .iter()
                    .any(|m| m.freezer && last.starts_with(&m.path)) =>
            {
                KillMethod::Freeze(last.join("freezer.state"))
            }
            Hierarchy::V1 { .. } => KillMethod::Signal,
        };
        EnvLayout {
            join: dirs.iter().map(|d| d.join("cgroup.procs")).collect(),
            members: last.join("cgroup.procs"),
            dirs,
            writes,
            missing,
            kill,
            oom_events,
            cpu,
        }
    }
}

fn limit_writes(dir: &Path, c: Controller, l: &Limits, v2: bool) -> Vec<CgroupWrite> {
    let w = |file: &str, value: String, optional| CgroupWrite {
        file: dir.join(file),
        value,
        optional,
    };
    let mem = l.memory_bytes.to_string();
    match (c, v2) {
        (Controller::Memory, true) => vec![
            w("memory.max", mem, false),
            w("memory.swap.max", "0".into(), true),
            // An OOM kill takes the whole environment, as it does on Lambda.
            w("memory.oom.group", "1".into(), true),
        ],
        (Controller::Memory, false) => vec![
            w("memory.limit_in_bytes", mem.clone(), false),
            w("memory.memsw.limit_in_bytes", mem, true),
        ],
        (Controller::Pids, _) => vec![w("pids.max", l.pids_max.to_string(), false)],
        (Controller::Cpu, v2) => cpu_writes(dir, v2, l.cpu_quota_us, l.cpu_period_us),
    }
}

fn cpu_writes(dir: &Path, v2: bool, quota_us: u64, period_us: u64) -> Vec<CgroupWrite> {
    let w = |file: &str, value: String| CgroupWrite {
        file: dir.join(file),
        value,
        optional: false,
    };
    if v2 {
        vec![w("cpu.max", format!("{quota_us} {period_us}"))]
    } else {
        vec![
            w("cpu.cfs_period_us", period_us.to_string()),
            w("cpu.cfs_quota_us", quota_us.to_string()),
        ]
    }
}

/// The value of `key` in a flat keyed file such as `memory.events` (v2) or
/// `memory.oom_control` (v1): lines of `key value`.
pub fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// The pids listed in a `cgroup.procs` text.
pub fn parse_procs(text: &str) -> Vec<i32> {
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::detect::V1Mount;
    use crate::limits::CpuPolicy;

    fn v1(unified: bool, freezer: bool, pids: bool) -> Hierarchy {
        let m = |p: &str, c: &[Controller], f| V1Mount {
            path: PathBuf::from(p),
            controllers: c.iter().copied().collect(),
            freezer: f,
        };
        let mut mounts = vec![
            m("/cg/cpu", &[Controller::Cpu], false),
            m("/cg/memory", &[Controller::Memory], false),
        ];
        if pids {
            mounts.push(m("/cg/pids", &[Controller::Pids], false));
        }
        if freezer {
            mounts.push(m("/cg/freezer", &[], true));
        }
        Hierarchy::V1 {
            mounts,
            unified: unified.then(|| PathBuf::from("/cg/unified")),
        }
    }

    fn limits() -> Limits {
        Limits::new(256, 64, &CpuPolicy::default())
    }

    fn files(l: &EnvLayout) -> Vec<(String, String, bool)> {
        l.writes
            .iter()
            .map(|w| (w.file.display().to_string(), w.value.clone(), w.optional))
            .collect()
    }

    #[test]
    fn v1_hybrid_host() {
        let base = CgroupBase::new(v1(true, true, true), PathBuf::new(), "cvsb-r".into());
        assert_eq!(
            base.available,
            BTreeSet::from([Controller::Memory, Controller::Pids, Controller::Cpu])
        );
        let l = base.env("e1", &limits());
        let dirs: Vec<String> = l.dirs.iter().map(|d| d.display().to_string()).collect();
        assert_eq!(
            dirs,
            [
                "/cg/cpu/cvsb-r/e1",
                "/cg/memory/cvsb-r/e1",
                "/cg/pids/cvsb-r/e1",
                "/cg/unified/cvsb-r/e1"
            ]
        );
        let bytes = (256u64 << 20).to_string();
        assert_eq!(
            files(&l),
            [
                (
                    "/cg/cpu/cvsb-r/e1/cpu.cfs_period_us".into(),
                    "100000".into(),
                    false
                ),
                // 256 MiB buy 256/1769 = 0.144 CPU: 14.4 ms per 100 ms.
                (
                    "/cg/cpu/cvsb-r/e1/cpu.cfs_quota_us".into(),
                    "14400".into(),
                    false
                ),
                (
                    "/cg/memory/cvsb-r/e1/memory.limit_in_bytes".into(),
                    bytes.clone(),
                    false
                ),
                (
                    "/cg/memory/cvsb-r/e1/memory.memsw.limit_in_bytes".into(),
                    bytes,
                    true
                ),
                ("/cg/pids/cvsb-r/e1/pids.max".into(), "64".into(), false),
            ]
        );
        assert_eq!(
            l.kill,
            KillMethod::CgroupKill("/cg/unified/cvsb-r/e1/cgroup.kill".into())
        );
        assert_eq!(
            l.members,
            PathBuf::from("/cg/unified/cvsb-r/e1/cgroup.procs")
        );
        assert_eq!(
            l.oom_events,
            Some(PathBuf::from("/cg/memory/cvsb-r/e1/memory.oom_control"))
        );
        assert_eq!(l.join.len(), 4);
        assert!(l.missing.is_empty());
        let boost: Vec<(String, String)> = l
            .cpu_writes(200_000, 100_000)
            .into_iter()
            .map(|w| (w.file.display().to_string(), w.value))
            .collect();
        assert_eq!(
            boost,
            [
                (
                    "/cg/cpu/cvsb-r/e1/cpu.cfs_period_us".into(),
                    "100000".into()
                ),
                ("/cg/cpu/cvsb-r/e1/cpu.cfs_quota_us".into(), "200000".into()),
            ]
        );
        assert_eq!(base.root_dirs().len(), 4);
    }

    #[test]
    fn v1_without_unified_freezes_and_without_freezer_signals() {
        let base = CgroupBase::new(v1(false, true, false), "sub".into(), "r".into());
        let l = base.env("e", &limits());
        assert_eq!(
            l.kill,
            KillMethod::Freeze("/cg/freezer/sub/r/e/freezer.state".into())
        );
        assert_eq!(l.missing, [Controller::Pids]);
        assert!(!l.writes.iter().any(|w| w.file.ends_with("pids.max")));

        let bare = CgroupBase::new(v1(false, false, true), PathBuf::new(), "r".into());
        let l = bare.env("e", &limits());
        assert_eq!(l.kill, KillMethod::Signal);
        assert_eq!(l.members, PathBuf::from("/cg/pids/r/e/cgroup.procs"));
    }

    #[test]
    fn v2_host() {
        let mut base = CgroupBase::new(
            Hierarchy::V2 {
                mount: "/sys/fs/cgroup".into(),
            },
            "cove.slice".into(),
            "cove-p".into(),
        );
        base.available = BTreeSet::from([Controller::Memory, Controller::Cpu]);
        let l = base.env("e", &Limits::new(3538, 1024, &CpuPolicy::default()));
        let d = "/sys/fs/cgroup/cove.slice/cove-p/e";
        assert_eq!(l.dirs, [PathBuf::from(d)]);
        let bytes = (3538u64 << 20).to_string();
        assert_eq!(
            files(&l),
            [
                (format!("{d}/memory.max"), bytes, false),
                (format!("{d}/memory.swap.max"), "0".into(), true),
                (format!("{d}/memory.oom.group"), "1".into(), true),
                // 3538 MiB = two CPUs.
                (format!("{d}/cpu.max"), "200000 100000".into(), false),
            ]
        );
        assert_eq!(l.missing, [Controller::Pids]);
        assert_eq!(
            l.kill,
            KillMethod::CgroupKill(format!("{d}/cgroup.kill").into())
        );
        assert_eq!(l.oom_events, Some(format!("{d}/memory.events").into()));
        let boost = l.cpu_writes(50_000, 100_000);
        assert_eq!(boost.len(), 1);
        assert_eq!(boost[0].file, PathBuf::from(format!("{d}/cpu.max")));
        assert_eq!(boost[0].value, "50000 100000");
        base.available.remove(&Controller::Cpu);
        let no_cpu = base.env("e", &Limits::new(128, 1, &CpuPolicy::default()));
        assert!(no_cpu.cpu_writes(1, 1).is_empty());
        assert!(!no_cpu.writes.iter().any(|w| w.file.ends_with("cpu.max")));
    }

    #[test]
    fn oom_counters() {
        let v2 = "low 0\nhigh 0\nmax 31\noom 2\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(keyed_value(v2, "oom_kill"), Some(1));
        assert_eq!(keyed_value(v2, "oom"), Some(2));
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed_value(v1, "oom_kill"), Some(3));
        assert_eq!(keyed_value("oom_kill_disable 0\n", "oom_kill"), None);
        assert_eq!(keyed_value("oom_kill x\n", "oom_kill"), None);
    }

    #[test]
    fn procs() {
        assert_eq!(parse_procs("12\n345\n\n"), [12, 345]);
        assert!(parse_procs("").is_empty());
    }
}
