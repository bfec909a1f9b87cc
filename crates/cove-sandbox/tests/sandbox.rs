//! Environments launched for real: what the runtime sees and may do, limits, killing,
//! cleanup and reaping after a SIGKILLed launcher.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). Every
//! test has its own namespace and cgroup root (`hisb-<pid>-<n>`), removed on drop.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use common::*;
use cove_sandbox::{Controller, EnvStdio, INIT_PROCESSES, SandboxError, reap_stale};

/// What the runtime sees, printed as JSON by a Python program.
const VIEW: &str = r#"
import errno, json, os, socket
status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
def attempt(f):
    try:
        f()
        return 0
    except OSError as e:
        return e.errno
def write(path):
    with open(path, "w") as f:
        f.write("x")
st = os.statvfs("/tmp")
print(json.dumps({
    "uid": [os.getuid(), os.geteuid()],
    "gid": [os.getgid(), os.getegid()],
    "groups": os.getgroups(),
    "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapAmb")],
    "no_new_privs": status["NoNewPrivs"].strip(),
    "links": sorted(name for _, name in socket.if_nameindex()),
    "cwd": os.getcwd(),
    "task": sorted(os.listdir("/var/task")),
    "handler": open("/var/task/handler.py").read(),
    "write_task": attempt(lambda: write("/var/task/new.py")),
    "write_tmp": attempt(lambda: write("/tmp/MARKER")),
    "tmp_bytes": st.f_blocks * st.f_frsize,
    "host_file_visible": os.path.exists("/tmp/HOSTFILE"),
    "write_shm": attempt(lambda: write("/dev/shm/x")),
    "opt": sorted(os.listdir("/opt")),
    "write_opt": attempt(lambda: write("/opt/x")),
    "stdin": os.readlink("/proc/self/fd/0"),
    "fds": sorted(os.listdir("/proc/self/fd")),
    "ns": {k: os.readlink("/proc/self/ns/" + k) for k in ("mnt", "ipc", "net")},
}))
"#;

#[test]
fn the_runtime_sees_its_namespace_code_tmp_and_nothing_more() {
    if !privileged("the_runtime_sees_its_namespace_code_tmp_and_nothing_more") {
        return;
    }
    let f = Fixture::new();
    let runtime = f.dir.join("runtime");
    fs::create_dir_all(runtime.join("python")).expect("runtime dir");
    // A file on the host's /tmp the environment must not see, and the name of the
    // file the environment writes to its /tmp, which the host must not see.
    let marker = format!("{}-marker", f.name);
    let host_file = format!("{}-host", f.name);
    let _host_file = HostFile::new(std::env::temp_dir().join(&host_file));
    let program = VIEW
        .replace("MARKER", &marker)
        .replace("HOSTFILE", &host_file);
    let mut spec = f.spec("view", &[PYTHON, "-c", &program], 128);
    spec.runtime_dir = Some(runtime.clone());
    spec.tmp_mib = 32;
    let (exit, out) = f.run(&spec);
    assert!(exit.success(), "{exit:?} {out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");

    assert_eq!(v["uid"], serde_json::json!([65534, 65534]));
    assert_eq!(v["gid"], serde_json::json!([65534, 65534]));
    assert_eq!(v["groups"], serde_json::json!([]));
    for cap in v["caps"].as_array().expect("caps") {
        assert_eq!(cap, "0000000000000000", "no capabilities: {v}");
    }
    assert_eq!(v["no_new_privs"], "1");
    // A fresh namespace has only its loopback; the host has more.
    assert_eq!(v["links"], serde_json::json!(["lo"]));
    assert_eq!(v["cwd"], "/var/task");
    assert_eq!(v["task"], serde_json::json!(["handler.py"]));
    assert_eq!(
        v["handler"].as_str(),
        Some(
            fs::read_to_string(f.code.join("handler.py"))
                .expect("code")
                .as_str()
        )
    );
    assert_eq!(
        v["write_task"],
        libc_errno("EROFS"),
        "/var/task is read-only"
    );
    assert!(!f.code.join("new.py").exists());
    assert_eq!(v["write_tmp"], 0, "/tmp is writable");
    assert_eq!(v["tmp_bytes"], 32 << 20, "/tmp has the spec's size");
    assert!(
        !std::env::temp_dir().join(&marker).exists(),
        "the environment's /tmp is private"
    );
    assert_eq!(v["host_file_visible"], false, "the host's /tmp is hidden");
    assert_eq!(v["write_shm"], 0, "/dev/shm is a private tmpfs");
    assert_eq!(v["opt"], serde_json::json!(["python"]));
    assert_eq!(v["write_opt"], libc_errno("EROFS"), "/opt is read-only");
    assert_eq!(v["stdin"], "/dev/null");
    // Standard input, output, error and the listing's own descriptor: nothing
    // inherited from the launcher (which has leaked descriptors of its own here).
    assert_eq!(v["fds"], serde_json::json!(["0", "1", "2", "3"]));
    // Its own mount, IPC and network namespaces.
    for kind in ["mnt", "ipc", "net"] {
        let host = fs::read_link(format!("/proc/self/ns/{kind}")).expect("own namespace");
        assert_ne!(v["ns"][kind].as_str(), host.to_str(), "{kind} namespace");
        assert!(v["ns"][kind].as_str().is_some_and(|n| n.starts_with(kind)));
    }
}

