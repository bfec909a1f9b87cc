//! The environment's own root file system (pure): what it contains, in order.
//!
//! The init builds it on a small tmpfs mounted at [`STAGING_DIR`] in the
//! environment's private mount namespace, then `pivot_root`s into it, so nothing of
//! the host is visible but what is listed here:
//!
//! * the code read-only at `/var/task`, the runtime directory read-only at `/opt`;
//! * the host's system directories read-only ([`SYSTEM_DIRS`]: `/usr` and the
//!   merged-usr links `/bin`, `/lib`, …), which hold the interpreters and libraries;
//! * `/bin/sh` is bash, as on Lambda's images (a read-only bind of `/usr/bin/bash`);
//! * a minimal `/dev` ([`DEVICES`], the `/proc/self/fd` links, a private `/dev/shm`);
//! * an `/etc` with only what runtimes need ([`ETC_FILES`]: name resolution, CA
//!   certificates, the dynamic linker's cache, time zone; files copied, directories
//!   bound read-only) and a `passwd`/`group` that name the environment's own user
//!   ([`SANDBOX_USER`]);
//! * a private `/tmp` of the spec's size (ENOSPC beyond it);
//! * `/proc` of the environment's own PID namespace (mounted by its pid 1).
//!
//! Everything else — `/var` (but `/var/task`), `/root`, `/home`, `/run`, `/sys`, the
//! host's `/tmp` and `/proc`, cove's state — does not exist inside. The root itself is
//! read-only once built.

use serde::{Deserialize, Serialize};

use crate::spec::{EnvSpec, RUNTIME_DIR, TASK_DIR, TMP_DIR};

/// Where the init mounts the new root's tmpfs (in its private mount namespace) while
/// it builds it; an empty directory on the host, created once.
pub const STAGING_DIR: &str = "/run/cove-env-root";

/// Size of the root's own tmpfs (directories, mount points, `passwd`, `group`).
pub const ROOT_TMPFS_BYTES: u64 = 1 << 20;

/// Size of the environment's `/dev/shm`, in MiB (charged to its memory as used).
pub const SHM_MIB: u64 = 64;

/// The host's system directories, mirrored read-only: a symbolic link on the host
/// (merged `/usr`) becomes the same link, a directory a read-only bind, a missing one
/// nothing.
pub const SYSTEM_DIRS: [&str; 5] = ["/usr", "/bin", "/sbin", "/lib", "/lib64"];

/// Files and directories of the host's `/etc` the runtimes need, copied (files) or
/// bound read-only (directories) when they exist: name resolution (`resolv.conf`, `hosts`, `nsswitch.conf`, `host.conf`,
/// `gai.conf`, `protocols`, `services`), CA certificates (`ssl`, `ca-certificates`,
/// `ca-certificates.conf`), the dynamic linker (`ld.so.cache`, `ld.so.conf`,
/// `ld.so.conf.d`), the time zone (`localtime`), Debian's `alternatives` links (some
/// interpreters are reached through them) and `mime.types`.
pub const ETC_FILES: [&str; 16] = [
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/protocols",
    "/etc/services",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/mime.types",
];

/// The device nodes of the environment's `/dev`, bound from the host's.
pub const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// The name of the environment's user in its `/etc/passwd` (Lambda's).
pub const SANDBOX_USER: &str = "sbx_user1051";

/// The shell `/bin/sh` is inside an environment (Lambda's images use bash).
pub const SH: &str = "/usr/bin/bash";

/// One step of building the root, in order. Paths are inside the new root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RootStep {
    /// A directory with permissions `mode`.
    Dir {
        /// Path inside the root.
        path: String,
        /// Permission bits.
        mode: u32,
    },
    /// Mirror the host's `path`: a symbolic link becomes the same link, a directory a
    /// read-only bind; nothing when the host has neither.
    System {
        /// Host path, and path inside the root.
        path: String,
    },
    /// Bind the host's `source` (a file or a directory) read-only, `nosuid`, `nodev`
    /// at `target`; with `optional` a missing source is skipped.
    BindReadOnly {
        /// Host path.
        source: String,
        /// Path inside the root.
        target: String,
        /// Skip when `source` does not exist.
        optional: bool,
    },
    /// The host's `path` at the same path, read-only: a file (or a link to one) is
    /// copied into the root (no mount: cheaper than a bind), a directory is bound
    /// read-only; nothing when the host has neither.
    Copy {
        /// Host path, and path inside the root.
        path: String,
    },
    /// Bind the host's device node `path` at the same path (read-write, `nosuid`,
    /// `noexec`).
    Device {
        /// Host path, and path inside the root.
        path: String,
    },
    /// A symbolic link at `path` pointing to `target`.
    Symlink {
        /// Path inside the root.
        path: String,
        /// What it points to.
        target: String,
    },
    /// A fresh tmpfs of `size_bytes` with permissions `mode`, `nosuid`, `nodev`.
    Tmpfs {
        /// Path inside the root.
        target: String,
        /// Size limit in bytes.
        size_bytes: u64,
        /// Permission bits of its root directory.
        mode: u32,
    },
    /// A regular file with `contents` and permissions `mode`.
    File {
        /// Path inside the root.
        path: String,
        /// The file's text.
        contents: String,
        /// Permission bits.
        mode: u32,
    },
}

