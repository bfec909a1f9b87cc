//! The init: the first processes of an environment, in three stages of the same
//! program (the workspace forbids `unsafe`, so nothing runs between `fork` and
//! `exec`; each stage is a fresh `exec` of the init, told its stage by
//! [`STAGE_VAR`] and its instructions on standard input, a socket):
//!
//! 1. **setup** (the launcher's child, root, in the ENI's network namespace):
//!    closes leaked descriptors, unshares mount, IPC, UTS and PID namespaces, builds
//!    the environment's root ([`crate::init::build`]), waits for the launcher's
//!    go-ahead (it is then in the environment's cgroups), starts stage 2 — the new
//!    PID namespace's pid 1 — and relays its answers. It then waits for it and ends
//!    as the runtime ended (same exit code, or same signal).
//! 2. **pid 1**: mounts `/proc` of the new PID namespace, `pivot_root`s into the
//!    environment's root, starts stage 3 and then reaps every orphan until the
//!    runtime ends; its exit takes every other process of the namespace with it.
//! 3. **exec**: limits, drops privileges, installs the seccomp filter and `execve`s
//!    the runtime.
//!
//! Each stage is single-threaded and must run first thing in `main`.

use std::ffi::{CString, OsString};
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::stat::Mode;
use nix::sys::wait::WaitStatus;
use nix::unistd::{Gid, Pid, Uid};

use crate::init::build;
use crate::init::config::{
    GO, GO_STEP, HOSTNAME, InitConfig, InitMessage, InitOutcome, fdinfo_cloexec,
};

/// The variable that tells the init which stage it is (`pid1`, `exec`; unset for
/// the first).
pub const STAGE_VAR: &str = "COVE_ENV_INIT_STAGE";

/// A failed step: which, and what went wrong.
pub(crate) struct Failure {
    step: String,
    message: String,
}

pub(crate) fn fail(step: impl Into<String>) -> impl FnOnce(String) -> Failure {
    let step = step.into();
    move |message| Failure { step, message }
}

pub(crate) fn errno(step: impl Into<String>) -> impl FnOnce(Errno) -> Failure {
    let f = fail(step);
    move |e| f(e.to_string())
}

