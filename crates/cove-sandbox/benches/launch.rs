//! Cost of launching an environment, against the floor of starting a process in the
//! namespace, and what it adds to the cold start of a trivial Python program.
//! Needs root.
//!
//! `cargo bench -p cove-sandbox --bench launch` (`LAUNCH_N` launches per series,
//! default 200; `LAUNCH_PY_N` Python runs per series, default 30).
//!
//! Series:
//! * `spawn floor`: `Host::spawn` of `/bin/true` (and of the init binary) in the
//!   namespace until `execve` (what any launcher pays; no cgroup, no mounts);
//! * `launch-to-exec`: `Sandbox::launch` until the runtime's `execve` (cgroups
//!   created and limited, init started and joined, mounts, privileges dropped);
//! * `launch+exit+cleanup`: the whole life of an environment running `/bin/true`;
//! * launches while up to `LAUNCH_N` environments stay up, then the cleanup (kill,
//!   wait, remove cgroups) of each;
//! * Python `-c pass`: launch until exit in the sandbox at 128 MiB (0.1 CPU floor)
//!   and at 1769 MiB (one CPU), and on the host without any sandbox;
//! * with `LAUNCH_RIC_DIR` (a directory holding `awslambdaric`, e.g. from
//!   `pip install --target DIR awslambdaric`): the cold start of a trivial handler
//!   under `python3 -m awslambdaric`, from the launch until its first Runtime API
//!   request arrives, in the sandbox (the directory mounted at `/opt`) and on the host,
//!   and at 128 MiB with a start-up boost (a whole CPU until that first request).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cove_host::Host;
use cove_sandbox::{CpuPolicy, EnvSpec, EnvStdio, InitProgram, Sandbox, SandboxConfig};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort_unstable();
    let at = |p: usize| v[(v.len() * p / 100).min(v.len() - 1)];
    (at(50), at(90), at(99))
}

fn show(name: &str, v: Vec<Duration>) {
    let n = v.len();
    let (p50, p90, p99) = pct(v);
    println!("{name:<40} n={n:<4} p50 {p50:>10.3?}  p90 {p90:>10.3?}  p99 {p99:>10.3?}");
}

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("launch bench: needs root");
        return;
    }
    let n = env("LAUNCH_N", 200);
    let py_n = env("LAUNCH_PY_N", 30);
    let name = format!("cvsb-bench-{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip netns add {name}");
    let _ns = Netns(name.clone());
    let code = std::env::temp_dir().join(&name);
    std::fs::create_dir_all(&code).expect("code dir");
    let host = Host::new("cvsb").expect("prefix");
    let init = InitProgram::binary(env!("CARGO_BIN_EXE_cove-env-init"));
    let sandbox = Sandbox::new(
        host.clone(),
        SandboxConfig::new(cove_sandbox::CgroupRoot::new(&name).expect("root"), init),
    )
    .expect("sandbox");
    println!(
        "cgroup {:?}, missing controllers {:?}",
        sandbox.cgroup_version(),
        sandbox.missing_controllers()
    );
    let spec = |id: String, argv: &[&str], mib: u64| {
        EnvSpec::new(
            name.clone(),
            cove_sandbox::EnvId::new(&id).expect("id"),
            argv.iter().map(|s| s.to_string()).collect(),
            &code,
            mib,
        )
    };

    let mut floor = Vec::with_capacity(n);
    for _ in 0..n {
        let mut cmd = Command::new("/bin/true");
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let t = Instant::now();
        let mut child = host.spawn(&name, cmd).expect("spawn");
        floor.push(t.elapsed());
        child.wait().expect("wait");
    }

    let mut floor_init = Vec::with_capacity(n);
    for _ in 0..n {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cove-env-init"));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let t = Instant::now();
        let mut child = host.spawn(&name, cmd).expect("spawn");
        floor_init.push(t.elapsed());
        child.wait().expect("wait");
    }

    let (mut exec, mut life) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut cg, mut sp, mut jn, mut su) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let t = Instant::now();
        let r = sandbox
            .launch(
                &spec(format!("b{i}"), &["/bin/true"], 128),
                EnvStdio::null(),
            )
            .expect("launch");
        exec.push(r.report().launch_to_exec);
        let ph = r.report().phases;
        cg.push(ph.cgroups);
        sp.push(ph.spawn);
        jn.push(ph.join);
        su.push(ph.setup);
        let exit = r.wait().expect("wait");
        assert!(exit.success());
        r.cleanup().expect("cleanup");
        life.push(t.elapsed());
    }
    // Environments that stay up: launches next to many live ones, then cleanup.
    let mut held = Vec::with_capacity(n);
    let mut exec_held = Vec::with_capacity(n);
    for i in 0..n {
        let r = sandbox
            .launch(
                &spec(format!("h{i}"), &["/bin/sleep", "600"], 128),
                EnvStdio::null(),
            )
            .expect("launch");
        exec_held.push(r.report().launch_to_exec);
        held.push(r);
    }
    let mut cleanup = Vec::with_capacity(n);
    for r in held {
        let t = Instant::now();
        r.cleanup().expect("cleanup");
        cleanup.push(t.elapsed());
    }

    show("spawn floor (Host::spawn, to execve)", floor);
    show("spawn floor (the init binary)", floor_init);
    show("launch-to-exec", exec);
    show("  cgroups (create, limits)", cg);
    show("  spawn init (to its execve)", sp);
    show("  join (pid into the cgroups)", jn);
    show("  rest of the init, to runtime execve", su);
    show("launch+exit+cleanup (/bin/true)", life);
    show(&format!("launch-to-exec, up to {n} running"), exec_held);
    show("cleanup of a running environment", cleanup);

    let python = ["/usr/bin/python3", "-c", "pass"];
    for mib in [128, 1769] {
        let mut v = Vec::with_capacity(py_n);
        for i in 0..py_n {
            let t = Instant::now();
            let r = sandbox
                .launch(&spec(format!("p{mib}-{i}"), &python, mib), EnvStdio::null())
                .expect("launch");
            assert!(r.wait().expect("wait").success());
            v.push(t.elapsed());
            r.cleanup().expect("cleanup");
        }
        let cpu = cove_sandbox::Limits::new(mib, 1, &CpuPolicy::default()).millicpus();
        show(&format!("python -c pass, {mib} MiB ({cpu} mCPU)"), v);
    }
    let mut bare = Vec::with_capacity(py_n);
    for _ in 0..py_n {
        let t = Instant::now();
        let ok = Command::new(python[0])
            .args(&python[1..])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok);
        bare.push(t.elapsed());
    }
    show("python -c pass, host, no sandbox", bare);

    if let Ok(ric) = std::env::var("LAUNCH_RIC_DIR") {
        ric_series(
            &host,
            &sandbox,
            &name,
            &code,
            std::path::Path::new(&ric),
            py_n,
        );
    }

    let _ = sandbox.reap_stale(|_| false);
    let _ = sandbox.remove_root();
    let _ = std::fs::remove_dir_all(&code);
}

