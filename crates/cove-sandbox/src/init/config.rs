//! What the init process is told to do, and what it says back (pure).
//!
//! The launcher turns an [`EnvSpec`] into an [`InitConfig`] — the mounts in order, the
//! user, the limits, the program's candidate paths, argv and environment — and sends
//! it as one line of JSON on the init's standard input (a socket). The init sets the
//! environment up while the launcher moves it into the environment's cgroups (the
//! two overlap); the launcher then sends [`GO`], and only then does the init `execve`
//! the runtime, so the runtime never runs outside its cgroups (if the launcher goes
//! away first, the init gets end-of-file instead and exits). The init answers on the
//! same socket with [`InitMessage`] lines: `Ready` just before `execve`, `Failed` if
//! a step failed. A successful `execve` closes the init's end (it is close-on-exec),
//! so the launcher reads `Ready` and then end-of-file.

use serde::{Deserialize, Serialize};

use crate::init::root::{self, RootStep};
use crate::spec::EnvSpec;

/// The `PATH` programs are looked up in when the environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The launcher's go-ahead, sent once the init is in the environment's cgroups.
pub const GO: &[u8] = b"go\n";

/// The step the init reports when the go-ahead never comes.
pub const GO_STEP: &str = "wait for the launcher";

/// The environment's host name (its own UTS namespace; the host's is not shown).
pub const HOSTNAME: &str = "cove-env";

/// Everything the init needs, decided by the launcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitConfig {
    /// How to build the environment's root file system, in order.
    pub root: Vec<RootStep>,
    /// Working directory, entered after dropping privileges.
    pub cwd: String,
    /// User to run as.
    pub uid: u32,
    /// Group to run as (no supplementary groups).
    pub gid: u32,
    /// `RLIMIT_NOFILE`, soft and hard.
    pub nofile: u64,
    /// Paths to try `execve` on, in order (from `argv[0]` and the environment's
    /// `PATH`).
    pub program: Vec<String>,
    /// The program's arguments, `argv[0]` included.
    pub argv: Vec<String>,
    /// The environment, exactly, as `KEY=value`.
    pub env: Vec<String>,
}

impl InitConfig {
    /// The init's instructions for `spec` (which must be valid).
    pub fn plan(spec: &EnvSpec) -> InitConfig {
        let argv0 = spec.argv.first().map(String::as_str).unwrap_or_default();
        let path = spec.env.get("PATH").map_or(DEFAULT_PATH, String::as_str);
        InitConfig {
            root: root::layout(spec),
            cwd: spec.cwd.to_string_lossy().into_owned(),
            uid: spec.uid,
            gid: spec.gid,
            nofile: spec.nofile,
            program: candidates(argv0, path),
            argv: spec.argv.clone(),
            env: spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        }
    }

    /// The line sent to the init: compact JSON (which never contains a raw newline)
    /// and a newline.
    pub fn encode(&self) -> Vec<u8> {
        // A struct of strings and numbers always serializes.
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// Reads what [`InitConfig::encode`] wrote.
    pub fn decode(line: &[u8]) -> Result<InitConfig, serde_json::Error> {
        serde_json::from_slice(line.strip_suffix(b"\n").unwrap_or(line))
    }
}

/// Where `execve` looks for `program`: the name itself if it contains `/`, otherwise
/// each directory of `path` in order (an empty entry is the working directory), as
/// `execvp` does — but with the environment's `PATH`, not cove's.
pub fn candidates(program: &str, path: &str) -> Vec<String> {
    if program.contains('/') {
        return vec![program.to_owned()];
    }
    path.split(':')
        .map(|dir| match dir {
            "" => program.to_owned(),
            d => format!("{}/{program}", d.trim_end_matches('/')),
        })
        .collect()
}

/// A line the init sends back to the launcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitMessage {
    /// Every step succeeded; `execve` comes next.
    Ready,
    /// A step failed; the init exits without running the program.
    Failed {
        /// The step (`mount /var/task`, `setuid`, `exec`, …).
        step: String,
        /// What the kernel said.
        message: String,
    },
    /// The runtime ended (between the init's stages: the environment's pid 1 tells
    /// the first stage, which ends the same way).
    Exited {
        /// Its exit code, if it exited.
        code: Option<i32>,
        /// The signal that ended it, if one did.
        signal: Option<i32>,
    },
}

impl InitMessage {
    /// The message as one line of JSON.
    pub fn line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// What the launcher learns from everything the init sent before the socket closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitOutcome {
    /// `Ready`, then the socket closed: the program is running.
    Exec,
    /// The init reported a failed step.
    Failed {
        /// The step.
        step: String,
        /// What the kernel said.
        message: String,
    },
    /// The socket closed without `Ready` (the init died, or sent something else).
    Died,
}

