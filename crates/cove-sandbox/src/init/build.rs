//! Building the environment's root file system from its [`RootStep`]s (the init's
//! first stage, as root, in the environment's private mount namespace), and entering
//! it (`pivot_root`, by the environment's pid 1).

use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::init::root::{ROOT_TMPFS_BYTES, RootStep, STAGING_DIR};
use crate::init::run::{Failure, errno, fail};

/// Mounts a tmpfs at [`STAGING_DIR`], carries out `steps` inside it and makes it
/// read-only (its own mounts, e.g. `/tmp`, keep their flags).
pub(crate) fn root(steps: &[RootStep]) -> Result<(), Failure> {
    let step = format!("mount the environment's root at {STAGING_DIR}");
    if !Path::new(STAGING_DIR).is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(STAGING_DIR)
            .map_err(|e| fail(step.clone())(e.to_string()))?;
    }
    let data = format!("size={ROOT_TMPFS_BYTES},mode=755");
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    nix::mount::mount(
        Some("tmpfs"),
        STAGING_DIR,
        Some("tmpfs"),
        base,
        Some(data.as_str()),
    )
    .map_err(errno(step))?;
    for s in steps {
        apply(s)?;
    }
    nix::mount::mount(
        None::<&str>,
        STAGING_DIR,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base,
        Some(data.as_str()),
    )
    .map_err(errno("make the environment's root read-only"))
}

/// `path` (absolute, inside the root) under the staging directory.
fn inside(path: &str) -> PathBuf {
    Path::new(STAGING_DIR).join(path.trim_start_matches('/'))
}

fn io(step: &str) -> impl FnOnce(std::io::Error) -> Failure {
    let f = fail(step.to_owned());
    move |e| f(e.to_string())
}

fn apply(step: &RootStep) -> Result<(), Failure> {
    match step {
        RootStep::Dir { path, mode } => {
            let what = format!("create {path}");
            make_dir(&inside(path), *mode).map_err(io(&what))
        }
        RootStep::System { path } => {
            let what = format!("mirror {path}");
            let Ok(meta) = fs::symlink_metadata(path) else {
                return Ok(());
            };
            let target = inside(path);
            if meta.file_type().is_symlink() {
                let link = fs::read_link(path).map_err(io(&what))?;
                std::os::unix::fs::symlink(link, &target).map_err(io(&what))
            } else if meta.is_dir() {
                make_dir(&target, 0o755).map_err(io(&what))?;
                bind_read_only(Path::new(path), &target, &what)
            } else {
                Ok(())
            }
        }
        RootStep::BindReadOnly {
            source,
            target,
            optional,
        } => {
            let what = format!("mount {source} read-only at {target}");
            let meta = match fs::metadata(source) {
                Ok(m) => m,
                Err(_) if *optional => return Ok(()),
                Err(e) => return Err(fail(what)(e.to_string())),
            };
            let at = mount_point(&inside(target), meta.is_dir()).map_err(io(&what))?;
            bind_read_only(Path::new(source), &at, &what)
        }
        RootStep::Copy { path } => {
            let what = format!("copy {path}");
            let Ok(meta) = fs::metadata(path) else {
                return Ok(());
            };
            let target = inside(path);
            if meta.is_dir() {
                make_dir(&target, 0o755).map_err(io(&what))?;
                bind_read_only(Path::new(path), &target, &what)
            } else if meta.is_file() {
                fs::copy(path, &target).map_err(io(&what))?;
                fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).map_err(io(&what))
            } else {
                Ok(())
            }
        }
        RootStep::Device { path } => {
            let what = format!("mount device {path}");
            let at = inside(path);
            fs::File::create(&at).map_err(io(&what))?;
            nix::mount::mount(
                Some(path.as_str()),
                &at,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(errno(what.clone()))?;
            nix::mount::mount(
                None::<&str>,
                &at,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                None::<&str>,
            )
            .map_err(errno(what))
        }
        RootStep::Symlink { path, target } => std::os::unix::fs::symlink(target, inside(path))
            .map_err(io(&format!("link {path} to {target}"))),
        RootStep::Tmpfs {
            target,
            size_bytes,
            mode,
        } => {
            let what = format!("mount tmpfs at {target}");
            let at = inside(target);
            make_dir(&at, 0o755).map_err(io(&what))?;
            let data = format!("size={size_bytes},mode={mode:o}");
            nix::mount::mount(
                Some("tmpfs"),
                &at,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(data.as_str()),
            )
            .map_err(errno(what))
        }
        RootStep::File {
            path,
            contents,
            mode,
        } => {
            let what = format!("write {path}");
            let at = inside(path);
            fs::write(&at, contents).map_err(io(&what))?;
            fs::set_permissions(&at, fs::Permissions::from_mode(*mode)).map_err(io(&what))
        }
    }
}

/// A directory with exactly `mode` (whatever the umask); an existing one is kept.
fn make_dir(path: &Path, mode: u32) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new().mode(mode).create(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Where a bind lands: an existing path (a symbolic link inside the root is followed
/// within the root, so `/usr/bin/sh -> dash` lands on the root's `dash`), else a new
/// directory or empty file.
fn mount_point(at: &Path, dir: bool) -> std::io::Result<PathBuf> {
    match fs::symlink_metadata(at) {
        Ok(m) if m.file_type().is_symlink() => {
            let link = fs::read_link(at)?;
            if link.is_absolute() {
                Ok(inside(&link.to_string_lossy()))
            } else {
                Ok(at.parent().unwrap_or(at).join(link))
            }
        }
        Ok(_) => Ok(at.to_path_buf()),
        Err(_) if dir => make_dir(at, 0o755).map(|()| at.to_path_buf()),
        Err(_) => fs::File::create(at).map(|_| at.to_path_buf()),
    }
}

fn bind_read_only(source: &Path, target: &Path, what: &str) -> Result<(), Failure> {
    nix::mount::mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(errno(what.to_owned()))?;
    // A bind mount takes its flags from a remount.
    nix::mount::mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(errno(what.to_owned()))
}

/// Mounts `/proc` of the calling process's PID namespace in the root being built
/// (the caller is the namespace's pid 1).
pub(crate) fn mount_proc() -> Result<(), Failure> {
    nix::mount::mount(
        Some("proc"),
        &inside("/proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(errno("mount /proc"))
}

/// Makes the built root the root of the mount namespace and detaches the host's.
pub(crate) fn enter() -> Result<(), Failure> {
    let what = "pivot_root into the environment's root";
    nix::unistd::chdir(STAGING_DIR).map_err(errno(what))?;
    nix::unistd::pivot_root(".", ".").map_err(errno(what))?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH).map_err(errno("detach the host's root"))?;
    nix::unistd::chdir("/").map_err(errno(what))
}
