//! Hostile handlers: from inside a function, try everything a tenant must not be
//! able to do, and check the specific failure (not merely "no crash"). A victim
//! function of its own (with a secret variable, code, logs and a file in its `/tmp`)
//! runs beside the attacker in the same VPC, under `cove serve`.
//!
//! Python probes everything; Node.js, Ruby and a `provided` shell bootstrap check
//! the seccomp filter (`unshare -Ur`), the PID namespace and the hidden host in
//! their runtimes too (Go runs under the same filter in `runtimes.rs`).
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). Needs the
//! runtime clients (`scripts/install-runtimes.sh`).

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};

use common::functions::{Background, runtimes_ready, serve, slot_ips, slot_namespaces};
use common::{Deployment, deploy, invoke};
use serde_json::{Value, json};

/// The attacker: one probe per event, each answering with what happened.
const HOSTILE_PY: &str = r#"
import ctypes, errno, os, socket, subprocess
libc = ctypes.CDLL(None, use_errno=True)

def err(e):
    return {"errno": e, "error": errno.errorcode.get(e, str(e))}

def attempt(f):
    try:
        f()
        return {"errno": 0, "error": None}
    except OSError as e:
        return err(e.errno)

def call(f, *args):
    ctypes.set_errno(0)
    return err(ctypes.get_errno()) if f(*args) == -1 else {"errno": 0, "error": None}

def read(path):
    if os.path.isdir(path):
        os.listdir(path)
    else:
        open(path, "rb").read()

def connect(host, port, timeout_ms=1500, source=None):
    s = socket.socket()
    s.settimeout(timeout_ms / 1000)
    try:
        if source:
            s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: no privilege needed
            s.bind((source, 0))
        s.connect((host, port))
        return "ok"
    except socket.timeout:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()

def clone_newuser():
    r = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)  # clone(CLONE_NEWUSER|SIGCHLD)
    if r == 0:
        os._exit(0)
    if r > 0:
        os.waitpid(r, 0)
        return {"errno": 0, "error": None}
    return err(ctypes.get_errno())

def handler(event, context):
    p = event["probe"]
    if p == "write_tmp":
        with open("/tmp/" + event["name"], "w") as f:
            f.write("mine")
        return {"ok": True}
    if p == "paths":
        return {path: attempt(lambda path=path: read(path)) for path in event["paths"]}
    if p == "processes":
        pids = sorted(int(d) for d in os.listdir("/proc") if d.isdigit())
        found = []
        for pid in pids:
            for what in ("environ", "cmdline"):
                try:
                    if event["needle"].encode() in open(f"/proc/{pid}/{what}", "rb").read():
                        found.append(f"{pid}/{what}")
                except OSError:
                    pass
        ps = subprocess.run(["ps", "-e", "-o", "pid="], capture_output=True, text=True)
        return {"pids": pids, "found": found, "ps": ps.stdout.split()}
    if p == "syscalls":
        ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        sh = subprocess.run(["unshare", "-Ur", "true"], capture_output=True, text=True)
        return {
            "unshare_user": call(libc.unshare, 0x10000000),
            "unshare_net": call(libc.unshare, 0x40000000),
            "unshare_mount": call(libc.unshare, 0x00020000),
            "clone_newuser": clone_newuser(),
            "setns": call(libc.setns, ns, 0),
            "mount": call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None),
            "ptrace_traceme": call(libc.ptrace, 0, 0, None, None),
            "ptrace_attach_1": call(libc.ptrace, 16, 1, None, None),
            "bpf": call(libc.syscall, 321, 0, None, 0),
            "keyctl": call(libc.syscall, 250, 0, 0, 0, 0, 0),
            "perf_event_open": call(libc.syscall, 298, None, 0, -1, -1, 0),
            "raw_socket": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),
            "packet_socket": attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)),
            "transparent": attempt(lambda: socket.socket().setsockopt(socket.SOL_IP, 19, 1)),
            "unshare_command": [sh.returncode, sh.stderr.strip()],
        }
    if p == "connect":
        return {"result": connect(event["host"], event["port"], event.get("timeout_ms", 1500), event.get("source"))}
    if p == "fill_tmp":
        written = 0
        try:
            with open("/tmp/fill", "wb") as f:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
                    written += 1
        except OSError as e:
            return dict(err(e.errno), written_mib=written)
        finally:
            os.unlink("/tmp/fill")
    if p == "fork_bomb":
        children, e = [], 0
        while len(children) < 100000:
            try:
                pid = os.fork()
            except OSError as x:
                e = x.errno
                break
            if pid == 0:
                import time
                time.sleep(60)
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        return dict(err(e), forked=len(children))
    if p == "memory_bomb":
        hog = []
        while True:
            hog.append(bytearray(16 << 20))
    if p == "truncate_log":
        print(event["marker"], flush=True)
        return {
            "stdout": attempt(lambda: os.ftruncate(1, 0)),
            "stderr": attempt(lambda: os.ftruncate(2, 0)),
            "stdout_is": os.readlink("/proc/self/fd/1"),
        }
    raise ValueError("unknown probe " + p)
