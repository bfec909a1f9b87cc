//! Exclusive use of a network slot across processes: an advisory lock on
//! `<lock dir>/<namespace>.lock`, held while an environment lives in the slot and
//! released by the kernel when the holder dies (so a `kill -9` never strands a slot).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::SchedulerError;

/// A held slot lock.
#[derive(Debug)]
pub(crate) struct SlotLease {
    _lock: Flock<File>,
}

impl SlotLease {
    /// Takes the lock of slot `ns` without waiting: `Ok(None)` if another process
    /// (or another scheduler in this one) holds it.
    pub(crate) fn try_take(dir: &Path, ns: &str) -> Result<Option<SlotLease>, SchedulerError> {
        let path = lock_path(dir, ns);
        let err = |source| SchedulerError::Lease {
            ns: ns.to_owned(),
            path: path.clone(),
            source,
        };
        // cove's state: root only.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
        let file = OpenOptions::new()
            .mode(0o600)
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(SlotLease { _lock: lock })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(err(std::io::Error::from(e))),
        }
    }
}

fn lock_path(dir: &Path, ns: &str) -> PathBuf {
    dir.join(format!("{ns}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_held_once_and_freed_on_drop() {
        let dir = std::env::temp_dir().join(format!("cove-lease-{}", std::process::id()));
        let first = SlotLease::try_take(&dir, "t-f-1")
            .expect("lock")
            .expect("free");
        // flock locks belong to the open file: a second open is refused.
        assert!(SlotLease::try_take(&dir, "t-f-1").expect("lock").is_none());
        assert!(SlotLease::try_take(&dir, "t-f-2").expect("lock").is_some());
        drop(first);
        assert!(SlotLease::try_take(&dir, "t-f-1").expect("lock").is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
