//! Running a runtime client the way the sandbox will: the launch command and the
//! exact environment from cove-runtimes (with host paths instead of `/var/task` and
//! `/opt`), nothing inherited, as uid/gid 65534 when the tests run as root (through
//! `setpriv`), with the code staged in a world-readable temporary directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cove_runtimes::{EnvInfo, Layout, Runtime, fs::check_code_in, lambda_environment_in};

/// The unprivileged user the sandbox runs functions as.
pub const SANDBOX_UID: u32 = 65534;

/// How long anything in these tests may take before it counts as hung.
pub const TIMEOUT: Duration = Duration::from_secs(90);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixtures of `runtime`.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Whether this process runs as root (then clients run as uid 65534).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|rest| rest.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The runtime directory, installed (or verified) once per test binary with
/// `scripts/install-runtimes.sh` — a fast no-op when it is up to date. A failure
/// fails the test with the script's output: these tests never skip.
pub fn runtime_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = cove_runtimes::fs::runtime_dir();
        let script = repo_root().join("scripts/install-runtimes.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "the runtime clients are not installed and {} failed ({}); these tests need them \
             (as root it installs everything; otherwise install the Debian packages it names \
             and run it once as a user that may write {}):\n{}{}",
            script.display(),
            out.status,
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// A staged function: `root/code` (the "/var/task") and `root/logs`, under /tmp,
/// world-readable, removed on drop.
pub struct Staged {
    root: PathBuf,
}

impl Staged {
    /// Stages the given fixture files of `fixture` (copied 0644).
    pub fn new(fixture: &str, files: &[&str]) -> Staged {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "cvrt-client-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let staged = Staged { root };
        for dir in [staged.root.clone(), staged.code(), staged.logs()] {
            std::fs::create_dir_all(&dir).expect("create staging dir");
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
                .expect("chmod staging dir");
        }
        for file in files {
            staged.add(&fixture_dir(fixture).join(file), file, 0o644);
        }
        staged
    }

    /// Copies `src` into the code as `name` with `mode`.
    pub fn add(&self, src: &Path, name: &str, mode: u32) {
        let dst = self.code().join(name);
        std::fs::copy(src, &dst)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    /// The code directory.
    pub fn code(&self) -> PathBuf {
        self.root.join("code")
    }

    fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A running runtime client; killed on drop.
pub struct Client {
    child: Child,
    log: PathBuf,
    /// The launch argv (for messages).
    pub argv: Vec<String>,
}

/// The function name the clients run as.
pub const FUNCTION_NAME: &str = "cvrt-fixture";

/// Starts `handler` of `runtime` from `staged`, against the Runtime API at `api`.
pub fn spawn(runtime: Runtime, handler: &str, staged: &Staged, api: &str) -> Client {
    let layout = Layout {
        task_root: staged.code().display().to_string(),
        runtime_dir: runtime_dir().display().to_string(),
    };
    let launch = check_code_in(runtime, handler, &staged.code(), &layout)
        .unwrap_or_else(|e| panic!("the staged code does not fit handler {handler}: {e}"));
    let mut info = EnvInfo::new(
        runtime,
        handler,
        FUNCTION_NAME,
        api,
        "2025/01/01/[$LATEST]00000000000000000000000000000000",
    );
    info.memory_mb = 256;
    info.user = vec![("FIXTURE_SETTING".into(), "from-user".into())];
    let env = lambda_environment_in(&info, &layout);
    let mut argv = launch.argv.clone();
    if is_root() {
        let uid = SANDBOX_UID.to_string();
        let drop_privileges = ["/usr/bin/setpriv", "--reuid", &uid, "--regid", &uid];
        let mut wrapped: Vec<String> = drop_privileges.iter().map(|s| (*s).to_owned()).collect();
        wrapped.extend(["--clear-groups".to_owned(), "--".to_owned()]);
        wrapped.extend(argv);
        argv = wrapped;
    }
    let log = staged
        .logs()
        .join(format!("{}.log", handler.replace('/', "_")));
    let out = std::fs::File::create(&log).expect("create log");
    let err = out.try_clone().expect("clone log");
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env)
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {argv:?}: {e}"));
    Client { child, log, argv }
}

impl Client {
    /// What the client printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the client to exit, up to [`TIMEOUT`].
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "{:?} did not exit within {TIMEOUT:?}; output:\n{}",
                self.argv,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the Go fixture (once per test binary) and returns the executable.
pub fn go_fixture() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        runtime_dir(); // installs golang-go if needed
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cvrt-go-fixture");
        std::fs::create_dir_all(&out_dir).expect("create Go output dir");
        let exe = out_dir.join("handler");
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(&exe)
            .arg(".")
            .current_dir(fixture_dir("go"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("CGO_ENABLED", "0")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `go build` ({e}): run scripts/install-runtimes.sh (it installs golang-go)")
            });
        assert!(
            out.status.success(),
            "go build of the Go fixture failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        exe
    })
}