"#;

/// The victim: writes a file into its `/tmp` and stays warm.
const VICTIM_PY: &str = r#"
import os
def handler(event, context):
    with open("/tmp/" + event["name"], "w") as f:
        f.write(os.environ["SECRET"])
    return {"ok": True}
"#;

const HOSTILE_NODE: &str = r#"
const { spawnSync } = require("child_process");
const fs = require("fs");
exports.handler = async () => {
  const u = spawnSync("unshare", ["-Ur", "true"], { encoding: "utf8" });
  const pids = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
  return { unshare: [u.status, (u.stderr || "").trim()], pids, var: fs.existsSync("/var/lib") };
};
"#;

const HOSTILE_RUBY: &str = r#"
require 'open3'
def handler(event:, context:)
  _, err, st = Open3.capture3('unshare', '-Ur', 'true')
  pids = Dir.children('/proc').grep(/\A\d+\z/).map(&:to_i).sort
  { 'unshare' => [st.exitstatus, err.strip], 'pids' => pids, 'var' => File.exist?('/var/lib') }
end
"#;

/// A `provided` bootstrap as written for Lambda's images: `#!/bin/sh` with
/// bash-isms (`[[ ]]`, arrays), curl for the Runtime API.
const HOSTILE_BOOTSTRAP: &str = r#"#!/bin/sh
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -LD "$HEADERS" "$API/invocation/next" -o /dev/null
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  words=(bash arrays)
  if [[ ${#words[@]} == 2 ]]; then SH=bash; else SH=other; fi
  U=$(unshare -Ur true 2>&1 || true)
  N=$(ls /proc | grep -c '^[0-9]*$')
  printf '{"sh":"%s","unshare":"%s","processes":%s}' "$SH" "$U" "$N" > /tmp/out
  curl -sS -X POST "$API/invocation/$ID/response" --data-binary @/tmp/out -o /dev/null
  rm -f "$HEADERS"
done
"#;

/// A TCP listener in namespace `ns` (`None`: the host's) on `ip:port` that appends a
/// line to `log` for every connection it accepts.
fn listener(ns: Option<&str>, ip: &str, port: u16, log: &Path) -> Background {
    let script = format!(
        "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('{ip}',{port}))\ns.listen(16)\nprint('ready',flush=True)\nwhile True:\n  c,a=s.accept()\n  open('{}','a').write(a[0]+'\\n')\n  c.close()\n",
        log.display()
    );
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Process::new("ip");
            c.args(["netns", "exec", ns, "python3", "-c", &script]);
            c
        }
        None => {
            let mut c = Process::new("python3");
            c.args(["-c", &script]);
            c
        }
    };
    let mut child = Background(cmd.stdout(Stdio::piped()).spawn().expect("listener"));
    let mut ready = String::new();
    let out = child.0.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut ready).expect("ready");
    assert_eq!(ready.trim(), "ready", "listener on {ip}:{port}");
    child
}

fn code_dir(root: &Path, name: &str, files: &[(&str, &str, u32)]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("code dir");
    for (file, text, mode) in files {
        let p = dir.join(file);
        std::fs::write(&p, text).expect("code");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).expect("chmod");
    }
    dir
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o7777
}

/// The host's first global IPv4 address.
fn host_ip() -> String {
    let out = Process::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .expect("ip addr");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .expect("a global address")
        .to_owned()
}

