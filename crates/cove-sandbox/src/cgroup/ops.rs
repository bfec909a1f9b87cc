//! Carries out cgroup layouts: creates, limits, joins, kills, removes (file I/O only;
//! every decision is in `layout`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cgroup::Controller;
use crate::cgroup::detect::Hierarchy;
use crate::cgroup::layout::{CgroupBase, EnvLayout, KillMethod, keyed_value, parse_procs};
use crate::error::SandboxError;

/// How often a kill or a removal looks again while processes are still exiting.
const POLL: Duration = Duration::from_millis(1);

/// Writes `value` into the existing cgroup file `file`.
pub(crate) fn write(file: &Path, value: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(file)?
        .write_all(value.as_bytes())
}

fn write_err(file: &Path, value: &str) -> impl FnOnce(io::Error) -> SandboxError {
    let (file, value) = (file.to_path_buf(), value.to_owned());
    move |source| SandboxError::WriteCgroup {
        path: file,
        value,
        source,
    }
}

/// Creates cove's root in every hierarchy; on v2 also enables the controllers for the
/// environments (in the parent's and the root's `cgroup.subtree_control`). Returns the
/// controllers environments will not get, with the reason; `base.available` is
/// updated accordingly.
pub(crate) fn prepare_root(
    base: &mut CgroupBase,
) -> Result<BTreeMap<Controller, String>, SandboxError> {
    let mut missing = BTreeMap::new();
    if let Hierarchy::V2 { mount } = &base.hierarchy {
        let parent = mount.join(&base.parent);
        let offered_file = parent.join("cgroup.controllers");
        let offered =
            fs::read_to_string(&offered_file).map_err(|source| SandboxError::ReadCgroup {
                path: offered_file.clone(),
                source,
            })?;
        let offered: BTreeSet<&str> = offered.split_whitespace().collect();
        for c in Controller::ALL {
            if !offered.contains(c.name()) {
                missing.insert(c, format!("not offered by {}", parent.display()));
                continue;
            }
            let file = parent.join("cgroup.subtree_control");
            match write(&file, &format!("+{c}")) {
                Ok(()) => {
                    base.available.insert(c);
                }
                Err(e) => {
                    missing.insert(c, format!("enabling it in {}: {e}", file.display()));
                }
            }
        }
    } else {
        for c in Controller::ALL {
            if !base.available.contains(&c) {
                missing.insert(
                    c,
                    "no v1 hierarchy of this controller is mounted".to_owned(),
                );
            }
        }
    }
    for dir in base.root_dirs() {
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(SandboxError::CreateCgroup { path: dir, source }),
        }
    }
    if let Hierarchy::V2 { .. } = &base.hierarchy {
        let file = base.root_dirs()[0].join("cgroup.subtree_control");
        for c in base.available.clone() {
            if let Err(e) = write(&file, &format!("+{c}")) {
                base.available.remove(&c);
                missing.insert(c, format!("enabling it in {}: {e}", file.display()));
            }
        }
    }
    Ok(missing)
}

/// Creates environment `id`'s directories and writes its limits. On failure the
/// directories this call created are removed again (and nothing else: a directory
/// that exists already belongs to an environment with the same id, which is an
/// error — an id is used once; reap stale environments first).
pub(crate) fn create(id: &str, layout: &EnvLayout) -> Result<(), SandboxError> {
    let mut created: Vec<&PathBuf> = Vec::with_capacity(layout.dirs.len());
    let result = create_inner(id, layout, &mut created);
    if result.is_err() {
        for dir in created.into_iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
    result
}

fn create_inner<'l>(
    id: &str,
    layout: &'l EnvLayout,
    created: &mut Vec<&'l PathBuf>,
) -> Result<(), SandboxError> {
    for dir in &layout.dirs {
        fs::create_dir(dir).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => SandboxError::EnvExists {
                id: id.to_owned(),
                path: dir.clone(),
            },
            _ => SandboxError::CreateCgroup {
                path: dir.clone(),
                source,
            },
        })?;
        created.push(dir);
    }
    for w in &layout.writes {
        match write(&w.file, &w.value) {
            Ok(()) => {}
            Err(e) if w.optional && e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(write_err(&w.file, &w.value)(source)),
        }
    }
    Ok(())
}

