//! What an environment cannot see or do: its own root file system, its own PID
//! namespace, the seccomp filter, a size-limited `/tmp`; and that it ends the way
//! its runtime ends.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). Every
//! test has its own namespace and cgroup root (`hisb-<pid>-<n>`), removed on drop.

mod common;

use std::fs;

use common::*;
use nix::errno::Errno;

/// Probes from inside, printed as JSON by a Python program.
const PROBES: &str = r#"
import ctypes, json, os, pwd, socket, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)
def call(f, *args):
    ctypes.set_errno(0)
    return 0 if f(*args) != -1 else ctypes.get_errno()
def attempt(f):
    try:
        f()
        return 0
    except OSError as e:
        return e.errno
def write(path):
    with open(path, "w") as f:
        f.write("x")
def fill_tmp():
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
def clone_newuser():
    # clone(CLONE_NEWUSER | SIGCHLD): the child, if any, leaves at once.
    r = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
        return 0
    return ctypes.get_errno()
def orphan():
    # A child whose own child outlives it: the grandchild is an orphan for pid 1.
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)
orphan()
def pids_after_reaping():
    # pid 1 reaps the orphan asynchronously: wait for it (bounded), then list.
    for _ in range(1000):
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        if pids == [1, os.getpid()]:
            break
        time.sleep(0.01)
    return pids
pids = pids_after_reaping()
sh = subprocess.run(["/bin/sh", "-c", "[[ x == x ]] && a=(1 2) && echo ${#a[@]} $BASH_VERSION"],
                    capture_output=True, text=True)
print(json.dumps({
    "root": sorted(os.listdir("/")),
    "etc": sorted(os.listdir("/etc")),
    "dev": sorted(os.listdir("/dev")),
    "visible": {p: os.path.exists(p) for p in HIDDEN},
    "pids": pids,
    "me": os.getpid(),
    "user": pwd.getpwuid(os.getuid()).pw_name,
    "hostname": socket.gethostname(),
    "write_root": attempt(lambda: write("/x")),
    "write_etc": attempt(lambda: write("/etc/passwd")),
    "write_usr": attempt(lambda: write("/usr/x")),
    "sh": sh.stdout.strip(),
    "unshare_user": call(libc.unshare, 0x10000000),
    "unshare_net": call(libc.unshare, 0x40000000),
    "clone_newuser": clone_newuser(),
    "mount": call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None),
    "ptrace_traceme": call(libc.ptrace, 0, 0, None, None),
    "bpf": call(libc.syscall, 321, 0, None, 0),
    "keyctl": call(libc.syscall, 250, 0, 0, 0, 0, 0),
    "raw_socket": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),
    "packet_socket": attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)),
    "thread": attempt(lambda: __import__("threading").Thread(target=lambda: None).start()),
    "tmp_full": attempt(fill_tmp),
    "tmp_size": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize,
}))
"#;

/// Host paths that must not exist inside an environment.
const HIDDEN: [&str; 12] = [
    "/var/lib",
    "/var/lib/cove",
    "/var/tmp",
    "/var/log",
    "/root",
    "/home",
    "/run",
    "/sys",
    "/etc/shadow",
    "/etc/machine-id",
    "/boot",
    "/srv",
];

fn errno(e: Errno) -> serde_json::Value {
    serde_json::json!(e as i32)
}