/// A TCP connection from namespace `ns` (as root), from `source` if given (with
/// IP_TRANSPARENT, so the kernel sends it whatever the address).
fn forge_connect(ns: &str, host: &str, port: u16, source: Option<&str>) -> String {
    let bind = source.map_or(String::new(), |s| {
        format!("s.setsockopt(socket.SOL_IP,19,1)\ns.bind(('{s}',0))\n")
    });
    let script = format!(
        "import socket\ns=socket.socket()\ns.settimeout(1.5)\n{bind}try:\n  s.connect(('{host}',{port}))\n  print('ok')\nexcept socket.timeout:\n  print('timeout')\nexcept OSError as e:\n  print(e.errno)\n"
    );
    let out = Process::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &script])
        .output()
        .expect("python");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn probe(d: &Deployment, event: Value) -> Value {
    let (code, v) = invoke(d, "hostile", &event);
    assert_eq!(code, 0, "{event}: {v}");
    v
}

#[test]
fn hostile_handlers_fail_where_they_must() {
    if !cove_probe::privileged("hostile") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("h");
    d.apply_example();
    let work = tempfile::tempdir().expect("tmp");
    let common_args = [
        "--subnets",
        "functions/private-a",
        "--security-groups",
        "fn",
    ];
    let victim_code = code_dir(work.path(), "victim", &[("app.py", VICTIM_PY, 0o644)]);
    let mut args = common_args.to_vec();
    args.extend(["--env", "SECRET=hi-victim-secret-42"]);
    deploy(
        &d,
        "victim",
        "python3.11",
        "app.handler",
        &victim_code,
        &args,
    );
    let hostile_code = code_dir(work.path(), "hostile", &[("app.py", HOSTILE_PY, 0o644)]);
    let mut args = common_args.to_vec();
    // More memory than /tmp (512 MB, memory-backed) so that filling /tmp meets its
    // size limit, not the memory limit.
    args.extend(["--memory", "1024", "--timeout", "60", "--concurrency", "2"]);
    deploy(
        &d,
        "hostile",
        "python3.11",
        "app.handler",
        &hostile_code,
        &args,
    );
    let (_serve, serve_addr) = serve(&d, &[]);

    // The victim is warm, with a file in its /tmp; it has written a log.
    let (code, v) = invoke(&d, "victim", &json!({"name": "hi-victim-file"}));
    assert_eq!(code, 0, "{v}");

    // 1. cove's state is root's alone on the host.
    let base = d.state.path().join(&d.prefix);
    assert_eq!(mode(&base), 0o700);
    assert_eq!(mode(&base.join("cove.db")), 0o600);
    assert_eq!(mode(&base.join("code")), 0o700);
    let logs = base.join("logs").join("platform").join("victim");
    let log = std::fs::read_dir(&logs)
        .expect("victim logs")
        .next()
        .expect("a log")
        .expect("entry")
        .path();
    assert_eq!(mode(&log), 0o600);
    let snapshot = std::fs::read_dir(base.join("code"))
        .expect("code store")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.join("app.py").is_file()
                && std::fs::read_to_string(p.join("app.py")).is_ok_and(|t| t.contains("SECRET"))
        })
        .expect("the victim's snapshot");

    // 2. Nothing of it, or of the victim, is visible from inside.
    let paths = [
        d.state.path().to_path_buf(),
        base.join("cove.db"),
        snapshot.clone(),
        log.clone(),
        PathBuf::from("/var/lib/cove"),
        PathBuf::from("/tmp/hi-victim-file"),
        PathBuf::from("/root"),
        PathBuf::from("/home"),
        PathBuf::from("/run/netns"),
        PathBuf::from("/sys/fs/cgroup"),
    ];
    let v = probe(&d, json!({"probe": "paths", "paths": paths}));
    for p in &paths {
        let key = p.display().to_string();
        assert_eq!(v[&key]["error"], "ENOENT", "{key}: {v}");
    }

    // 3. Only its own processes, and no trace of the victim's secret.
    let v = probe(
        &d,
        json!({"probe": "processes", "needle": "hi-victim-secret-42"}),
    );
    assert_eq!(v["pids"], json!([1, 2]), "{v}");
    assert_eq!(v["found"], json!([]), "{v}");
    assert!(v["ps"].as_array().is_some_and(|p| p.len() <= 4), "{v}");

    // 4. No namespaces, mounts, tracing, kernel interfaces or raw sockets.
    let v = probe(&d, json!({"probe": "syscalls"}));
    for key in [
        "unshare_user",
        "unshare_net",
        "unshare_mount",
        "clone_newuser",
        "setns",
        "mount",
        "ptrace_traceme",
        "ptrace_attach_1",
        "bpf",
        "keyctl",
        "perf_event_open",
        "raw_socket",
        "packet_socket",
    ] {
        assert_eq!(v[key]["error"], "EPERM", "{key}: {v}");
    }
    assert_eq!(v["unshare_command"][0], 1, "{v}");
    assert!(
        v["unshare_command"][1]
            .as_str()
            .is_some_and(|s| s.contains("Operation not permitted")),
        "{v}"
    );

    // 5. The network: the host, cove serve, another slot's Runtime API, a VPC
    //    without peering, a forged source address.
    let seen = work.path().join("seen");
    let host = host_ip();
    std::fs::create_dir_all(&seen).expect("dir");
    let _host_listener = listener(None, "0.0.0.0", 18_431, &seen.join("host"));
    let v = probe(
        &d,
        json!({"probe": "connect", "host": host, "port": 18_431}),
    );
    // Through the NAT gateway to the internet stand-in, which has no route to it.
    assert!(
        ["ENETUNREACH", "timeout"].contains(&v["result"].as_str().unwrap_or_default()),
        "the host at {host}: {v}"
    );
    let v = probe(
        &d,
        json!({"probe": "connect", "host": "127.0.0.1", "port": serve_addr.port()}),
    );
    assert_eq!(v["result"], "refused", "cove serve: {v}");
    for ip in slot_ips(&d, "victim") {
        let v = probe(&d, json!({"probe": "connect", "host": ip, "port": 9001}));
        assert_ne!(v["result"], "ok", "the victim's Runtime API at {ip}: {v}");
    }
    let net = common::example_network();
    let names = cove_plan::names::Names::new(&net, &d.prefix);
    let dw_ns = names.eni_ns(net.find_eni("warehouse/dw-1").expect("dw-1"));
    let _dw = listener(Some(&dw_ns), "10.40.1.10", 18_432, &seen.join("dw"));
    let v = probe(
        &d,
        json!({"probe": "connect", "host": "10.40.1.10", "port": 18_432}),
    );
    // Its route table sends 10.40.0.0/16 to the NAT gateway, and the internet has no
    // route to a private address.
    assert_eq!(v["result"], "ENETUNREACH", "the VPC without peering: {v}");
    let outside = format!("{}-outside", d.prefix);
    let internet = net.internet_stand_in().to_string();
    let _web = listener(Some(&outside), &internet, 18_433, &seen.join("web"));
    // The same connection from its own address arrives (through the NAT gateway).
    let v = probe(
        &d,
        json!({"probe": "connect", "host": internet, "port": 18_433}),
    );
    assert_eq!(v["result"], "ok", "{v}");
    // Forging a source address: the kernel refuses to send from an address the
    // environment does not have (without IP_TRANSPARENT, which needs a privilege).
    let victim_ip = slot_ips(&d, "victim")[0].clone();
    let v = probe(
        &d,
        json!({"probe": "connect", "host": internet, "port": 18_433, "source": victim_ip}),
    );
    assert_eq!(v["result"], "ENETUNREACH", "a forged source: {v}");
    let v = probe(&d, json!({"probe": "syscalls"}));
    assert_eq!(v["transparent"]["error"], "EPERM", "{v}");
    // And were a packet forged anyway (here by root in the attacker's slot), the
    // data plane drops it: real traffic.
    let hostile_ns = slot_namespaces(&d, "hostile")[0].clone();
    let forged = forge_connect(&hostile_ns, &internet, 18_433, Some(&victim_ip));
    assert_eq!(forged, "timeout", "a forged packet from {hostile_ns}");
    assert_eq!(forge_connect(&hostile_ns, &internet, 18_433, None), "ok");
    for f in ["host", "dw"] {
        assert!(!seen.join(f).exists(), "{f} saw a connection");
    }
    let web_seen = std::fs::read_to_string(seen.join("web")).unwrap_or_default();
    assert_eq!(
        web_seen.lines().count(),
        2,
        "only the genuine ones: {web_seen}"
    );
    assert!(!web_seen.contains(&victim_ip), "{web_seen}");

    // 6. Its output cannot be erased: standard output is a pipe, not the log file.
    let out = d
        .cove()
        .args(["fn", "invoke", "hostile", "--log-type", "Tail", "--payload"])
        .arg(json!({"probe": "truncate_log", "marker": "hi-marker-before-truncate"}).to_string())
        .output()
        .expect("invoke");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["stdout"]["error"], "EINVAL", "{v}");
    assert_eq!(v["stderr"]["error"], "EINVAL", "{v}");
    assert!(
        v["stdout_is"]
            .as_str()
            .is_some_and(|s| s.starts_with("pipe:")),
        "{v}"
    );
    let tail = String::from_utf8_lossy(&out.stderr);
    assert!(tail.contains("hi-marker-before-truncate"), "{tail}");

    // 7. /tmp stops at its size; a fork bomb at the process limit; a memory bomb is
    //    an out-of-memory error, and the function goes on.
    let v = probe(&d, json!({"probe": "fill_tmp"}));
    assert_eq!(v["error"], "ENOSPC", "{v}");
    assert!(
        v["written_mib"]
            .as_u64()
            .is_some_and(|m| (500..=512).contains(&m)),
        "{v}"
    );
    let v = probe(&d, json!({"probe": "fork_bomb"}));
    assert_eq!(v["error"], "EAGAIN", "{v}");
    assert!(v["forked"].as_u64().is_some_and(|n| n < 1024), "{v}");
    let (code, v) = invoke(&d, "hostile", &json!({"probe": "memory_bomb"}));
    assert_eq!(code, 5, "{v}");
    assert_eq!(v["errorType"], "Runtime.OutOfMemory", "{v}");
    let v = probe(&d, json!({"probe": "paths", "paths": ["/var/task/app.py"]}));
    assert_eq!(v["/var/task/app.py"]["error"], Value::Null, "{v}");
}

