//! One writer at a time per prefix: the commands that change a prefix's kernel
//! objects or state (`apply`, `destroy`, `fn deploy`, `fn delete`, a scheduler
//! starting up in `serve` or `fn invoke`) hold `<state>/<prefix>/lock` exclusively
//! for their whole run; environments starting hold it shared. A second command waits
//! up to `--lock-wait` seconds, then fails with [`LockError::Busy`] (exit status 6).

use std::path::PathBuf;
use std::time::Duration;

use cove_scheduler::{LockMode, PrefixLock};

use crate::deploy::Target;

/// Exit status of a command that found the prefix busy.
pub const EXIT_BUSY: u8 = 6;

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

impl Target {
    /// `<state_dir>/<prefix>/lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.state_dir.join(&self.prefix).join("lock")
    }

    /// Takes the prefix's lock exclusively for `command` (e.g. `apply`), waiting at
    /// most `--lock-wait` seconds; held until the returned guard is dropped.
    pub fn lock(&self, command: &str) -> anyhow::Result<PrefixLock> {
        // The prefix names the lock's directory: it must be a valid one first.
        self.host()?;
        // Every command that writes state takes this lock first: here, once per
        // command, the prefix's directory is made (and an older install's modes
        // fixed to) root's alone.
        crate::perms::secure(&self.state_dir.join(&self.prefix))?;
        let path = self.lock_path();
        let wait = Duration::from_secs(self.lock_wait);
        let open = |source| LockError::Open {
            prefix: self.prefix.clone(),
            path: path.clone(),
            source,
        };
        match PrefixLock::take(&path, LockMode::Exclusive, wait).map_err(open)? {
            Some(mut lock) => {
                lock.record_holder(&format!("{} {command}", std::process::id()))
                    .map_err(open)?;
                Ok(lock)
            }
            None => Err(LockError::Busy {
                prefix: self.prefix.clone(),
                holder: PrefixLock::holder(&path),
                path,
                waited: self.lock_wait,
            }
            .into()),
        }
    }
}
