//! The launcher: [`Sandbox::launch`] creates the environment's cgroups, starts the
//! init in the ENI's namespace, moves it into the cgroups, sends its instructions and
//! waits for the runtime's `execve`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{self, Read as _, Write as _};
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Component, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cove_host::Host;

use crate::cgroup::Controller;
use crate::cgroup::detect::{CgroupVersion, Hierarchy};
use crate::cgroup::layout::{CgroupBase, EnvLayout};
use crate::cgroup::ops;
use crate::error::SandboxError;
use crate::ids::{CgroupRoot, EnvId};
use crate::init::config::{GO, GO_STEP, InitConfig, InitOutcome};
use crate::limits::{CpuPolicy, Limits};
use crate::running::{KILL_DEADLINE, LaunchPhases, LaunchReport, Running};
use crate::spec::EnvSpec;

/// Processes of the init that stay for the environment's life (its first stage,
/// which waits for the rest, and the PID namespace's pid 1); `pids.max` is the spec's
/// limit plus these.
pub const INIT_PROCESSES: u64 = 2;

/// How long the init may take to set an environment up before the launch fails.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The program started as an environment's first process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProgram {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before anything else (e.g. a hidden subcommand of `cove`).
    pub args: Vec<OsString>,
}

impl InitProgram {
    /// The file name of the init binary this crate builds.
    pub const BINARY: &'static str = "cove-env-init";

    /// `program` without arguments (e.g. the path of `cove-env-init`).
    pub fn binary(program: impl Into<PathBuf>) -> InitProgram {
        InitProgram {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// `cove-env-init` in the directory of the running executable.
    pub fn beside_current_exe() -> io::Result<InitProgram> {
        let exe = std::env::current_exe()?;
        let dir = exe
            .parent()
            .ok_or_else(|| io::Error::other("the running executable has no directory"))?;
        Ok(InitProgram::binary(dir.join(InitProgram::BINARY)))
    }
}

/// How a [`Sandbox`] places environments and starts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Name of cove's cgroup root, one directory in every hierarchy (e.g.
    /// `cove-<prefix>`); every directory in it is an environment of this sandbox.
    pub cgroup_root: CgroupRoot,
    /// Where the root is created inside each hierarchy: relative, empty for the top.
    /// On cgroup v2 under systemd, a delegated subtree of cove's service.
    pub cgroup_parent: PathBuf,
    /// The init program.
    pub init: InitProgram,
    /// How CPU follows memory.
    pub cpu: CpuPolicy,
    /// The cgroup hierarchies to use; detected when `None` (see
    /// [`Hierarchy::detect`]). Set it to use a hierarchy mounted elsewhere, or only
    /// some of the host's.
    pub hierarchy: Option<Hierarchy>,
}

impl SandboxConfig {
    /// Root `cgroup_root` at the top of each hierarchy, the given init, Lambda's CPU
    /// proportion.
    pub fn new(cgroup_root: CgroupRoot, init: InitProgram) -> SandboxConfig {
        SandboxConfig {
            cgroup_root,
            cgroup_parent: PathBuf::new(),
            init,
            cpu: CpuPolicy::default(),
            hierarchy: None,
        }
    }
}

/// Where the runtime's standard output and error go (its standard input is
/// `/dev/null`).
#[derive(Debug)]
pub struct EnvStdio {
    /// Standard output.
    pub stdout: Stdio,
    /// Standard error.
    pub stderr: Stdio,
}

impl EnvStdio {
    /// Both discarded.
    pub fn null() -> EnvStdio {
        EnvStdio {
            stdout: Stdio::null(),
            stderr: Stdio::null(),
        }
    }

    /// Both to cove's own.
    pub fn inherit() -> EnvStdio {
        EnvStdio {
            stdout: Stdio::inherit(),
            stderr: Stdio::inherit(),
        }
    }

    /// Both to pipes, read from [`Running::take_stdout`] and [`Running::take_stderr`].
    pub fn piped() -> EnvStdio {
        EnvStdio {
            stdout: Stdio::piped(),
            stderr: Stdio::piped(),
        }
    }
}

/// Launches environments into the namespaces of a [`Host`], with cgroups under one
/// root.
#[derive(Debug)]
pub struct Sandbox {
    host: Host,
    base: CgroupBase,
    missing: BTreeMap<Controller, String>,
    config: SandboxConfig,
}

impl Sandbox {
    /// Detects the host's cgroups and creates cove's root in each hierarchy (on v2
    /// also enabling memory, pids and cpu for it). Controllers the host lacks are
    /// listed by [`Sandbox::missing_controllers`], not an error.
    pub fn new(host: Host, config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let mut base = base(
            &config.cgroup_root,
            &config.cgroup_parent,
            config.hierarchy.clone(),
        )?;
        let missing = ops::prepare_root(&mut base)?;
        Ok(Sandbox {
            host,
            base,
            missing,
            config,
        })
    }