#[test]
fn node_ruby_and_provided_are_confined_too() {
    if !cove_probe::privileged("hostile") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("hn");
    d.apply_example();
    let work = tempfile::tempdir().expect("tmp");
    let args = [
        "--subnets",
        "functions/private-a",
        "--security-groups",
        "fn",
    ];
    let node = code_dir(work.path(), "node", &[("index.js", HOSTILE_NODE, 0o644)]);
    deploy(&d, "hnode", "nodejs20", "index.handler", &node, &args);
    let sh = code_dir(
        work.path(),
        "sh",
        &[("bootstrap", HOSTILE_BOOTSTRAP, 0o755)],
    );
    deploy(&d, "hsh", "provided", "handler", &sh, &args);

    let ruby = code_dir(work.path(), "ruby", &[("app.rb", HOSTILE_RUBY, 0o644)]);
    deploy(&d, "hruby", "ruby3.1", "app.handler", &ruby, &args);

    for name in ["hnode", "hruby"] {
        let (code, v) = invoke(&d, name, &json!({}));
        assert_eq!(code, 0, "{name}: {v}");
        assert_eq!(v["unshare"][0], 1, "{name}: {v}");
        assert!(
            v["unshare"][1]
                .as_str()
                .is_some_and(|s| s.contains("Operation not permitted")),
            "{name}: {v}"
        );
        assert_eq!(v["pids"], json!([1, 2]), "{name}: {v}");
        assert_eq!(v["var"], false, "{name}: {v}");
    }

    let (code, v) = invoke(&d, "hsh", &json!({}));
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["sh"], "bash", "/bin/sh runs bash-isms as on Lambda: {v}");
    assert!(
        v["unshare"]
            .as_str()
            .is_some_and(|s| s.contains("Operation not permitted")),
        "{v}"
    );
    // pid 1, the shell and the few commands it runs at a time: never the host's.
    assert!(v["processes"].as_u64().is_some_and(|n| n <= 10), "{v}");
}
