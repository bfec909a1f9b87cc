//! cove's function execution environments.
//!
//! An environment is a language runtime (`python3 -m awslambdaric …`, `node …`, a
//! compiled `bootstrap`) running as an isolated, limited, killable process tree in an
//! ENI's network namespace:
//!
//! * its own **root file system** (`pivot_root` into a tmpfs, [`init::root`]): the
//!   function's code read-only at `/var/task`, an optional runtime directory
//!   read-only at `/opt`, the host's `/usr` read-only, a minimal `/dev` and `/etc`, a
//!   private size-limited tmpfs at `/tmp`, `/proc` of its own PID namespace; nothing
//!   else of the host;
//! * its own **PID, mount, IPC and UTS namespaces**, and a **seccomp filter**
//!   ([`init::seccomp`]: no namespaces, mounts, tracing, kernel interfaces);
//! * an **unprivileged user** (default `nobody`/`nogroup`, no supplementary groups),
//!   no capabilities, `no_new_privs`, exactly the given environment variables;
//! * a **cgroup** per environment (v1 or v2, detected) with a hard memory limit and no
//!   swap, a CPU quota in proportion to memory, a process limit; OOM kills counted;
//! * **killed as a whole** (`cgroup.kill`, or the v1 freezer) and removed on cleanup;
//!   environments left behind by a killed cove are found and removed by
//!   [`Sandbox::reap_stale`].
//!
//! The workspace forbids `unsafe`, so nothing runs between `fork` and `exec`: the
//! launcher starts a small init program ([`init_main`], built as `cove-env-init`) in
//! the namespace with `cove_host::Host::spawn`, moves it into the cgroups, and sends
//! it its instructions ([`init::config::InitConfig`]) on standard input. The init
//! (in three stages: setup, the PID namespace's pid 1, exec) builds the root, sets
//! limits, drops privileges, installs the filter and `execve`s the runtime. Every
//! decision (layout, limits, mounts, program lookup) is pure and unit-tested; the
//! shell (`cgroup::ops`, the init's `run`) only carries them out.

mod error;
mod ids;
mod limits;
mod running;
mod sandbox;
mod spec;

pub mod cgroup;
pub mod init;

pub use crate::cgroup::Controller;
pub use crate::cgroup::detect::{CgroupVersion, Hierarchy, V1Mount};
pub use crate::error::SandboxError;
pub use crate::ids::{CgroupRoot, EnvId};
pub use crate::init::config::DEFAULT_PATH;
pub use crate::init::run::init_main;
pub use crate::limits::{CpuPolicy, Limits};
pub use crate::running::{Exit, Exited, LaunchPhases, LaunchReport, Running};
pub use crate::sandbox::{
    EnvStdio, INIT_PROCESSES, InitProgram, ReapReport, Sandbox, SandboxConfig, reap_stale,
    remove_all,
};
pub use crate::spec::{
    DEFAULT_NOFILE, DEFAULT_PIDS_MAX, DEFAULT_TMP_MIB, EnvSpec, MAX_ID_LEN, MAX_MEMORY_MIB,
    MIN_MEMORY_MIB, NOBODY, RUNTIME_DIR, TASK_DIR, TMP_DIR,
};