    /// The host's cgroup version.
    pub fn cgroup_version(&self) -> CgroupVersion {
        self.base.hierarchy.version()
    }

    /// Limit controllers environments do not get, with the reason.
    pub fn missing_controllers(&self) -> &BTreeMap<Controller, String> {
        &self.missing
    }

    /// cove's root directory in every hierarchy it uses.
    pub fn root_dirs(&self) -> Vec<PathBuf> {
        self.base.root_dirs()
    }

    /// Launches the environment `spec` describes and returns once its runtime has
    /// been `execve`d (blocking, a few milliseconds: call it off async workers). On
    /// failure nothing of the environment is left.
    pub fn launch(&self, spec: &EnvSpec, stdio: EnvStdio) -> Result<Running, SandboxError> {
        let start = Instant::now();
        spec.validate()?;
        // The init's first two stages stay (waiting, and pid 1): they count too.
        let limits = Limits::new(
            spec.memory_mib,
            spec.pids_max + INIT_PROCESSES,
            &self.config.cpu,
        );
        let layout = self.base.env(spec.id.as_str(), &limits);
        let config = InitConfig::plan(spec);
        self.ensure_root()?;
        ops::create(spec.id.as_str(), &layout)?;
        let mut phases = LaunchPhases {
            cgroups: start.elapsed(),
            ..LaunchPhases::default()
        };
        let child = match self.start_init(spec, &layout, &config, stdio, &mut phases) {
            Ok(child) => child,
            Err(e) => {
                discard(spec.id.as_str(), &layout, None);
                return Err(e);
            }
        };
        let report = LaunchReport {
            cgroup_version: self.cgroup_version(),
            missing: layout.missing.clone(),
            limits,
            launch_to_exec: start.elapsed(),
            phases,
        };
        Running::start(spec.id.as_str(), child, layout, report)
    }

    /// Starts the init, moves it into the cgroups, sends its instructions and waits
    /// for `execve`. On failure the init is gone (the cgroups are the caller's).
    fn start_init(
        &self,
        spec: &EnvSpec,
        layout: &EnvLayout,
        config: &InitConfig,
        stdio: EnvStdio,
        phases: &mut LaunchPhases,
    ) -> Result<Child, SandboxError> {
        let start = Instant::now();
        let channel = |source| SandboxError::InitChannel {
            id: spec.id.to_string(),
            source,
        };
        let (mut ours, theirs) = UnixStream::pair().map_err(channel)?;
        let mut cmd = Command::new(&self.config.init.program);
        cmd.args(&self.config.init.args)
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(stdio.stdout)
            .stderr(stdio.stderr);
        let mut child =
            self.host
                .spawn(&spec.namespace, cmd)
                .map_err(|source| SandboxError::Spawn {
                    id: spec.id.to_string(),
                    ns: spec.namespace.clone(),
                    source: Box::new(source),
                })?;
        phases.spawn = start.elapsed();
        // The init sets up while it is moved into the cgroups; it runs the runtime only
        // after the go-ahead, which is sent only once it is in all of them.
        let sent = ours
            .set_read_timeout(Some(INIT_TIMEOUT))
            .and_then(|()| ours.write_all(&config.encode()));
        let joined = sent
            .map_err(channel)
            .and_then(|()| ops::join(layout, child.id()));
        phases.join = start.elapsed() - phases.spawn;
        if joined.is_ok() {
            // A failed write means the init is gone; its answer says why.
            let _ = ours.write_all(GO);
        }
        let _ = ours.shutdown(Shutdown::Write);
        let mut answer = Vec::new();
        let read = ours.read_to_end(&mut answer).map(drop).map_err(channel);
        phases.setup = start.elapsed() - phases.spawn - phases.join;
        let outcome = InitOutcome::from_bytes(&answer);
        // The init's own failure explains most; failing for want of the go-ahead
        // does not.
        let init_failed = matches!(&outcome, InitOutcome::Failed { step, .. } if step != GO_STEP);
        if !init_failed {
            if let Err(e) = read.and(joined) {
                discard(spec.id.as_str(), layout, Some(child));
                return Err(e);
            }
        }
        match outcome {
            InitOutcome::Exec => Ok(child),
            InitOutcome::Failed { step, message } => {
                discard(spec.id.as_str(), layout, Some(child));
                Err(SandboxError::Init {
                    id: spec.id.to_string(),
                    step,
                    message,
                })
            }
            InitOutcome::Died => {
                let _ = child.kill();
                let status = child
                    .wait()
                    .map_or_else(|e| e.to_string(), |s| s.to_string());
                discard(spec.id.as_str(), layout, None);
                Err(SandboxError::InitDied {
                    id: spec.id.to_string(),
                    status,
                })
            }
        }
    }

