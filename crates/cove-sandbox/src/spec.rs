//! What an environment is: [`EnvSpec`], its defaults and its validation (pure).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::SandboxError;
use crate::ids::EnvId;

/// Where the function's code (`code_dir`) appears inside the environment, read-only.
pub const TASK_DIR: &str = "/var/task";
/// Where the optional runtime directory (`runtime_dir`) appears, read-only. Lambda
/// puts layers and extensions under `/opt`; cove's runtime clients go there too, so a
/// runtime finds e.g. `awslambdaric` with `PYTHONPATH=/opt/python`.
pub const RUNTIME_DIR: &str = "/opt";
/// The environment's private, writable scratch directory (a tmpfs).
pub const TMP_DIR: &str = "/tmp";
/// Size of `/tmp` unless the spec says otherwise: Lambda's default ephemeral storage.
pub const DEFAULT_TMP_MIB: u64 = 512;
/// Most processes and threads an environment may have unless the spec says otherwise.
pub const DEFAULT_PIDS_MAX: u64 = 1024;
/// Most open files per process unless the spec says otherwise (Lambda's limit).
pub const DEFAULT_NOFILE: u64 = 1024;
/// The unprivileged user and group environments run as by default (`nobody` /
/// `nogroup` on Debian).
pub const NOBODY: u32 = 65534;
/// Smallest memory limit accepted, in MiB (a language runtime needs more anyway).
pub const MIN_MEMORY_MIB: u64 = 16;
/// Largest memory limit accepted, in MiB (1 TiB; Lambda's own maximum is 10,240).
pub const MAX_MEMORY_MIB: u64 = 1 << 20;
/// Longest environment id (it names a cgroup directory).
pub const MAX_ID_LEN: usize = 64;

/// One execution environment to launch: which namespace, what to run, what it sees
/// and how much it may use. Build one with [`EnvSpec::new`] and adjust the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSpec {
    /// The network namespace (an ENI slot) the environment runs in; it must exist and
    /// belong to the sandbox's [`cove_host::Host`].
    pub namespace: String,
    /// Unique id of the environment; names its cgroup directories (checked when
    /// made, see [`EnvId`]).
    pub id: EnvId,
    /// The program and its arguments. A program without `/` is looked up in the
    /// `PATH` of [`EnvSpec::env`] (or `/usr/local/bin:/usr/bin:/bin` without one).
    pub argv: Vec<String>,
    /// The environment variables, exactly: nothing is inherited from cove.
    pub env: BTreeMap<String, String>,
    /// Working directory inside the environment (default [`TASK_DIR`]).
    pub cwd: PathBuf,
    /// Host directory with the function's code, mounted read-only at [`TASK_DIR`].
    /// The environment's user must be able to read its files (its host parents need
    /// not be reachable: the bind is the environment's only way to it); anything
    /// mounted below it on the host is not carried over.
    pub code_dir: PathBuf,
    /// Optional host directory with the runtime client, mounted read-only at
    /// [`RUNTIME_DIR`] (hiding the host's `/opt` from the environment).
    pub runtime_dir: Option<PathBuf>,
    /// Size limit of the private `/tmp` in MiB (default [`DEFAULT_TMP_MIB`]). Its pages
    /// are memory: the kernel charges them to the environment's memory limit.
    pub tmp_mib: u64,
    /// Hard memory limit in MiB (no swap). Also sets the CPU share, see
    /// [`crate::CpuPolicy`].
    pub memory_mib: u64,
    /// Most processes and threads at once (default [`DEFAULT_PIDS_MAX`]).
    pub pids_max: u64,
    /// Most open files per process (`RLIMIT_NOFILE`, default [`DEFAULT_NOFILE`]).
    pub nofile: u64,
    /// User the runtime runs as (default [`NOBODY`]); never 0. Each environment has
    /// its own PID namespace and root, so environments cannot see each other's
    /// processes or files whatever their uids; a uid of its own per environment still
    /// keeps the host's view (e.g. `ps` as root) apart.
    pub uid: u32,
    /// Group the runtime runs as (default [`NOBODY`]); never 0. It has no
    /// supplementary groups.
    pub gid: u32,
    /// The environment's `/etc/resolv.conf` (default `None`: the host's, copied).
    pub resolv_conf: Option<String>,
}

impl EnvSpec {
    /// A spec with the defaults: no variables, working directory [`TASK_DIR`], no
    /// runtime directory, 512 MiB `/tmp`, 1024 processes, 1024 files, `nobody`.
    pub fn new(
        namespace: impl Into<String>,
        id: EnvId,
        argv: Vec<String>,
        code_dir: impl Into<PathBuf>,
        memory_mib: u64,
    ) -> EnvSpec {
        EnvSpec {
            namespace: namespace.into(),
            id,
            argv,
            env: BTreeMap::new(),
            cwd: PathBuf::from(TASK_DIR),
            code_dir: code_dir.into(),
            runtime_dir: None,
            tmp_mib: DEFAULT_TMP_MIB,
            memory_mib,
            pids_max: DEFAULT_PIDS_MAX,
            nofile: DEFAULT_NOFILE,
            uid: NOBODY,
            gid: NOBODY,
            resolv_conf: None,
        }
    }

