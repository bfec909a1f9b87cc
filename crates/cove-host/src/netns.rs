//! Network namespaces as `ip netns` keeps them: a namespace is a bind mount of
//! `/proc/thread-self/ns/net` onto `/run/netns/<name>`, so that iproute2 sees cove's
//! namespaces and cove sees theirs.
//!
//! Namespace work always happens on a fresh OS thread that enters the namespace
//! (never on the caller's thread, never on a tokio worker): `unshare` and `setns`
//! change only the calling thread, and children spawned from that thread inherit it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;
use std::thread;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::HostError;

/// Where namespaces are bind-mounted (same place as `ip netns`).
pub const NETNS_DIR: &str = "/run/netns";

/// The identity of a network namespace: device and inode of its nsfs file.
pub(crate) type NsId = (u64, u64);

/// Serializes the preparation of [`NETNS_DIR`] within this process.
static RUN_DIR: Mutex<()> = Mutex::new(());

/// The file a namespace is mounted on.
pub(crate) fn ns_path(ns: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(ns)
}

/// Creates `/run/netns` and makes it a shared mount point of its own, as
/// `ip netns add` does (so that a later `ip netns add` does not re-mount the
/// directory under namespaces cove is creating, and mounts propagate to other mount
/// namespaces).
///
/// Done once per process: re-marking the directory shared is recursive over every
/// namespace mount under it, so repeating it would make each create cost grow with
/// the number of namespaces.
fn prepare_run_dir() -> Result<(), HostError> {
    static PREPARED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let _lock = RUN_DIR.lock().unwrap_or_else(|e| e.into_inner());
    if PREPARED.load(std::sync::atomic::Ordering::Acquire) && Path::new(NETNS_DIR).is_dir() {
        return Ok(());
    }
    prepare_run_dir_now()?;
    PREPARED.store(true, std::sync::atomic::Ordering::Release);
    Ok(())
}

fn prepare_run_dir_now() -> Result<(), HostError> {
    let dir = Path::new(NETNS_DIR);
    fs::create_dir_all(dir).map_err(|source| HostError::RunDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let shared = || {
        nix::mount::mount(
            Some("none"),
            dir,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => Ok(()),
        // Not a mount point yet: bind it onto itself, then make it shared.
        Err(Errno::EINVAL) => nix::mount::mount(
            Some(dir),
            dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .and_then(|()| shared()),
        Err(e) => Err(e),
    }
    .map_err(|source| HostError::RunDirMount {
        path: dir.to_path_buf(),
        source,
    })
}

/// Creates namespace `ns` (without bringing `lo` up; the caller's worker does).
pub(crate) fn create(ns: &str) -> Result<(), HostError> {
    prepare_run_dir()?;
    let path = ns_path(ns);
    // A file left by a run killed between creating it and mounting the namespace
    // on it is not a namespace: remove it and start again.
    if path.exists() && !is_mounted(ns) {
        fs::remove_file(&path).map_err(|source| HostError::NamespaceFile {
            ns: ns.to_owned(),
            path: path.clone(),
            source,
        })?;
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => HostError::NamespaceExists { ns: ns.to_owned() },
            _ => HostError::NamespaceFile {
                ns: ns.to_owned(),
                path: path.clone(),
                source,
            },
        })?;
    let name = ns.to_owned();
    let target = path.clone();
    let result = thread::Builder::new()
        .name(format!("netns-create-{ns}"))
        .spawn(move || -> Result<(), HostError> {
            nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(|source| HostError::Unshare {
                ns: name.clone(),
                source,
            })?;
            // `lo` comes up before the namespace becomes visible, so that a run killed
            // half-way never leaves a namespace whose loopback is down.
            let (rt, handle) = crate::worker::connect_here(&name)?;
            rt.block_on(crate::link::set_up(&handle, &name, "lo"))?;
            // No sysctl here (IPv6 addresses are turned off per veth, see
            // `link::create_veth`): the first access to `/proc/sys/net/ipv6` in a
            // new namespace costs time that grows with the namespaces on the host.
            nix::mount::mount(
                Some("/proc/thread-self/ns/net"),
                &target,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|source| HostError::Mount {
                ns: name,
                path: target.clone(),
                source,
            })
        })
        .map_err(|source| HostError::Thread {
            ns: ns.to_owned(),
            source,
        })?
        .join()
        .unwrap_or_else(|_| Err(HostError::WorkerGone { ns: ns.to_owned() }));
    if result.is_err() {
        // Best effort: the empty file must not look like a namespace.
        let _ = fs::remove_file(&path);
    }
    result
}

/// Deletes namespace `ns`: kills the processes inside it, unmounts and removes its
/// file. Returns `false` if it did not exist.
pub(crate) fn delete(ns: &str) -> Result<bool, HostError> {
    let path = ns_path(ns);
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(HostError::OpenNamespace {
                ns: ns.to_owned(),
                path,
                source,
            });
        }
    };
    kill_processes(ns, (meta.dev(), meta.ino()))?;
    match nix::mount::umount2(&path, MntFlags::MNT_DETACH) {
        // EINVAL: not a mount point (a leftover empty file); remove it all the same.
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(source) => {
            return Err(HostError::Unmount {
                ns: ns.to_owned(),
                path,
                source,
            });
        }
    }
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(source) => Err(HostError::NamespaceFile {
            ns: ns.to_owned(),
            path,
            source,
        }),
    }
}

