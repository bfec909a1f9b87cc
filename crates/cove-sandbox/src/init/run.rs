//! The init: the first process of an environment. It carries out an [`InitConfig`]
//! step by step and becomes the runtime with `execve`. It must be single-threaded
//! (it is its own executable, or the first thing a binary does): it changes the
//! process's mount namespace, user and limits.

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::AsFd as _;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};

use crate::init::config::{GO, GO_STEP, InitConfig, InitMessage, MountStep, fdinfo_cloexec};

/// A failed step: which, and what went wrong.
struct Failure {
    step: String,
    message: String,
}

fn fail(step: impl Into<String>) -> impl FnOnce(String) -> Failure {
    let step = step.into();
    move |message| Failure { step, message }
}

fn errno(step: impl Into<String>) -> impl FnOnce(Errno) -> Failure {
    let f = fail(step);
    move |e| f(e.to_string())
}

/// Runs the init: reads its configuration from standard input, sets the environment
/// up and `execve`s the runtime. Never returns: on failure it reports the failed step
/// to the launcher and exits with status 127.
///
/// Call it first thing in `main`, before any thread starts (the `cove-env-init`
/// binary does; the `cove` binary can dispatch a hidden subcommand to it).
pub fn init_main() -> ! {
    // Standard input is a socket to the launcher: the configuration comes in, the
    // outcome goes out. Keep a close-on-exec copy for the answer, so that a
    // successful execve closes it; the runtime's standard input becomes /dev/null.
    let status = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from);
    let mut status = match status {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cove-env-init: standard input: {e}");
            std::process::exit(127);
        }
    };
    let failure = match run(&mut status) {
        Ok(never) => match never {},
        Err(f) => f,
    };
    let message = InitMessage::Failed {
        step: failure.step.clone(),
        message: failure.message.clone(),
    };
    if status.write_all(&message.line()).is_err() {
        eprintln!("cove-env-init: {}: {}", failure.step, failure.message);
    }
    std::process::exit(127)
}

enum Never {}

fn run(status: &mut File) -> Result<Never, Failure> {
    let mut incoming = status
        .try_clone()
        .map(BufReader::new)
        .map_err(|e| fail("read configuration")(e.to_string()))?;
    let mut line = Vec::new();
    incoming
        .read_until(b'\n', &mut line)
        .map_err(|e| fail("read configuration")(e.to_string()))?;
    let config =
        InitConfig::decode(&line).map_err(|e| fail("decode configuration")(e.to_string()))?;
    let null = File::open("/dev/null").map_err(|e| fail("open /dev/null")(e.to_string()))?;
    nix::unistd::dup2_stdin(&null).map_err(errno("standard input to /dev/null"))?;
    drop(null);

    // Its own mounts, and its own System V IPC and POSIX message queues (otherwise
    // shared by every process of the host with the same uid).
    nix::sched::unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC)
        .map_err(errno("unshare mount and IPC namespaces"))?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(errno("make mounts private"))?;
    for step in &config.mounts {
        mount(step)?;
    }

    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    setrlimit(Resource::RLIMIT_NOFILE, config.nofile, config.nofile)
        .map_err(errno("limit open files"))?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(errno("disable core dumps"))?;
    close_inherited()?;

    let (uid, gid) = (Uid::from_raw(config.uid), Gid::from_raw(config.gid));
    nix::unistd::setgroups(&[]).map_err(errno("drop supplementary groups"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(errno(format!("setgid {gid}")))?;
    // From uid 0 to another uid every capability is cleared (no SECBIT_KEEP_CAPS).
    nix::unistd::setresuid(uid, uid, uid).map_err(errno(format!("setuid {uid}")))?;
    nix::sys::prctl::set_no_new_privs().map_err(errno("no_new_privs"))?;
    nix::unistd::chdir(config.cwd.as_str()).map_err(errno(format!("chdir {}", config.cwd)))?;

    let argv = cstrings(&config.argv, "argv")?;
    let env = cstrings(&config.env, "environment")?;
    let programs = cstrings(&config.program, "program")?;
    // Only once the launcher has moved this process into the environment's cgroups.
    let mut go = Vec::new();
    incoming
        .read_until(b'\n', &mut go)
        .map_err(|e| fail(GO_STEP)(e.to_string()))?;
    if go != GO {
        return Err(fail(GO_STEP)(
            "the launcher went away before moving the environment into its cgroups".to_owned(),
        ));
    }
    drop(incoming);
    status
        .write_all(&InitMessage::Ready.line())
        .map_err(|e| fail("report ready")(e.to_string()))?;
    // As execvp: skip candidates that do not exist, remember the first other error.
    let mut first = None;
    for program in &programs {
        let Err(e) = nix::unistd::execve(program, &argv, &env);
        if !matches!(e, Errno::ENOENT | Errno::ENOTDIR) && first.is_none() {
            first = Some((program.to_string_lossy().into_owned(), e));
        }
    }
    Err(match first {
        Some((program, e)) => fail(format!("exec {program}"))(e.to_string()),
        None => fail(format!(
            "exec {}",
            config.argv.first().map_or("", String::as_str)
        ))(format!("not found in {}", config.program.join(", "))),
    })
}

fn mount(step: &MountStep) -> Result<(), Failure> {
    let base = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    match step {
        MountStep::BindReadOnly { source, target } => {
            let step = format!("mount {source} read-only at {target}");
            ensure_dir(target).map_err(fail(step.clone()))?;
            nix::mount::mount(
                Some(source.as_str()),
                target.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(errno(step.clone()))?;
            // A bind mount takes its flags from a remount.
            nix::mount::mount(
                None::<&str>,
                target.as_str(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base,
                None::<&str>,
            )
            .map_err(errno(step))
        }
        MountStep::Tmpfs {
            target,
            size_bytes,
            mode,
            if_exists,
        } => {
            let step = format!("mount tmpfs at {target}");
            if *if_exists && !Path::new(target).is_dir() {
                return Ok(());
            }
            ensure_dir(target).map_err(fail(step.clone()))?;
            let data = format!("size={size_bytes},mode={mode:o}");
            nix::mount::mount(
                Some("tmpfs"),
                target.as_str(),
                Some("tmpfs"),
                base,
                Some(data.as_str()),
            )
            .map_err(errno(step))
        }
    }
}

/// Creates a missing mount point (on the host's file system: an empty directory).
fn ensure_dir(target: &str) -> Result<(), String> {
    if Path::new(target).is_dir() {
        return Ok(());
    }
    fs::create_dir_all(target).map_err(|e| format!("creating the mount point: {e}"))
}

/// Closes descriptors the program would inherit other than standard input, output
/// and error: cove opens everything close-on-exec, so such a descriptor leaked into
/// cove from whoever started it, and must not reach a tenant's code.
fn close_inherited() -> Result<(), Failure> {
    let dir = fs::read_dir("/proc/self/fd").map_err(|e| fail("list descriptors")(e.to_string()))?;
    let leaked: Vec<i32> = dir
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&fd| fd > 2)
        // Gone (the listing's own descriptor) or close-on-exec: nothing to do.
        .filter(|fd| {
            let info = fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
            fdinfo_cloexec(&info) == Some(false)
        })
        .collect();
    for fd in leaked {
        nix::unistd::close(fd).map_err(errno(format!("close inherited descriptor {fd}")))?;
    }
    Ok(())
}

fn cstrings(items: &[String], what: &str) -> Result<Vec<CString>, Failure> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_str()).map_err(|e| fail(format!("encode {what}"))(e.to_string()))
        })
        .collect()
}