impl RootStep {
    /// The path inside the root this step creates.
    pub fn path(&self) -> &str {
        match self {
            RootStep::Dir { path, .. }
            | RootStep::System { path }
            | RootStep::Copy { path }
            | RootStep::Device { path }
            | RootStep::Symlink { path, .. }
            | RootStep::File { path, .. } => path,
            RootStep::BindReadOnly { target, .. } | RootStep::Tmpfs { target, .. } => target,
        }
    }
}

/// The steps that build `spec`'s root (which must be valid), parents before
/// children. `/proc` is only a directory here: the environment's pid 1 mounts it.
pub fn layout(spec: &EnvSpec) -> Vec<RootStep> {
    let dir = |path: &str, mode: u32| RootStep::Dir {
        path: path.to_owned(),
        mode,
    };
    let bind = |source: &str, target: &str, optional: bool| RootStep::BindReadOnly {
        source: source.to_owned(),
        target: target.to_owned(),
        optional,
    };
    let link = |path: &str, target: &str| RootStep::Symlink {
        path: path.to_owned(),
        target: target.to_owned(),
    };
    let mut steps: Vec<RootStep> = SYSTEM_DIRS
        .iter()
        .map(|p| RootStep::System {
            path: (*p).to_owned(),
        })
        .collect();
    // Lambda's images have bash as /bin/sh: `provided` bootstraps written for them
    // may use bash-isms. The bind lands on what `/usr/bin/sh` points to.
    steps.push(bind(SH, "/usr/bin/sh", true));
    steps.push(dir("/etc", 0o755));
    for p in ETC_FILES {
        match (&spec.resolv_conf, p) {
            (Some(contents), "/etc/resolv.conf") => steps.push(RootStep::File {
                path: p.to_owned(),
                contents: contents.clone(),
                mode: 0o644,
            }),
            _ => steps.push(RootStep::Copy { path: p.to_owned() }),
        }
    }
    steps.push(RootStep::File {
        path: "/etc/passwd".to_owned(),
        contents: passwd(spec.uid, spec.gid),
        mode: 0o644,
    });
    steps.push(RootStep::File {
        path: "/etc/group".to_owned(),
        contents: group(spec.gid),
        mode: 0o644,
    });
    steps.push(RootStep::Tmpfs {
        target: "/dev".to_owned(),
        size_bytes: 64 << 10,
        mode: 0o755,
    });
    steps.extend(DEVICES.iter().map(|p| RootStep::Device {
        path: (*p).to_owned(),
    }));
    steps.push(link("/dev/fd", "/proc/self/fd"));
    steps.push(link("/dev/stdin", "/proc/self/fd/0"));
    steps.push(link("/dev/stdout", "/proc/self/fd/1"));
    steps.push(link("/dev/stderr", "/proc/self/fd/2"));
    steps.push(RootStep::Tmpfs {
        target: "/dev/shm".to_owned(),
        size_bytes: SHM_MIB << 20,
        mode: 0o1777,
    });
    steps.push(dir("/proc", 0o555));
    steps.push(RootStep::Tmpfs {
        target: TMP_DIR.to_owned(),
        size_bytes: spec.tmp_mib << 20,
        mode: 0o1777,
    });
    steps.push(dir("/var", 0o755));
    steps.push(bind(&path_str(&spec.code_dir), TASK_DIR, false));
    if let Some(rt) = &spec.runtime_dir {
        steps.push(bind(&path_str(rt), RUNTIME_DIR, false));
    } else {
        steps.push(dir(RUNTIME_DIR, 0o755));
    }
    steps
}