/// Sends SIGKILL to every process (other than this one) whose network namespace is
/// the one identified by `(dev, inode)`. Returns how many were signalled.
fn kill_processes(ns: &str, id: (u64, u64)) -> Result<usize, HostError> {
    let me = std::process::id();
    let proc_dir = Path::new("/proc");
    let entries = fs::read_dir(proc_dir).map_err(|source| HostError::List {
        path: proc_dir.to_path_buf(),
        source,
    })?;
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if u32::try_from(pid).is_ok_and(|p| p == me) {
            continue;
        }
        // The process may be gone already, or be a kernel thread: skip it then.
        let Ok(meta) = fs::metadata(entry.path().join("ns/net")) else {
            continue;
        };
        if (meta.dev(), meta.ino()) != id {
            continue;
        }
        match kill(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) => killed += 1,
            Err(Errno::ESRCH) => {}
            Err(source) => {
                return Err(HostError::Kill {
                    ns: ns.to_owned(),
                    pid,
                    source,
                });
            }
        }
    }
    Ok(killed)
}

/// Whether `/run/netns/<ns>` has a namespace mounted on it (a plain file left by an
/// interrupted create lives on the directory's own file system; a mounted namespace
/// is on nsfs).
pub(crate) fn is_mounted(ns: &str) -> bool {
    match (fs::metadata(ns_path(ns)), fs::metadata(NETNS_DIR)) {
        (Ok(file), Ok(dir)) => file.dev() != dir.dev(),
        _ => false,
    }
}

/// Names of the entries under `/run/netns` that start with `<prefix>-`, sorted
/// (mounted namespaces and leftover files alike; see [`is_mounted`]).
pub(crate) fn list(prefix: &str) -> Result<Vec<String>, HostError> {
    let dir = Path::new(NETNS_DIR);
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HostError::List {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let owned = format!("{prefix}-");
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| HostError::List {
            path: dir.to_path_buf(),
            source,
        })?;
        if let Some(name) = entry.file_name().to_str() {
            if name.starts_with(&owned) && name.len() > owned.len() {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Moves the calling thread into namespace `ns`. Only call this on a thread cove
/// started for the purpose.
pub(crate) fn enter(ns: &str) -> Result<(), HostError> {
    let file = open(ns)?;
    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).map_err(|source| HostError::EnterNamespace {
        ns: ns.to_owned(),
        source,
    })
}

/// Moves the calling thread into namespace `ns` and returns the identity of the
/// namespace entered (which may be newer than a listing). Only on a thread cove
/// started for the purpose.
pub(crate) fn enter_with_id(ns: &str) -> Result<NsId, HostError> {
    let file = open(ns)?;
    let meta = file.metadata().map_err(|source| HostError::OpenNamespace {
        ns: ns.to_owned(),
        path: ns_path(ns),
        source,
    })?;
    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET).map_err(|source| {
        HostError::EnterNamespace {
            ns: ns.to_owned(),
            source,
        }
    })?;
    Ok((meta.dev(), meta.ino()))
}

/// The device of `/run/netns`, and its entries of one prefix with their metadata.
type Listed = (u64, Vec<(String, fs::Metadata)>);

/// The entries under `/run/netns` whose names start with `<prefix>-`, sorted, each
/// with its metadata (one `stat` each; an entry deleted since it was listed is left
/// out), and the device of `/run/netns` itself (`None` if it does not exist).
fn stat_listed(prefix: &str) -> Result<Option<Listed>, HostError> {
    let names = list(prefix)?;
    let Ok(dir) = fs::metadata(NETNS_DIR) else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match fs::metadata(ns_path(&name)) {
            Ok(m) => out.push((name, m)),
            // Deleted since it was listed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(HostError::OpenNamespace {
                    path: ns_path(&name),
                    ns: name,
                    source,
                });
            }
        }
    }
    Ok(Some((dir.dev(), out)))
}