/// A file on the host, removed on drop.
struct HostFile(std::path::PathBuf);

impl HostFile {
    fn new(path: std::path::PathBuf) -> HostFile {
        fs::write(&path, "host").expect("host file");
        HostFile(path)
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn libc_errno(name: &str) -> serde_json::Value {
    let n = match name {
        "EROFS" => nix::errno::Errno::EROFS,
        other => panic!("unknown errno {other}"),
    };
    serde_json::json!(n as i32)
}

#[test]
fn the_environment_has_exactly_the_given_variables() {
    if !privileged("the_environment_has_exactly_the_given_variables") {
        return;
    }
    let f = Fixture::new();
    // `env` is found through the given PATH, not cove's.
    let mut spec = f.spec("env", &["env"], 64);
    let given: BTreeMap<String, String> = [
        ("PATH", "/usr/bin:/bin"),
        ("AWS_LAMBDA_FUNCTION_NAME", "fn-a"),
        ("WITH_EQUALS", "a=b=c"),
        ("EMPTY", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    spec.env = given.clone();
    // The launcher has variables of its own (HOME, CARGO_*, …): none may appear.
    assert!(std::env::vars().count() > 0);
    let (exit, out) = f.run(&spec);
    assert!(exit.success(), "{exit:?}");
    assert_eq!(env_lines(&out), given);
}

#[test]
fn the_memory_limit_kills_and_wait_reports_it() {
    if !privileged("the_memory_limit_kills_and_wait_reports_it") {
        return;
    }
    let f = Fixture::new();
    let limit_mib = 64;
    // Touch every byte: b"x" * n fills the memory.
    let alloc = |mib: u64| format!("b = b'x' * ({mib} << 20)\nprint(len(b))");
    let (small, out) = f.python("fits", &alloc(limit_mib / 8), limit_mib);
    assert!(small.success(), "{small:?}");
    assert!(!small.oom_killed);
    assert_eq!(out.trim(), ((limit_mib / 8) << 20).to_string());

    let (big, out) = f.python("too-big", &alloc(limit_mib * 4), limit_mib);
    assert_eq!(big.signal, Some(9), "killed: {big:?} {out}");
    assert!(big.oom_killed, "{big:?}");
    assert!(big.oom_kills.is_some_and(|n| n >= 1));
    assert!(out.is_empty(), "never finished allocating: {out}");
}

#[test]
fn the_pids_limit_stops_a_fork_bomb() {
    if !privileged("the_pids_limit_stops_a_fork_bomb") {
        return;
    }
    let f = Fixture::new();
    let pids_max: u64 = 24;
    let attempts = 500;
    // Forks until refused (bounded); the children sleep, so all count at once.
    let program = format!(
        r#"
import os, sys, time
n = 0
err = 0
for _ in range({attempts}):
    try:
        pid = os.fork()
    except OSError as e:
        err = e.errno
        break
    if pid == 0:
        time.sleep(600)
        os._exit(0)
    n += 1
print(n, err, flush=True)
time.sleep(600)
"#
    );
    let mut spec = f.spec("bomb", &[PYTHON, "-c", &program], 128);
    spec.pids_max = pids_max;
    let (stdio, out, _) = f.files("bomb");
    let running = f.sandbox.launch(&spec, stdio).expect("launch");
    let line = eventually("the fork loop reports", || {
        let text = fs::read_to_string(&out).ok()?;
        text.ends_with('\n').then_some(text)
    });
    let mut fields = line
        .split_whitespace()
        .map(|w| w.parse::<u64>().expect("number"));
    let (forked, errno) = (fields.next().expect("n"), fields.next().expect("errno"));
    let procs = running.processes().expect("processes");
    assert!(forked < attempts, "forking was stopped");
    assert_eq!(
        forked,
        pids_max - 1,
        "the parent plus its children fill pids.max"
    );
    assert_eq!(errno, nix::errno::Errno::EAGAIN as u64);
    // The runtime and its children, plus the init's waiting stage and pid 1.
    assert_eq!(procs.len() as u64, pids_max + INIT_PROCESSES);

    running.cleanup().expect("cleanup");
    // A killed task leaves its cgroup a moment before it is a zombie.
    eventually("all killed", || {
        procs.iter().all(|&p| dead(p)).then_some(())
    });
    assert_eq!(running.wait().expect("exit").signal, Some(9));
}

#[test]
fn kill_takes_children_and_grandchildren_and_cleanup_leaves_no_cgroup() {
    if !privileged("kill_takes_children_and_grandchildren_and_cleanup_leaves_no_cgroup") {
        return;
    }
    let f = Fixture::new();
    let spec = f.spec(
        "tree",
        &[
            "sh",
            "-c",
            "sleep 600 & sh -c 'sleep 600 & sleep 600 & wait' & wait",
        ],
        64,
    );
    let running = f.sandbox.launch(&spec, EnvStdio::null()).expect("launch");
    assert!(
        running.report().missing.is_empty(),
        "{:?}",
        running.report()
    );
    // sh, sleep, sh, sleep, sleep, and the init's two waiting stages.
    let procs = eventually("the tree is up", || {
        let p = running.processes().ok()?;
        (p.len() == 7).then_some(p)
    });
    assert!(procs.contains(&(running.pid() as i32)));
    let dirs = running.cgroup_dirs().to_vec();
    assert!(any_exists(&dirs).len() == dirs.len());

    running.kill().expect("kill");
    assert!(running.processes().expect("processes").is_empty());
    // A killed task leaves its cgroup a moment before it is a zombie.
    eventually("every process is gone", || {
        procs.iter().all(|&p| dead(p)).then_some(())
    });
    let exit = wait(&running);
    assert_eq!(exit.signal, Some(9));
    assert!(!exit.oom_killed);

    running.cleanup().expect("cleanup");
    assert_eq!(any_exists(&dirs), Vec::<std::path::PathBuf>::new());
    assert!(f.sandbox.environments().expect("list").is_empty());
    running.cleanup().expect("cleanup is idempotent");
}

#[test]
fn limits_are_written_for_the_memory_size() {
    if !privileged("limits_are_written_for_the_memory_size") {
        return;
    }
    let f = Fixture::new();
    let mut spec = f.spec("limits", &["sleep", "600"], 3538);
    spec.pids_max = 77;
    let running = f.sandbox.launch(&spec, EnvStdio::null()).expect("launch");
    let limits = running.report().limits;
    // 3538 MiB is two CPUs by Lambda's 1,769 MB per vCPU.
    assert_eq!(limits.millicpus(), 2000);
    let read = |file: &str| -> Option<String> {
        running
            .cgroup_dirs()
            .iter()
            .find_map(|d| fs::read_to_string(d.join(file)).ok())
            .map(|s| s.trim().to_owned())
    };
    let bytes = (3538u64 << 20).to_string();
    match f.sandbox.cgroup_version() {
        cove_sandbox::CgroupVersion::V1 => {
            assert_eq!(
                read("memory.limit_in_bytes").as_deref(),
                Some(bytes.as_str())
            );
            if let Some(memsw) = read("memory.memsw.limit_in_bytes") {
                assert_eq!(memsw, bytes, "no swap on top of memory");
            }
            assert_eq!(
                read("cpu.cfs_quota_us"),
                Some(limits.cpu_quota_us.to_string())
            );
            assert_eq!(
                read("cpu.cfs_period_us"),
                Some(limits.cpu_period_us.to_string())
            );
        }
        cove_sandbox::CgroupVersion::V2 => {
            assert_eq!(read("memory.max").as_deref(), Some(bytes.as_str()));
            assert_eq!(
                read("cpu.max"),
                Some(format!("{} {}", limits.cpu_quota_us, limits.cpu_period_us))
            );
        }
    }
    let pids = (77 + INIT_PROCESSES).to_string();
    assert_eq!(read("pids.max").as_deref(), Some(pids.as_str()));
    // The share can change while the environment runs (e.g. a start-up boost).
    assert!(running.set_cpu(500).expect("set cpu"));
    let half = limits.cpu_period_us / 2;
    match f.sandbox.cgroup_version() {
        cove_sandbox::CgroupVersion::V1 => {
            assert_eq!(read("cpu.cfs_quota_us"), Some(half.to_string()));
        }
        cove_sandbox::CgroupVersion::V2 => {
            assert_eq!(
                read("cpu.max"),
                Some(format!("{half} {}", limits.cpu_period_us))
            );
        }
    }
    for c in [Controller::Memory, Controller::Pids, Controller::Cpu] {
        assert!(
            !f.sandbox.missing_controllers().contains_key(&c),
            "{c} should be available on this host"
        );
    }
    running.cleanup().expect("cleanup");
}

#[test]
fn async_callers_await_the_exit() {
    if !privileged("async_callers_await_the_exit") {
        return;
    }
    let f = Fixture::new();
    let spec = f.spec("async", &["sh", "-c", "exit 7"], 64);
    let running = f.sandbox.launch(&spec, EnvStdio::null()).expect("launch");
    let exit = block_on(running.exited()).expect("exit");
    assert_eq!((exit.code, exit.signal), (Some(7), None));
    // A second waiter sees the same end.
    assert_eq!(
        running.try_wait().map(|r| r.expect("exit").code),
        Some(Some(7))
    );
}

#[test]
fn a_failed_launch_says_why_and_leaves_nothing() {
    if !privileged("a_failed_launch_says_why_and_leaves_nothing") {
        return;
    }
    let f = Fixture::new();
    let mut missing_code = f.spec("no-code", &["true"], 64);
    missing_code.code_dir = f.dir.join("does-not-exist");
    let missing_program = f.spec("no-program", &["no-such-program-hisb"], 64);
    let mut missing_ns = f.spec("no-ns", &["true"], 64);
    missing_ns.namespace = format!("{}-gone", f.name);
    let mut bad = f.spec("bad", &["true"], 64);
    bad.uid = 0;

    match f.sandbox.launch(&missing_code, EnvStdio::null()) {
        Err(SandboxError::Init { step, .. }) => assert!(step.contains("/var/task"), "{step}"),
        other => panic!("expected the mount to fail: {other:?}"),
    }
    match f.sandbox.launch(&missing_program, EnvStdio::null()) {
        Err(SandboxError::Init { step, message, .. }) => {
            assert!(step.starts_with("exec"), "{step}");
            assert!(
                message.contains("/usr/bin/no-such-program-hisb"),
                "{message}"
            );
        }
        other => panic!("expected exec to fail: {other:?}"),
    }
    assert!(matches!(
        f.sandbox.launch(&missing_ns, EnvStdio::null()),
        Err(SandboxError::Spawn { .. })
    ));
    assert!(matches!(
        f.sandbox.launch(&bad, EnvStdio::null()),
        Err(SandboxError::InvalidSpec { field: "uid", .. })
    ));
    assert!(f.sandbox.environments().expect("list").is_empty());

    // An id is used once.
    let once = f.spec("once", &["sleep", "600"], 64);
    let first = f.sandbox.launch(&once, EnvStdio::null()).expect("launch");
    assert!(matches!(
        f.sandbox.launch(&once, EnvStdio::null()),
        Err(SandboxError::EnvExists { .. })
    ));
    assert_eq!(
        first.processes().expect("processes").len() as u64,
        1 + INIT_PROCESSES,
        "untouched"
    );
    assert_eq!(
        any_exists(first.cgroup_dirs()).len(),
        first.cgroup_dirs().len(),
        "its cgroups are untouched"
    );
    first.cleanup().expect("cleanup");
}

/// The variables that turn this test's process into the launcher of
/// [`reap_after_the_launcher_is_sigkilled_leaves_nothing`].
const ROLE: &str = "CVSB_LAUNCHER_ROLE";

#[test]
fn reap_after_the_launcher_is_sigkilled_leaves_nothing() {
    if let Ok(args) = std::env::var(ROLE) {
        // The launcher ("cove"): start an environment with a process tree, say which
        // processes it has, then wait to be killed.
        let (ns, root, code) = {
            let mut a = args.split('|').map(str::to_owned);
            (
                a.next().expect("ns"),
                a.next().expect("root"),
                a.next().expect("code"),
            )
        };
        let sandbox = cove_sandbox::Sandbox::new(
            cove_host::Host::new("hisb").expect("prefix"),
            cove_sandbox::SandboxConfig::new(
                cove_sandbox::CgroupRoot::new(&root).expect("root"),
                init(),
            ),
        )
        .expect("sandbox");
        let spec = cove_sandbox::EnvSpec::new(
            ns,
            cove_sandbox::EnvId::new("stale-env").expect("id"),
            ["sh", "-c", "sleep 600 & sh -c 'sleep 600 & wait' & wait"]
                .map(String::from)
                .to_vec(),
            code,
            64,
        );
        let running = sandbox.launch(&spec, EnvStdio::null()).expect("launch");
        // sh, sleep, sh, sleep and the init's two waiting stages.
        let procs = eventually("tree", || {
            let p = running.processes().ok()?;
            (p.len() == 6).then_some(p)
        });
        println!("CVSB-PIDS {procs:?}");
        std::thread::sleep(TIMEOUT);
        panic!("the launcher was not killed");
    }
    if !privileged("reap_after_the_launcher_is_sigkilled_leaves_nothing") {
        return;
    }
    let f = Fixture::new();
    let mut launcher = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "reap_after_the_launcher_is_sigkilled_leaves_nothing",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE, format!("{}|{}|{}", f.name, f.name, f.code.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn launcher");
    let stdout = launcher.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints `test NAME ... ` before the test's own output.
            if let Some((_, list)) = line.split_once("CVSB-PIDS ") {
                let _ = tx.send(list.to_owned());
            }
        }
    });
    let list = rx.recv_timeout(TIMEOUT);
    // SIGKILL, like `kill -9` of cove.
    launcher.kill().expect("kill launcher");
    launcher.wait().expect("reap launcher");
    let list = list.expect("the launcher reported its environment");
    let pids: Vec<i32> = list
        .trim_matches(['[', ']'])
        .split(", ")
        .map(|p| p.parse().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 6);
    // The environment outlived its launcher.
    assert!(pids.iter().all(|&p| !dead(p)), "still running: {pids:?}");
    assert_eq!(
        f.sandbox
            .environments()
            .expect("list")
            .into_iter()
            .collect::<Vec<_>>(),
        ["stale-env"]
    );

    let root = cove_sandbox::CgroupRoot::new(&f.name).expect("root");
    let report = reap_stale(&root, |_| false).expect("reap");
    assert_eq!(report.reaped, ["stale-env"]);
    assert_eq!(report.killed, 6);
    // A killed task leaves its cgroup a moment before it is a zombie.
    eventually("every process is gone", || {
        pids.iter().all(|&p| dead(p)).then_some(())
    });
    assert!(f.sandbox.environments().expect("list").is_empty());
    f.sandbox.remove_root().expect("root is empty");
    assert_eq!(
        any_exists(&f.sandbox.root_dirs()),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn reap_keeps_the_living() {
    if !privileged("reap_keeps_the_living") {
        return;
    }
    let f = Fixture::new();
    let live = f
        .sandbox
        .launch(&f.spec("live", &["sleep", "600"], 64), EnvStdio::null())
        .expect("launch");
    let stale = f
        .sandbox
        .launch(&f.spec("stale", &["sleep", "600"], 64), EnvStdio::null())
        .expect("launch");
    let report = f
        .sandbox
        .reap_stale(|id| id.as_str() == "live")
        .expect("reap");
    assert_eq!(
        (report.reaped, report.kept),
        (vec!["stale".to_owned()], vec!["live".to_owned()])
    );
    assert_eq!(wait(&stale).signal, Some(9));
    assert!(
        live.try_wait().is_none(),
        "the living environment still runs"
    );
    let procs = live.processes().expect("processes");
    assert_eq!(procs.len() as u64, 1 + INIT_PROCESSES);
    assert!(procs.contains(&(live.pid() as i32)));
    stale.cleanup().expect("cleanup after reap is fine");
    live.cleanup().expect("cleanup");
}

#[test]
fn the_init_never_runs_the_program_without_the_go_ahead() {
    if !privileged("the_init_never_runs_the_program_without_the_go_ahead") {
        return;
    }
    use std::io::{Read as _, Write as _};
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    use cove_sandbox::init::config::{GO_STEP, InitConfig, InitOutcome};

    // The launcher sends the instructions and then goes away before moving the init
    // into the cgroups: the init must exit without running the program.
    let f = Fixture::new();
    let spec = f.spec("no-go", &["sh", "-c", "echo ran"], 64);
    let (mut ours, theirs) = UnixStream::pair().expect("socketpair");
    let mut init = Command::new(env!("CARGO_BIN_EXE_cove-env-init"))
        .env_clear()
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn init");
    ours.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    ours.write_all(&InitConfig::plan(&spec).encode())
        .expect("send instructions");
    ours.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut answer = Vec::new();
    ours.read_to_end(&mut answer).expect("answer");
    let status = init.wait().expect("wait init");
    let mut out = String::new();
    init.stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("stdout");
    match InitOutcome::from_bytes(&answer) {
        InitOutcome::Failed { step, .. } => assert_eq!(step, GO_STEP),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(status.code(), Some(127));
    assert_eq!(out, "", "the program never ran");
}