fn path_str(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The environment's `/etc/passwd`: root (for file owners), its own user with home
/// `/tmp` (the only writable place), and `nobody`.
pub fn passwd(uid: u32, gid: u32) -> String {
    format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n\
         {SANDBOX_USER}:x:{uid}:{gid}::/tmp:/usr/sbin/nologin\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
}

/// The environment's `/etc/group`.
pub fn group(gid: u32) -> String {
    format!("root:x:0:\n{SANDBOX_USER}:x:{gid}:\nnogroup:x:65534:\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> EnvSpec {
        let mut s = EnvSpec::new(
            "ns",
            crate::EnvId::new("e1").expect("id"),
            vec!["python3".into()],
            "/srv/code/a",
            128,
        );
        s.runtime_dir = Some("/srv/rt".into());
        s.tmp_mib = 10;
        s.uid = 200_007;
        s.gid = 200_007;
        s
    }

    fn paths(steps: &[RootStep]) -> Vec<&str> {
        steps.iter().map(RootStep::path).collect()
    }

    #[test]
    fn only_what_runtimes_need_is_in_the_root() {
        let steps = layout(&spec());
        let tops: std::collections::BTreeSet<&str> = paths(&steps)
            .into_iter()
            .map(|p| p.split('/').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(
            tops.into_iter().collect::<Vec<_>>(),
            [
                "bin", "dev", "etc", "lib", "lib64", "opt", "proc", "sbin", "tmp", "usr", "var"
            ]
        );
        // Nothing of the host's state, homes, runtime state or kernel interfaces.
        for hidden in ["/var/lib", "/root", "/home", "/run", "/sys", "/var/tmp"] {
            assert!(
                !paths(&steps).iter().any(|p| p.starts_with(hidden)),
                "{hidden}"
            );
        }
        assert!(paths(&steps).iter().all(|p| p.starts_with('/')));
    }

    #[test]
    fn a_given_resolv_conf_replaces_the_hosts() {
        let copied = layout(&spec());
        assert!(
            copied
                .iter()
                .any(|s| matches!(s, RootStep::Copy { path } if path == "/etc/resolv.conf"))
        );
        let mut with = spec();
        with.resolv_conf = Some("nameserver 10.20.0.2\n".to_owned());
        let steps = layout(&with);
        let resolv: Vec<&RootStep> = steps
            .iter()
            .filter(|s| s.path() == "/etc/resolv.conf")
            .collect();
        assert_eq!(
            resolv,
            vec![&RootStep::File {
                path: "/etc/resolv.conf".to_owned(),
                contents: "nameserver 10.20.0.2\n".to_owned(),
                mode: 0o644,
            }]
        );
    }

    #[test]
    fn parents_come_before_children() {
        let steps = layout(&spec());
        let all = paths(&steps);
        for (i, p) in all.iter().enumerate() {
            let parent = p.rsplit_once('/').map_or("", |(a, _)| a);
            if parent.is_empty() || parent == "/usr/bin" {
                continue;
            }
            let at = all.iter().position(|q| *q == parent);
            assert!(at.is_some_and(|at| at < i), "{p} before its parent");
        }
    }

    #[test]
    fn code_runtime_and_tmp() {
        let steps = layout(&spec());
        assert!(steps.contains(&RootStep::BindReadOnly {
            source: "/srv/code/a".into(),
            target: "/var/task".into(),
            optional: false
        }));
        assert!(steps.contains(&RootStep::BindReadOnly {
            source: "/srv/rt".into(),
            target: "/opt".into(),
            optional: false
        }));
        assert!(steps.contains(&RootStep::Tmpfs {
            target: "/tmp".into(),
            size_bytes: 10 << 20,
            mode: 0o1777
        }));
        let mut no_rt = spec();
        no_rt.runtime_dir = None;
        assert!(layout(&no_rt).contains(&RootStep::Dir {
            path: "/opt".into(),
            mode: 0o755
        }));
    }

    #[test]
    fn etc_names_the_environments_user() {
        let steps = layout(&spec());
        let passwd_text = steps.iter().find_map(|s| match s {
            RootStep::File { path, contents, .. } if path == "/etc/passwd" => Some(contents),
            _ => None,
        });
        assert_eq!(
            passwd_text.and_then(|t| t.lines().nth(1)),
            Some("sbx_user1051:x:200007:200007::/tmp:/usr/sbin/nologin")
        );
        assert!(group(5).contains("sbx_user1051:x:5:"));
        // Host files in /etc are copied (directories bound) when they exist.
        for f in ETC_FILES {
            assert!(steps.contains(&RootStep::Copy { path: f.into() }));
        }
        assert!(
            !ETC_FILES
                .iter()
                .any(|f| f.ends_with("shadow") || f.ends_with("passwd"))
        );
    }

    #[test]
    fn dev_is_minimal_and_sh_is_bash() {
        let steps = layout(&spec());
        let devices: Vec<&str> = steps
            .iter()
            .filter_map(|s| match s {
                RootStep::Device { path } => Some(path.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(devices, DEVICES);
        assert!(steps.contains(&RootStep::BindReadOnly {
            source: "/usr/bin/bash".into(),
            target: "/usr/bin/sh".into(),
            optional: true
        }));
    }
}