    /// Ids of the environments that have cgroups under cove's root.
    pub fn environments(&self) -> Result<BTreeSet<String>, SandboxError> {
        ops::list(&self.base)
    }

    /// Kills and removes every environment under cove's root for which `alive`
    /// returns `false` (e.g. after cove was killed: none of the old ids is alive).
    /// Continues past failures and reports them all.
    pub fn reap_stale(&self, alive: impl Fn(&EnvId) -> bool) -> Result<ReapReport, SandboxError> {
        reap(&self.base, alive)
    }

    /// Removes cove's root directories; every environment must be gone.
    pub fn remove_root(&self) -> Result<(), SandboxError> {
        ops::remove_root(&self.base)
    }

    /// Creates cove's root directories again if they are gone (`cove destroy`
    /// removes them, also while a `cove serve` keeps running).
    fn ensure_root(&self) -> Result<(), SandboxError> {
        if self.base.root_dirs().iter().all(|d| d.is_dir()) {
            return Ok(());
        }
        ops::prepare_root(&mut self.base.clone()).map(|_| ())
    }
}

/// Ends an environment that failed to launch: its processes, its init (if given,
/// reaped), its cgroups. Best effort; the launch's own error is what is reported.
fn discard(id: &str, layout: &EnvLayout, child: Option<Child>) {
    let deadline = Instant::now() + KILL_DEADLINE;
    let _ = ops::kill_all(id, layout, deadline);
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = ops::remove(id, layout, deadline);
}

/// What [`Sandbox::reap_stale`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReapReport {
    /// Environments killed and removed.
    pub reaped: Vec<String>,
    /// Processes that were still running in them.
    pub killed: usize,
    /// Environments left alone because they are alive.
    pub kept: Vec<String>,
}

/// Kills and removes the stale environments under cove's root `root` (at the top of
/// each hierarchy), for use before a [`Sandbox`] exists, e.g. when cove starts.
pub fn reap_stale(
    root: &CgroupRoot,
    alive: impl Fn(&EnvId) -> bool,
) -> Result<ReapReport, SandboxError> {
    reap(&base(root, &PathBuf::new(), None)?, alive)
}

fn reap(base: &CgroupBase, alive: impl Fn(&EnvId) -> bool) -> Result<ReapReport, SandboxError> {
    // Limits do not matter for finding, killing and removing.
    let limits = Limits::new(crate::spec::MIN_MEMORY_MIB, 1, &CpuPolicy::default());
    let mut report = ReapReport::default();
    let mut errors = Vec::new();
    for id in ops::list(base)? {
        // A directory whose name is not an environment id is nobody's: removed.
        if EnvId::new(&id).is_ok_and(|id| alive(&id)) {
            report.kept.push(id);
            continue;
        }
        let layout = base.env(&id, &limits);
        let deadline = Instant::now() + KILL_DEADLINE;
        let found = ops::members(&layout).map(|p| p.len()).unwrap_or(0);
        match ops::kill_all(&id, &layout, deadline)
            .and_then(|()| ops::remove(&id, &layout, deadline))
        {
            Ok(()) => {
                report.killed += found;
                report.reaped.push(id);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(report)
    } else {
        Err(SandboxError::Reap(errors))
    }
}

/// Kills and removes every environment under cove's root `root`, then the root
/// directories themselves, in every hierarchy (`cove destroy`); `hierarchy` is
/// detected when not given.
pub fn remove_all(
    root: &CgroupRoot,
    hierarchy: Option<Hierarchy>,
) -> Result<ReapReport, SandboxError> {
    let base = base(root, &PathBuf::new(), hierarchy)?;
    let report = reap(&base, |_| false)?;
    ops::remove_root(&base)?;
    Ok(report)
}

/// Validates the root name and parent; detects the host's hierarchies unless given.
fn base(
    root: &CgroupRoot,
    parent: &std::path::Path,
    hierarchy: Option<Hierarchy>,
) -> Result<CgroupBase, SandboxError> {
    if !parent
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(SandboxError::InvalidParent {
            parent: parent.to_path_buf(),
        });
    }
    let hierarchy = match hierarchy {
        Some(h) => h,
        None => Hierarchy::detect()?,
    };
    Ok(CgroupBase::new(
        hierarchy,
        parent.to_path_buf(),
        root.as_str().to_owned(),
    ))
}