#[test]
fn the_environment_has_its_own_root_pids_and_filter() {
    if !privileged("the_environment_has_its_own_root_pids_and_filter") {
        return;
    }
    let f = Fixture::new();
    let runtime = f.dir.join("runtime");
    fs::create_dir_all(runtime.join("python")).expect("runtime dir");
    let hidden = serde_json::to_string(&HIDDEN).expect("json");
    let program = PROBES.replace("HIDDEN", &hidden);
    let mut spec = f.spec("probes", &[PYTHON, "-c", &program], 128);
    spec.runtime_dir = Some(runtime);
    spec.tmp_mib = 4;
    spec.uid = 200_123;
    spec.gid = 200_123;
    let (exit, out) = f.run(&spec);
    assert!(exit.success(), "{exit:?} {out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");

    // Its own root: only what runtimes need.
    assert_eq!(
        v["root"],
        serde_json::json!([
            "bin", "dev", "etc", "lib", "lib64", "opt", "proc", "sbin", "tmp", "usr", "var"
        ]),
        "{v}"
    );
    for p in HIDDEN {
        assert_eq!(v["visible"][p], false, "{p} is hidden: {v}");
    }
    let etc: Vec<&str> = v["etc"]
        .as_array()
        .expect("etc")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    for needed in [
        "passwd",
        "group",
        "resolv.conf",
        "hosts",
        "ssl",
        "ld.so.cache",
    ] {
        assert!(etc.contains(&needed), "/etc/{needed}: {etc:?}");
    }
    assert!(!etc.contains(&"shadow"), "{etc:?}");
    assert_eq!(
        v["dev"],
        serde_json::json!([
            "fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "urandom", "zero"
        ])
    );
    assert_eq!(v["user"], "sbx_user1051", "its uid has a passwd entry");
    assert_eq!(v["hostname"], "cove-env");
    for (what, key) in [
        ("/", "write_root"),
        ("/etc", "write_etc"),
        ("/usr", "write_usr"),
    ] {
        assert_eq!(v[key], errno(Errno::EROFS), "{what} is read-only: {v}");
    }
    // Lambda's images run `provided` bootstraps' `#!/bin/sh` with bash.
    assert!(
        v["sh"].as_str().is_some_and(|s| s.starts_with("2 5.")),
        "/bin/sh is bash: {v}"
    );

    // Its own PID namespace: pid 1 (the init) and the runtime, nothing of the host;
    // the orphan was reaped.
    assert_eq!(v["pids"], serde_json::json!([1, 2]), "{v}");
    assert_eq!(v["me"], 2);

    // The seccomp filter, and no capabilities.
    for key in [
        "unshare_user",
        "unshare_net",
        "clone_newuser",
        "mount",
        "ptrace_traceme",
        "bpf",
        "keyctl",
        "raw_socket",
        "packet_socket",
    ] {
        assert_eq!(v[key], errno(Errno::EPERM), "{key}: {v}");
    }
    assert_eq!(
        v["thread"], 0,
        "threads still start (clone3 falls back to clone)"
    );

    // /tmp has the spec's size and refuses more.
    assert_eq!(v["tmp_size"], 4 << 20);
    assert_eq!(v["tmp_full"], errno(Errno::ENOSPC));
}

#[test]
fn the_environment_ends_as_its_runtime_ends() {
    if !privileged("the_environment_ends_as_its_runtime_ends") {
        return;
    }
    let f = Fixture::new();
    let (exit, _) = f.run(&f.spec("code", &["sh", "-c", "exit 3"], 64));
    assert_eq!((exit.code, exit.signal), (Some(3), None));
    let (exit, _) = f.run(&f.spec("signal", &["sh", "-c", "kill -SEGV $$"], 64));
    assert_eq!((exit.code, exit.signal), (None, Some(11)));
    let (exit, _) = f.run(&f.spec("ok", &["true"], 64));
    assert!(exit.success());
}

#[test]
fn descendants_end_with_the_runtime() {
    if !privileged("descendants_end_with_the_runtime") {
        return;
    }
    let f = Fixture::new();
    // The runtime leaves a background process behind and exits: the environment's
    // pid 1 goes with the runtime, and the kernel ends the rest of its namespace.
    let spec = f.spec(
        "leave",
        &["sh", "-c", "sleep 600 & echo $! > /dev/null; exit 0"],
        64,
    );
    let (stdio, _, _) = f.files("leave");
    let running = f.sandbox.launch(&spec, stdio).expect("launch");
    let exit = wait(&running);
    assert!(exit.success(), "{exit:?}");
    eventually("nothing is left", || {
        running.processes().ok().filter(|p| p.is_empty())
    });
    running.cleanup().expect("cleanup");
}