    /// Checks every field; the first bad one is returned as
    /// [`SandboxError::InvalidSpec`] naming the field and what to use instead.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let bad = |field: &'static str, value: &dyn std::fmt::Debug, fix: &str| {
            Err(SandboxError::InvalidSpec {
                field,
                value: format!("{value:?}"),
                fix: fix.to_owned(),
            })
        };
        if self.namespace.is_empty() {
            return bad(
                "namespace",
                &self.namespace,
                "name the ENI's network namespace",
            );
        }
        match self.argv.first() {
            None => return bad("argv", &self.argv, "give at least the program to run"),
            Some(p) if p.is_empty() => {
                return bad("argv[0]", p, "give the program's name or absolute path");
            }
            _ => {}
        }
        if let Some(a) = self.argv.iter().find(|a| a.contains('\0')) {
            return bad("argv", a, "remove the NUL byte");
        }
        for (key, value) in &self.env {
            if key.is_empty() || key.contains(['=', '\0']) {
                return bad("env", key, "use a variable name without '=' or NUL");
            }
            if value.contains('\0') {
                return bad("env", key, "remove the NUL byte from the variable's value");
            }
        }
        check_abs("cwd", &self.cwd)?;
        check_abs("code_dir", &self.code_dir)?;
        if let Some(dir) = &self.runtime_dir {
            check_abs("runtime_dir", dir)?;
        }
        if self.tmp_mib == 0 || self.tmp_mib > MAX_MEMORY_MIB {
            return bad(
                "tmp_mib",
                &self.tmp_mib,
                "use 1 to 1048576 MiB (default 512)",
            );
        }
        if !(MIN_MEMORY_MIB..=MAX_MEMORY_MIB).contains(&self.memory_mib) {
            return bad("memory_mib", &self.memory_mib, "use 16 to 1048576 MiB");
        }
        if self.pids_max < 1 {
            return bad(
                "pids_max",
                &self.pids_max,
                "allow at least 1 process (default 1024)",
            );
        }
        if self.nofile < 3 {
            return bad(
                "nofile",
                &self.nofile,
                "allow at least 3 files (default 1024)",
            );
        }
        if self.uid == 0 {
            return bad(
                "uid",
                &self.uid,
                "use an unprivileged uid, e.g. 65534 (nobody)",
            );
        }
        if self.gid == 0 {
            return bad(
                "gid",
                &self.gid,
                "use an unprivileged gid, e.g. 65534 (nogroup)",
            );
        }
        Ok(())
    }
}

/// What an environment id and a cgroup root name look like.
pub(crate) const ID_RULE: &str =
    "use 1 to 64 characters: letters, digits, '-', '_', '.', not starting with '.'";

/// A name that is safe as one path component: `[A-Za-z0-9_.-]{1,max}`, no leading dot.
pub(crate) fn valid_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn check_abs(field: &'static str, path: &Path) -> Result<(), SandboxError> {
    let text = path.to_string_lossy();
    if !path.is_absolute() || text.contains('\0') {
        return Err(SandboxError::InvalidSpec {
            field,
            value: format!("{path:?}"),
            fix: "use an absolute path without NUL bytes".to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> EnvSpec {
        EnvSpec::new(
            "cvsb-a",
            EnvId::new("env-1").expect("id"),
            vec!["python3".into()],
            "/srv/code",
            128,
        )
    }

    fn field_of(s: &EnvSpec) -> Option<&'static str> {
        match s.validate() {
            Err(SandboxError::InvalidSpec { field, .. }) => Some(field),
            Err(e) => panic!("unexpected error {e}"),
            Ok(()) => None,
        }
    }

    #[test]
    fn defaults_are_lambda_like_and_valid() {
        let s = spec();
        assert_eq!(field_of(&s), None);
        assert_eq!(s.cwd, Path::new(TASK_DIR));
        assert_eq!(
            (s.tmp_mib, s.pids_max, s.uid, s.gid),
            (512, 1024, 65534, 65534)
        );
        assert!(s.env.is_empty());
    }

    #[test]
    fn each_bad_field_is_named() {
        type Change = Box<dyn Fn(&mut EnvSpec)>;
        let cases: Vec<(&str, Change)> = vec![
            ("namespace", Box::new(|s| s.namespace.clear())),
            ("argv", Box::new(|s| s.argv.clear())),
            ("argv[0]", Box::new(|s| s.argv = vec![String::new()])),
            ("argv", Box::new(|s| s.argv.push("a\0b".into()))),
            (
                "env",
                Box::new(|s| drop(s.env.insert("A=B".into(), "1".into()))),
            ),
            (
                "env",
                Box::new(|s| drop(s.env.insert(String::new(), "1".into()))),
            ),
            (
                "env",
                Box::new(|s| drop(s.env.insert("A".into(), "\0".into()))),
            ),
            ("cwd", Box::new(|s| s.cwd = "task".into())),
            ("code_dir", Box::new(|s| s.code_dir = "code".into())),
            (
                "runtime_dir",
                Box::new(|s| s.runtime_dir = Some("rt".into())),
            ),
            ("tmp_mib", Box::new(|s| s.tmp_mib = 0)),
            ("memory_mib", Box::new(|s| s.memory_mib = 15)),
            (
                "memory_mib",
                Box::new(|s| s.memory_mib = MAX_MEMORY_MIB + 1),
            ),
            ("pids_max", Box::new(|s| s.pids_max = 0)),
            ("nofile", Box::new(|s| s.nofile = 2)),
            ("uid", Box::new(|s| s.uid = 0)),
            ("gid", Box::new(|s| s.gid = 0)),
        ];
        for (want, change) in cases {
            let mut s = spec();
            change(&mut s);
            assert_eq!(field_of(&s), Some(want), "{s:?}");
        }
    }

    #[test]
    fn the_error_says_what_to_do() {
        let mut s = spec();
        s.uid = 0;
        let text = s.validate().expect_err("uid 0").to_string();
        assert!(text.contains("uid") && text.contains("65534"), "{text}");
    }

    #[test]
    fn names() {
        for ok in ["a", "env-1", "A_b.c", &"x".repeat(64)] {
            assert!(valid_name(ok, 64), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(!valid_name(bad, 64), "{bad}");
        }
    }
}