/// Moves process `pid` into every directory of the environment.
pub(crate) fn join(layout: &EnvLayout, pid: u32) -> Result<(), SandboxError> {
    let value = pid.to_string();
    for file in &layout.join {
        write(file, &value).map_err(write_err(file, &value))?;
    }
    Ok(())
}

/// The processes in the environment (none once its cgroup is gone).
pub(crate) fn members(layout: &EnvLayout) -> Result<Vec<i32>, SandboxError> {
    match fs::read_to_string(&layout.members) {
        Ok(text) => Ok(parse_procs(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(SandboxError::ReadCgroup {
            path: layout.members.clone(),
            source,
        }),
    }
}

/// OOM kills counted in the environment's memory cgroup (`None` without one).
pub(crate) fn oom_kills(layout: &EnvLayout) -> Option<u64> {
    let file = layout.oom_events.as_ref()?;
    keyed_value(&fs::read_to_string(file).ok()?, "oom_kill")
}

/// Kills every process of the environment and waits until none is left (or
/// `deadline` passes: [`SandboxError::KillTimeout`]).
pub(crate) fn kill_all(
    id: &str,
    layout: &EnvLayout,
    deadline: Instant,
) -> Result<(), SandboxError> {
    loop {
        let procs = members(layout)?;
        if procs.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(SandboxError::KillTimeout {
                id: id.to_owned(),
                left: procs.len(),
            });
        }
        match &layout.kill {
            KillMethod::CgroupKill(file) => match write(file, "1") {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(source) => return Err(write_err(file, "1")(source)),
            },
            KillMethod::Freeze(state) => {
                freeze(state, "FROZEN", deadline)?;
                signal_all(&members(layout)?)?;
                freeze(state, "THAWED", deadline)?;
            }
            KillMethod::Signal => signal_all(&procs)?,
        }
        thread::sleep(POLL);
    }
}

/// Sets a v1 freezer's state and waits until the kernel reports it.
fn freeze(state: &Path, to: &str, deadline: Instant) -> Result<(), SandboxError> {
    write(state, to).map_err(write_err(state, to))?;
    while Instant::now() < deadline {
        match fs::read_to_string(state) {
            Ok(s) if s.trim() == to => return Ok(()),
            Ok(_) => thread::sleep(POLL),
            Err(source) => {
                return Err(SandboxError::ReadCgroup {
                    path: state.to_path_buf(),
                    source,
                });
            }
        }
    }
    Ok(())
}

fn signal_all(pids: &[i32]) -> Result<(), SandboxError> {
    for &pid in pids {
        match kill(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(source) => return Err(SandboxError::Signal { pid, source }),
        }
    }
    Ok(())
}

/// Removes the environment's directories, last first. Gone already is fine; a
/// directory still busy with exiting processes is tried again until `deadline`.
pub(crate) fn remove(id: &str, layout: &EnvLayout, deadline: Instant) -> Result<(), SandboxError> {
    for dir in layout.dirs.iter().rev() {
        remove_dir(id, dir, deadline)?;
    }
    Ok(())
}

fn remove_dir(id: &str, dir: &PathBuf, deadline: Instant) -> Result<(), SandboxError> {
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if e.raw_os_error() == Some(Errno::EBUSY as i32) && Instant::now() < deadline =>
            {
                thread::sleep(POLL);
            }
            Err(source) => {
                return Err(SandboxError::RemoveCgroup {
                    id: id.to_owned(),
                    path: dir.clone(),
                    source,
                });
            }
        }
    }
}

/// Ids of the environments under cove's root (directories in any hierarchy).
pub(crate) fn list(base: &CgroupBase) -> Result<BTreeSet<String>, SandboxError> {
    let mut ids = BTreeSet::new();
    for root in base.root_dirs() {
        let entries = match fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(SandboxError::ReadCgroup { path: root, source }),
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                if let Some(name) = entry.file_name().to_str() {
                    ids.insert(name.to_owned());
                }
            }
        }
    }
    Ok(ids)
}

/// Removes cove's root directories (they must hold no environment).
pub(crate) fn remove_root(base: &CgroupBase) -> Result<(), SandboxError> {
    for dir in base.root_dirs() {
        match fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SandboxError::RemoveCgroup {
                    id: base.root.clone(),
                    path: dir,
                    source,
                });
            }
        }
    }
    Ok(())
}
