//! Errors of the sandbox: one variant per step that can fail, with the environment,
//! file or process it concerns. The cause is the `#[source]`, never repeated in the
//! message.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong launching, waiting for, killing or reaping an
/// environment.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A field of the [`crate::EnvSpec`] is unusable; nothing was changed.
    #[error("invalid environment spec: {field} = {value}: {fix}")]
    InvalidSpec {
        /// The field.
        field: &'static str,
        /// Its value (debug-formatted).
        value: String,
        /// What to use instead.
        fix: String,
    },

    /// The cgroup root name given in [`crate::SandboxConfig`] is unusable.
    #[error("invalid cgroup root {root:?} in the sandbox config: {rule}")]
    InvalidRoot {
        /// The rejected name.
        root: String,
        /// What a valid name looks like.
        rule: &'static str,
    },

    /// The cgroup parent in [`crate::SandboxConfig`] is not a relative path inside
    /// the hierarchy.
    #[error(
        "invalid cgroup parent {parent:?} in the sandbox config: use a relative path without `..` (empty for the top of the hierarchy)"
    )]
    InvalidParent {
        /// The rejected path.
        parent: PathBuf,
    },

    /// This host has no cgroup hierarchy at all, so an environment's processes could
    /// not be limited or found again.
    #[error(
        "no cgroup hierarchy is mounted (neither /sys/fs/cgroup/cgroup.controllers nor a v1 hierarchy in /proc/self/mountinfo); mount cgroup2 on /sys/fs/cgroup"
    )]
    NoCgroups,

    /// A cgroup file could not be read.
    #[error("could not read {path}")]
    ReadCgroup {
        /// The file or directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// A cgroup directory could not be created (cove must run as root).
    #[error("could not create cgroup {path}; cove must run as root")]
    CreateCgroup {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// An environment with this id has a cgroup already.
    #[error(
        "environment {id:?} exists already ({path}); use a new id, or reap the old environment first"
    )]
    EnvExists {
        /// The id.
        id: String,
        /// Its existing directory.
        path: PathBuf,
    },

    /// A value could not be written into a cgroup file.
    #[error("could not write {value:?} to {path}")]
    WriteCgroup {
        /// The file.
        path: PathBuf,
        /// The value.
        value: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// A cgroup directory could not be removed.
    #[error("could not remove cgroup {path} of environment {id:?}")]
    RemoveCgroup {
        /// The environment (or the root's name).
        id: String,
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// A process of an environment could not be signalled.
    #[error("could not send SIGKILL to process {pid}")]
    Signal {
        /// The process.
        pid: i32,
        /// Cause.
        #[source]
        source: nix::Error,
    },

    /// Processes of an environment were still there when the kill's time was up
    /// (e.g. stuck in the kernel, uninterruptible).
    #[error("{left} processes of environment {id:?} survived SIGKILL until the deadline")]
    KillTimeout {
        /// The environment.
        id: String,
        /// How many were left.
        left: usize,
    },

    /// The environment's main process did not exit in time after being killed.
    #[error("the main process of environment {id:?} did not exit after SIGKILL")]
    ExitTimeout {
        /// The environment.
        id: String,
    },

    /// The init process could not be started in the namespace.
    #[error("could not start the init of environment {id:?} in namespace {ns}")]
    Spawn {
        /// The environment.
        id: String,
        /// The namespace.
        ns: String,
        /// Cause.
        #[source]
        source: Box<cove_host::HostError>,
    },

    /// The socket to the init could not be created or used.
    #[error("could not talk to the init of environment {id:?}")]
    InitChannel {
        /// The environment.
        id: String,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// The init reported a step that failed; the runtime was not started.
    #[error("environment {id:?}: {step} failed: {message}")]
    Init {
        /// The environment.
        id: String,
        /// The step.
        step: String,
        /// What the kernel said.
        message: String,
    },

    /// The init ended without reporting (it crashed or was killed).
    #[error("the init of environment {id:?} ended before starting the runtime: {status}")]
    InitDied {
        /// The environment.
        id: String,
        /// Its exit status.
        status: String,
    },

    /// The main process's exit could not be collected.
    #[error("could not wait for environment {id:?}")]
    Wait {
        /// The environment.
        id: String,
        /// Cause (shared: every waiter sees the same error).
        #[source]
        source: Arc<io::Error>,
    },

    /// A thread could not be started.
    #[error("could not start the {what} thread")]
    Thread {
        /// What the thread is for.
        what: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },

    /// Several environments could not be reaped; each error is listed.
    #[error("{} stale environments could not be reaped: {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Reap(Vec<SandboxError>),
}