/// The namespaces mounted under `/run/netns` whose names start with `<prefix>-`,
/// sorted, with their identity (device and inode of the nsfs file): [`list`]
/// without the leftover files of interrupted creates, one `stat` each.
pub(crate) fn list_mounted(prefix: &str) -> Result<Vec<(String, NsId)>, HostError> {
    let Some((dir, entries)) = stat_listed(prefix)? else {
        return Ok(Vec::new());
    };
    // A plain file on the directory's own file system is not a namespace.
    Ok(entries
        .into_iter()
        .filter(|(_, m)| m.dev() != dir)
        .map(|(name, m)| (name, (m.dev(), m.ino())))
        .collect())
}

/// The entries under `/run/netns` whose names start with `<prefix>-` and that are
/// plain files, not namespaces: left by a create or a delete that was interrupted
/// (a process killed between creating the file and mounting the namespace on it,
/// or between unmounting and removing it). The observers skip them ([`list_mounted`]).
pub(crate) fn list_leftovers(prefix: &str) -> Result<Vec<String>, HostError> {
    let Some((dir, entries)) = stat_listed(prefix)? else {
        return Ok(Vec::new());
    };
    Ok(entries
        .into_iter()
        .filter(|(_, m)| m.dev() == dir)
        .map(|(name, _)| name)
        .collect())
}

/// Opens the file of namespace `ns` (to enter it or to move a link into it).
pub(crate) fn open(ns: &str) -> Result<File, HostError> {
    let path = ns_path(ns);
    File::open(&path).map_err(|source| HostError::OpenNamespace {
        ns: ns.to_owned(),
        path,
        source,
    })
}

/// Runs `f` on a fresh OS thread inside namespace `ns` and returns its result.
pub(crate) fn run_in<T, F>(ns: &str, f: F) -> Result<T, HostError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, HostError> + Send + 'static,
{
    let name = ns.to_owned();
    thread::Builder::new()
        .name(format!("netns-{ns}"))
        .spawn(move || {
            enter(&name)?;
            f()
        })
        .map_err(|source| HostError::Thread {
            ns: ns.to_owned(),
            source,
        })?
        .join()
        .unwrap_or_else(|_| Err(HostError::WorkerGone { ns: ns.to_owned() }))
}

/// Runs `f` on a fresh OS thread inside namespace `ns` and returns its result:
/// sockets `f` opens belong to `ns` for good, whatever thread uses them later.
pub fn in_namespace<T, F>(ns: &str, f: F) -> Result<T, Box<HostError>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    run_in(ns, move || Ok(f())).map_err(Box::new)
}

/// Starts a long-running thread named `name` inside namespace `ns` and runs `f`
/// on it; returns once the thread is inside, or the error entering (then `f`
/// never runs, and the thread ends with `None`).
pub fn spawn_in_namespace<T, F>(
    ns: &str,
    name: &str,
    f: F,
) -> Result<thread::JoinHandle<Option<T>>, HostError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let target = ns.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || match enter(&target) {
            Ok(()) => {
                let _ = tx.send(Ok(()));
                Some(f())
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                None
            }
        })
        .map_err(|source| HostError::Thread {
            ns: ns.to_owned(),
            source,
        })?;
    match rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(HostError::WorkerGone { ns: ns.to_owned() }),
    }
}

/// Spawns `cmd` inside namespace `ns` (the child inherits the spawning thread's
/// namespace).
pub(crate) fn spawn_in(ns: &str, mut cmd: Command) -> Result<Child, HostError> {
    let name = ns.to_owned();
    run_in(ns, move || {
        cmd.spawn().map_err(|source| HostError::Spawn {
            ns: name,
            program: cmd.get_program().to_string_lossy().into_owned(),
            source,
        })
    })
}
