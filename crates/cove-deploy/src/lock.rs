//! One writer at a time per prefix: the commands that change a prefix's kernel
//! objects or state (`apply`, `destroy`, `fn deploy`, `fn delete`, a scheduler
//! starting up in `serve` or `fn invoke`) hold `<state>/<prefix>/lock` exclusively
//! for their whole run; environments starting hold it shared. A second command waits
//! up to the target's lock wait, then fails with [`LockError::Busy`].

use std::path::PathBuf;

use cove_scheduler::{LockMode, PrefixLock};

use crate::target::Target;

/// Why the prefix lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another cove command held the lock for the whole wait.
    #[error(
        "busy: {holder} holds the lock on prefix {prefix} ({path}); waited {waited} s for it. Wait for it to finish and run this command again, or wait longer with --lock-wait SECONDS (COVE_LOCK_WAIT)"
    )]
    Busy {
        /// The prefix.
        prefix: String,
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as far as known.
        holder: String,
        /// How long this command waited, in seconds.
        waited: u64,
    },
    /// The prefix's state directory could not be made root's alone.
    #[error("securing the state directory {dir}")]
    Secure {
        /// `<state>/<prefix>`.
        dir: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot take the lock of prefix {prefix} ({path})")]
    Open {
        /// The prefix.
        prefix: String,
        /// The lock file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// The prefix lock, held exclusively until dropped: what every change of the
/// deployment's state or kernel objects takes as proof that it is the only writer.
#[derive(Debug)]
pub struct Locked {
    _lock: PrefixLock,
}

impl Locked {
    /// A lock on `path` for unit tests (taken at once, or the test fails).
    #[cfg(test)]
    pub(crate) fn for_tests(path: &std::path::Path) -> Locked {
        #[allow(clippy::expect_used)]
        let lock = PrefixLock::take(path, LockMode::Exclusive, std::time::Duration::ZERO)
            .expect("lock")
            .expect("free");
        Locked { _lock: lock }
    }
}

impl Target {
    /// `<state_dir>/<prefix>/lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.dir().join("lock")
    }

    /// Takes the prefix's lock exclusively for `command` (e.g. `apply`), waiting at
    /// most the target's lock wait; held until the returned guard is dropped.
    pub fn lock(&self, command: &str) -> Result<Locked, LockError> {
        // Every command that writes state takes this lock first: here, once per
        // command, the prefix's directory is made (and an older install's modes
        // fixed to) root's alone.
        let dir = self.dir();
        crate::perms::secure(&dir).map_err(|source| LockError::Secure {
            dir: dir.clone(),
            source,
        })?;
        let path = self.lock_path();
        let open = |source| LockError::Open {
            prefix: self.prefix().to_string(),
            path: path.clone(),
            source,
        };
        match PrefixLock::take(&path, LockMode::Exclusive, self.lock_wait).map_err(open)? {
            Some(mut lock) => {
                lock.record_holder(&format!("{} {command}", std::process::id()))
                    .map_err(open)?;
                Ok(Locked { _lock: lock })
            }
            None => Err(LockError::Busy {
                prefix: self.prefix().to_string(),
                holder: PrefixLock::holder(&path),
                path,
                waited: self.lock_wait.as_secs(),
            }),
        }
    }
}
