//! Which cgroup hierarchies this host has: cgroup v2 (unified) when
//! `/sys/fs/cgroup/cgroup.controllers` exists, otherwise the v1 hierarchies listed in
//! `/proc/self/mountinfo` (plus a hybrid v2 mount, which cove uses to kill and count
//! an environment's processes even though it has no controllers).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cgroup::Controller;
use crate::error::SandboxError;

/// Where the unified hierarchy is mounted on a v2 host.
pub const V2_MOUNT: &str = "/sys/fs/cgroup";

/// A host's cgroup hierarchies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v2: one unified hierarchy.
    V2 {
        /// Its mount point.
        mount: PathBuf,
    },
    /// cgroup v1: one hierarchy per mounted controller group.
    V1 {
        /// The v1 hierarchies cove uses (memory, pids, cpu, freezer).
        mounts: Vec<V1Mount>,
        /// A v2 mount beside them (hybrid hosts), without controllers.
        unified: Option<PathBuf>,
    },
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Mount {
    /// Its mount point.
    pub path: PathBuf,
    /// The controllers cove uses that it carries.
    pub controllers: BTreeSet<Controller>,
    /// Whether it carries the freezer.
    pub freezer: bool,
}

impl Hierarchy {
    /// Detects the hierarchies of this host (see the module documentation).
    pub fn detect() -> Result<Hierarchy, SandboxError> {
        if Path::new(V2_MOUNT).join("cgroup.controllers").exists() {
            return Ok(Hierarchy::V2 {
                mount: PathBuf::from(V2_MOUNT),
            });
        }
        let path = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(path).map_err(|source| SandboxError::ReadCgroup {
            path: path.to_path_buf(),
            source,
        })?;
        let h = Hierarchy::from_mountinfo(&text);
        match &h {
            Hierarchy::V1 { mounts, unified } if mounts.is_empty() && unified.is_none() => {
                Err(SandboxError::NoCgroups)
            }
            _ => Ok(h),
        }
    }

    /// The v1 hierarchies (and a hybrid v2 mount) listed in a `mountinfo` text.
    pub fn from_mountinfo(text: &str) -> Hierarchy {
        let mut mounts: Vec<V1Mount> = Vec::new();
        let mut unified = None;
        for line in text.lines() {
            let Some(m) = parse_line(line) else { continue };
            match m.fstype {
                "cgroup2" if unified.is_none() => unified = Some(m.mount_point),
                "cgroup" => {
                    let opts: Vec<&str> = m.super_options.split(',').collect();
                    let controllers: BTreeSet<Controller> = opts
                        .iter()
                        .filter_map(|o| Controller::from_name(o))
                        .collect();
                    let freezer = opts.contains(&"freezer");
                    let seen = mounts
                        .iter()
                        .any(|v| v.controllers == controllers && v.freezer == freezer);
                    if (!controllers.is_empty() || freezer) && !seen {
                        mounts.push(V1Mount {
                            path: m.mount_point,
                            controllers,
                            freezer,
                        });
                    }
                }
                _ => {}
            }
        }
        Hierarchy::V1 { mounts, unified }
    }

    /// `v1` or `v2`.
    pub fn version(&self) -> CgroupVersion {
        match self {
            Hierarchy::V2 { .. } => CgroupVersion::V2,
            Hierarchy::V1 { .. } => CgroupVersion::V1,
        }
    }
}

/// The cgroup version of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// Per-controller hierarchies (`memory.limit_in_bytes`, …).
    V1,
    /// The unified hierarchy (`memory.max`, …).
    V2,
}

struct MountLine<'a> {
    mount_point: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

/// One `mountinfo` line: `id parent dev root mount-point options [tags…] - fstype
/// source super-options`.
fn parse_line(line: &str) -> Option<MountLine<'_>> {
    let (head, tail) = line.split_once(" - ")?;
    let mount_point = head.split(' ').nth(4)?;
    let mut tail = tail.split(' ');
    let fstype = tail.next()?;
    let _source = tail.next()?;
    let super_options = tail.next().unwrap_or("");
    Some(MountLine {
        mount_point: PathBuf::from(unescape(mount_point)),
        fstype,
        super_options,
    })
}

/// Undoes `mountinfo`'s octal escapes (`\040` for a space, …).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal.and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok()) {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine kind's mounts (cgroup v1, hybrid v2 without controllers).
    const HYBRID: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 24 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:29 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:32 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:34 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:35 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_v1_host() {
        let Hierarchy::V1 { mounts, unified } = Hierarchy::from_mountinfo(HYBRID) else {
            panic!("v1 expected");
        };
        assert_eq!(unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        let got: Vec<(String, Vec<Controller>, bool)> = mounts
            .iter()
            .map(|m| {
                (
                    m.path.display().to_string(),
                    m.controllers.iter().copied().collect(),
                    m.freezer,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("/sys/fs/cgroup/cpu".into(), vec![Controller::Cpu], false),
                (
                    "/sys/fs/cgroup/memory".into(),
                    vec![Controller::Memory],
                    false
                ),
                ("/sys/fs/cgroup/freezer".into(), vec![], true),
                ("/sys/fs/cgroup/pids".into(), vec![Controller::Pids], false),
            ]
        );
    }

    #[test]
    fn co_mounted_controllers_and_escaped_paths() {
        let text = "\
1 0 0:1 / /cg/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
2 0 0:2 / /cg/my\\040mem rw shared:3 - cgroup none rw,memory,freezer
3 0 0:2 / /elsewhere/mem rw - cgroup none rw,memory,freezer
";
        let Hierarchy::V1 { mounts, unified } = Hierarchy::from_mountinfo(text) else {
            panic!("v1 expected");
        };
        assert_eq!(unified, None);
        assert_eq!(
            mounts.len(),
            2,
            "the bind mount of the same hierarchy is skipped"
        );
        assert_eq!(mounts[0].controllers, BTreeSet::from([Controller::Cpu]));
        assert_eq!(mounts[1].path, PathBuf::from("/cg/my mem"));
        assert!(mounts[1].freezer);
    }

    #[test]
    fn nothing_mounted() {
        let h = Hierarchy::from_mountinfo("garbage\n1 0 0:1 / / rw - ext4 /dev/vda rw\n");
        assert_eq!(
            h,
            Hierarchy::V1 {
                mounts: vec![],
                unified: None
            }
        );
    }
}