impl InitOutcome {
    /// Reads the init's lines; a `Failed` wins over `Ready`.
    pub fn from_bytes(bytes: &[u8]) -> InitOutcome {
        let mut outcome = InitOutcome::Died;
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match serde_json::from_slice::<InitMessage>(line) {
                Ok(InitMessage::Ready) if outcome == InitOutcome::Died => {
                    outcome = InitOutcome::Exec;
                }
                Ok(InitMessage::Failed { step, message }) => {
                    return InitOutcome::Failed { step, message };
                }
                _ => {}
            }
        }
        outcome
    }
}

/// Whether a `/proc/self/fdinfo/N` text says the descriptor is close-on-exec
/// (`flags:` in octal, `O_CLOEXEC` = 0o2000000); `None` if it has no flags line.
pub fn fdinfo_cloexec(text: &str) -> Option<bool> {
    const O_CLOEXEC: u32 = 0o2_000_000;
    let flags = text.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(flags.trim(), 8)
        .ok()
        .map(|f| f & O_CLOEXEC != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> EnvSpec {
        let mut s = EnvSpec::new(
            "cvsb-a",
            crate::EnvId::new("e1").expect("id"),
            vec!["python3".into(), "-m".into(), "awslambdaric".into()],
            "/srv/code/fn-a",
            256,
        );
        s.env.insert("B".into(), "2".into());
        s.env.insert("A".into(), "x=y".into());
        s
    }

    #[test]
    fn plan_carries_the_spec() {
        let mut s = spec();
        s.runtime_dir = Some("/srv/runtimes/python".into());
        s.tmp_mib = 10;
        let c = InitConfig::plan(&s);
        assert_eq!(c.root, root::layout(&s));
        // Variables exactly as given (sorted by name), values kept whole.
        assert_eq!(c.env, ["A=x=y", "B=2"]);
        assert_eq!((c.uid, c.gid, c.cwd.as_str()), (65534, 65534, "/var/task"));
    }

    #[test]
    fn program_lookup_uses_the_environments_path() {
        let c = InitConfig::plan(&spec());
        assert_eq!(
            c.program,
            ["/usr/local/bin/python3", "/usr/bin/python3", "/bin/python3"]
        );
        let mut s = spec();
        s.env
            .insert("PATH".into(), "/var/lang/bin/:/opt/bin::".into());
        assert_eq!(
            InitConfig::plan(&s).program,
            [
                "/var/lang/bin/python3",
                "/opt/bin/python3",
                "python3",
                "python3"
            ]
        );
        assert_eq!(candidates("./bootstrap", "/x"), ["./bootstrap"]);
        assert_eq!(
            candidates("/var/task/bootstrap", "/x"),
            ["/var/task/bootstrap"]
        );
    }

    #[test]
    fn config_round_trips() {
        let mut s = spec();
        s.runtime_dir = Some("/rt".into());
        s.env.insert("QUOTE".into(), "\"\n\\ é".into());
        let c = InitConfig::plan(&s);
        let line = c.encode();
        assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1, "one line");
        assert!(line.ends_with(b"\n"));
        assert_eq!(InitConfig::decode(&line).expect("decode"), c);
        assert!(InitConfig::decode(b"{\"mounts\":[]}").is_err());
    }

    #[test]
    fn outcomes() {
        let ready = InitMessage::Ready.line();
        let failed = InitMessage::Failed {
            step: "mount /var/task".into(),
            message: "EPERM".into(),
        }
        .line();
        assert_eq!(InitOutcome::from_bytes(&ready), InitOutcome::Exec);
        assert_eq!(InitOutcome::from_bytes(b""), InitOutcome::Died);
        assert_eq!(InitOutcome::from_bytes(b"garbage\n"), InitOutcome::Died);
        let both = [ready.clone(), failed.clone()].concat();
        assert_eq!(
            InitOutcome::from_bytes(&both),
            InitOutcome::Failed {
                step: "mount /var/task".into(),
                message: "EPERM".into()
            }
        );
    }

    #[test]
    fn fdinfo() {
        assert_eq!(
            fdinfo_cloexec("pos:\t0\nflags:\t02100002\nmnt_id:\t1\n"),
            Some(true)
        );
        assert_eq!(fdinfo_cloexec("pos:\t0\nflags:\t0100002\n"), Some(false));
        assert_eq!(fdinfo_cloexec("pos:\t0\n"), None);
    }
}