fn io(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> Failure {
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
    // Standard input is a socket to the previous stage (or the launcher): the
    // configuration comes in, the outcome goes out. Keep a close-on-exec copy for
    // the answer, so that a successful execve closes it.
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
    let result = match std::env::var(STAGE_VAR).as_deref() {
        Ok("pid1") => pid1(&mut status),
        Ok("exec") => exec(&mut status),
        _ => setup(&mut status),
    };
    let failure = match result {
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

/// Reads the configuration line; returns it with the reader (for later lines).
fn read_config(status: &File) -> Result<(InitConfig, BufReader<File>), Failure> {
    let mut incoming = status
        .try_clone()
        .map(BufReader::new)
        .map_err(io("read configuration"))?;
    let mut line = Vec::new();
    incoming
        .read_until(b'\n', &mut line)
        .map_err(io("read configuration"))?;
    let config =
        InitConfig::decode(&line).map_err(|e| fail("decode configuration")(e.to_string()))?;
    let null = File::open("/dev/null").map_err(io("open /dev/null"))?;
    nix::unistd::dup2_stdin(&null).map_err(errno("standard input to /dev/null"))?;
    Ok((config, incoming))
}

/// Starts the next stage of the init (this same program and arguments) with its
/// standard input on a new socket, sends it `config`, and returns the child and
/// the socket.
fn next_stage(
    program: OsString,
    stage: &str,
    config: &InitConfig,
) -> Result<(std::process::Child, UnixStream), Failure> {
    let what = format!("start the init's {stage} stage");
    let (mut ours, theirs) = UnixStream::pair().map_err(io(what.clone()))?;
    let mut cmd = Command::new(program);
    cmd.args(std::env::args_os().skip(1))
        .env_clear()
        .env(STAGE_VAR, stage)
        .stdin(Stdio::from(OwnedFd::from(theirs)));
    let child = cmd.spawn().map_err(io(what.clone()))?;
    // The command holds the child's end: drop it, so the child's exit is seen.
    drop(cmd);
    ours.write_all(&config.encode()).map_err(io(what))?;
    Ok((child, ours))
}

/// Stage 1: namespaces, the root, the go-ahead, pid 1; then ends as the runtime did.
fn setup(status: &mut File) -> Result<Never, Failure> {
    let (config, mut incoming) = read_config(status)?;
    // No core dump when this process re-raises the runtime's fatal signal.
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(errno("disable core dumps"))?;
    close_inherited()?;
    // Its own mounts, System V IPC and message queues, host name, and process ids
    // (for the children: the next stage is pid 1 of the new PID namespace).
    nix::sched::unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWPID,
    )
    .map_err(errno("unshare mount, IPC, UTS and PID namespaces"))?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(errno("make mounts private"))?;
    nix::unistd::sethostname(HOSTNAME).map_err(errno("set the host name"))?;
    build::root(&config.root)?;
    let exe = std::env::current_exe().map_err(io("locate the init"))?;

    // Only once the launcher has moved this process into the environment's cgroups
    // (the next stages inherit them).
    let mut go = Vec::new();
    incoming.read_until(b'\n', &mut go).map_err(io(GO_STEP))?;
    if go != GO {
        return Err(fail(GO_STEP)(
            "the launcher went away before moving the environment into its cgroups".to_owned(),
        ));
    }
    drop(incoming);
    let (mut child, ours) = next_stage(exe.into_os_string(), "pid1", &config)?;
    let mut lines = BufReader::new(ours);
    let mut line = Vec::new();
    let _ = lines.read_until(b'\n', &mut line);
    match InitOutcome::from_bytes(&line) {
        InitOutcome::Exec => {
            status
                .write_all(&InitMessage::Ready.line())
                .map_err(io("report ready"))?;
        }
        InitOutcome::Failed { step, message } => {
            let _ = child.wait();
            return Err(Failure { step, message });
        }
        InitOutcome::Died => {
            let st = child
                .wait()
                .map_or_else(|e| e.to_string(), |s| s.to_string());
            return Err(fail("start the environment's pid 1")(st));
        }
    }
    // The launcher sees end-of-file: the runtime runs. Nothing else holds its socket.
    *status = File::open("/dev/null").map_err(io("open /dev/null"))?;
    end_like_the_runtime(&mut lines, &mut child)
}

/// Waits for pid 1 and ends the way the runtime ended (pid 1 reports it; without a
/// report, the way pid 1 ended).
fn end_like_the_runtime(lines: &mut BufReader<UnixStream>, child: &mut std::process::Child) -> ! {
    let mut line = Vec::new();
    let _ = lines.read_until(b'\n', &mut line);
    let reported = serde_json::from_slice::<InitMessage>(line.strip_suffix(b"\n").unwrap_or(&line));
    let own = child.wait().ok();
    let (code, signal) = match reported {
        Ok(InitMessage::Exited { code, signal }) => (code, signal),
        _ => {
            use std::os::unix::process::ExitStatusExt as _;
            own.map_or((Some(127), None), |s| (s.code(), s.signal()))
        }
    };
    if let Some(sig) = signal.and_then(|s| nix::sys::signal::Signal::try_from(s).ok()) {
        // Twice: Rust's own SIGSEGV/SIGBUS handler takes the first one (and restores
        // the default action). A signal that stays ignored (SIGPIPE) falls through
        // to exit status 128 + signal.
        let _ = nix::sys::signal::kill(Pid::this(), sig);
        let _ = nix::sys::signal::kill(Pid::this(), sig);
    }
    std::process::exit(code.unwrap_or_else(|| 128 + signal.unwrap_or(0)))
}

/// Stage 2, pid 1 of the environment's PID namespace.
fn pid1(status: &mut File) -> Result<Never, Failure> {
    let (config, incoming) = read_config(status)?;
    drop(incoming);
    build::mount_proc()?;
    build::enter()?;
    let (child, mut ours) = next_stage("/proc/self/exe".into(), "exec", &config)?;
    let runtime = Pid::from_raw(i32::try_from(child.id()).unwrap_or(-1));
    // Never waited through `Child`: pid 1 reaps every process below.
    drop(child);
    let mut answer = Vec::new();
    let _ = ours.read_to_end(&mut answer);
    match InitOutcome::from_bytes(&answer) {
        InitOutcome::Exec => status
            .write_all(&InitMessage::Ready.line())
            .map_err(io("report ready"))?,
        InitOutcome::Failed { step, message } => return Err(Failure { step, message }),
        InitOutcome::Died => {
            return Err(fail("start the runtime")(
                "the init's last stage ended without a word".to_owned(),
            ));
        }
    }
    // Reap orphans until the runtime ends; exiting then ends every other process of
    // the namespace (the kernel kills them when pid 1 goes).
    loop {
        let (code, signal) = match nix::sys::wait::waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == runtime => (Some(code), None),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == runtime => (None, Some(sig as i32)),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => (Some(127), None),
        };
        let _ = status.write_all(&InitMessage::Exited { code, signal }.line());
        std::process::exit(0);
    }
}

/// Stage 3: limits, privileges, seccomp, `execve`.
fn exec(status: &mut File) -> Result<Never, Failure> {
    let (config, incoming) = read_config(status)?;
    drop(incoming);
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
    let filters =
        crate::init::seccomp::filters().map_err(|e| fail("build the seccomp filter")(e.0))?;
    for f in &filters {
        seccompiler::apply_filter(f)
            .map_err(|e| fail("install the seccomp filter")(e.to_string()))?;
    }
    status
        .write_all(&InitMessage::Ready.line())
        .map_err(io("report ready"))?;
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

/// Closes descriptors a child would inherit other than standard input, output and
/// error: cove opens everything close-on-exec, so such a descriptor leaked into
/// cove from whoever started it, and must not reach a tenant's code.
fn close_inherited() -> Result<(), Failure> {
    let dir = fs::read_dir("/proc/self/fd").map_err(io("list descriptors"))?;
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
