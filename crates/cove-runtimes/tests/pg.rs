//! The Python fixture's `pg` op against a private PostgreSQL (initdb in a temporary
//! directory, on 127.0.0.1 and a free port, as uid 65534), through pg8000 from the
//! runtime directory. Needs Debian's `postgresql` package (no skipping: without it
//! the test fails and says so).

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cove_runtimes::Runtime;
use serde_json::json;

use common::harness::Harness;
use common::process::{SANDBOX_UID, Staged, TIMEOUT, is_root, spawn};

/// Debian's PostgreSQL server binaries (`/usr/lib/postgresql/<major>/bin`).
fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .find(|d| d.join("initdb").exists() && d.join("postgres").exists())
        .unwrap_or_else(|| {
            panic!("PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install postgresql")
        })
}

/// Runs `argv` as the sandbox user when root (PostgreSQL refuses to run as root).
fn as_unprivileged(argv: &[&str]) -> Command {
    if is_root() {
        let uid = SANDBOX_UID.to_string();
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "--"]);
        cmd.args(argv);
        cmd
    } else {
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }
}

/// A private PostgreSQL server; stopped and removed on drop.
struct Postgres {
    dir: PathBuf,
    child: Child,
    port: u16,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!("cvrt-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the PostgreSQL dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        if is_root() {
            std::os::unix::fs::chown(&dir, Some(SANDBOX_UID), Some(SANDBOX_UID)).expect("chown");
        }
        let data = dir.join("data");
        let path = |p: &Path| p.display().to_string();
        let initdb = path(&bin.join("initdb"));
        let data_s = path(&data);
        let out = as_unprivileged(&[
            &initdb,
            "-D",
            &data_s,
            "-U",
            "cove",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ])
        .env("LANG", "C.UTF-8")
        .output()
        .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let postgres = path(&bin.join("postgres"));
        let (port_s, socket_dir) = (port.to_string(), path(&dir));
        let child = as_unprivileged(&[
            &postgres,
            "-D",
            &data_s,
            "-p",
            &port_s,
            "-k",
            &socket_dir,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
        let server = Postgres { dir, child, port };
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < TIMEOUT,
                "PostgreSQL did not listen within {TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT: fast shutdown (the backends go with the postmaster).
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < TIMEOUT {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn python_pg_op_queries_postgres_over_tcp() {
    let pg = Postgres::start();
    let staged = Staged::new("python", &["handler.py"]);
    let event =
        json!({"op": "pg", "dsn": format!("postgresql://cove@127.0.0.1:{}/postgres", pg.port)});
    let harness = Harness::start(&[event.to_string()]);
    let client = spawn(
        Runtime::Python311,
        "handler.handler",
        &staged,
        &harness.addr(),
    );
    let post = harness
        .next_post(TIMEOUT)
        .unwrap_or_else(|| panic!("no answer to the pg op; output:\n{}", client.output()));
    assert!(
        post.path.ends_with("/response"),
        "{} {}",
        post.path,
        String::from_utf8_lossy(&post.body)
    );
    assert_eq!(post.json(), json!({"client_addr": "127.0.0.1", "one": 1}));
}