/// Waits (at most 30 s) for a connection on `listener` and the first bytes of its
/// request.
fn first_request(listener: &std::net::TcpListener) -> bool {
    use std::io::Read as _;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((mut conn, _)) => {
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 64];
                return conn.read(&mut buf).is_ok_and(|n| n > 0);
            }
            Err(_) => std::thread::sleep(Duration::from_micros(100)),
        }
    }
    false
}

/// The variables of a Python function in the sandbox.
fn ric_env() -> std::collections::BTreeMap<String, String> {
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("PYTHONPATH", "/opt"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("_HANDLER", "handler.handler"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Cold start of `python3 -m awslambdaric handler.handler` until its first
/// `GET /next`, in the sandbox and on the host.
fn ric_series(
    host: &Host,
    sandbox: &Sandbox,
    ns: &str,
    code: &std::path::Path,
    ric: &std::path::Path,
    n: usize,
) {
    std::fs::write(
        code.join("handler.py"),
        "def handler(event, context):\n    return 1\n",
    )
    .expect("handler");
    let up = Command::new("ip")
        .args(["-n", ns, "link", "set", "lo", "up"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(up, "lo up in {ns}");
    let addr: std::net::SocketAddr = "127.0.0.1:9001".parse().expect("addr");
    let inside = host.bind_tcp(ns, addr).expect("listen in the namespace");
    let argv = ["/usr/bin/python3", "-m", "awslambdaric", "handler.handler"];
    for mib in [128, 1769] {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let mut spec = EnvSpec::new(
                ns,
                cove_sandbox::EnvId::new(&format!("ric{mib}-{i}")).expect("id"),
                argv.iter().map(|s| s.to_string()).collect(),
                code,
                mib,
            );
            spec.runtime_dir = Some(ric.to_path_buf());
            spec.env = ric_env();
            let t = Instant::now();
            let r = sandbox.launch(&spec, EnvStdio::null()).expect("launch");
            assert!(
                first_request(&inside),
                "no Runtime API request from the sandbox"
            );
            v.push(t.elapsed());
            r.cleanup().expect("cleanup");
        }
        show(&format!("awslambdaric to first /next, {mib} MiB"), v);
    }
    // A start-up boost: a whole CPU until the runtime is ready, then 128 MiB's share.
    let mut config = SandboxConfig::new(
        cove_sandbox::CgroupRoot::new(&format!("{ns}-boost")).expect("root"),
        InitProgram::binary(env!("CARGO_BIN_EXE_cove-env-init")),
    );
    config.cpu.min_millicpus = 1000;
    let boosted = Sandbox::new(host.clone(), config).expect("sandbox");
    let share = cove_sandbox::Limits::new(128, 1, &CpuPolicy::default()).millicpus();
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let mut spec = EnvSpec::new(
            ns,
            cove_sandbox::EnvId::new(&format!("boost-{i}")).expect("id"),
            argv.iter().map(|s| s.to_string()).collect(),
            code,
            128,
        );
        spec.runtime_dir = Some(ric.to_path_buf());
        spec.env = ric_env();
        let t = Instant::now();
        let r = boosted.launch(&spec, EnvStdio::null()).expect("launch");
        assert!(
            first_request(&inside),
            "no Runtime API request from the sandbox"
        );
        v.push(t.elapsed());
        r.set_cpu(share).expect("set cpu");
        r.cleanup().expect("cleanup");
    }
    show("awslambdaric to first /next, 128 MiB, boost", v);
    let _ = boosted.remove_root();
    let outside = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    outside.set_nonblocking(true).expect("nonblocking");
    let api = outside.local_addr().expect("addr").to_string();
    let mut bare = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let mut child = Command::new(argv[0])
            .args(&argv[1..])
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("PYTHONPATH", ric)
            .env("LAMBDA_TASK_ROOT", code)
            .env("AWS_LAMBDA_RUNTIME_API", &api)
            .env("_HANDLER", "handler.handler")
            .current_dir(code)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python");
        assert!(
            first_request(&outside),
            "no Runtime API request from the host"
        );
        bare.push(t.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    show("awslambdaric to first /next, host", bare);
}
