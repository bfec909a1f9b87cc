//! Exclusive use of a network slot across processes: an advisory lock on
//! `<lock dir>/<namespace>.lock`, held while an environment lives in the slot and
//! released by the kernel when the holder dies (so a `kill -9` never strands a slot).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::time::{Duration, Instant};

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
    pub(crate) fn try_take(
        locks: &crate::SlotLocks,
        ns: &str,
    ) -> Result<Option<SlotLease>, SchedulerError> {
        let dir = locks.path();
        let path = locks.lease(ns).ok_or_else(|| SchedulerError::Lease {
            ns: ns.to_owned(),
            path: dir.to_owned(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "a slot namespace is one path component",
            ),
        })?;
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

/// How a [`PrefixLock`] is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// One holder: a command that changes the prefix's kernel objects or state
    /// (`cove apply`, `destroy`, `fn deploy`, `fn delete`, a scheduler starting up).
    Exclusive,
    /// Many holders: environments starting (cgroups, a socket in a slot).
    Shared,
}

/// The lock of a whole prefix: an advisory `flock` on `<state>/<prefix>/lock`
/// (0600), released by the kernel when the holder dies. The file is never removed
/// (a new file would be a second lock).
#[derive(Debug)]
pub struct PrefixLock {
    lock: Flock<File>,
}

impl PrefixLock {
    /// Takes the lock at `path` in `mode`, waiting at most `wait` (polling):
    /// `Ok(None)` if another holder still has it then.
    pub fn take(path: &Path, mode: LockMode, wait: Duration) -> io::Result<Option<PrefixLock>> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .mode(0o600)
                .open(path)?;
            let arg = match mode {
                LockMode::Exclusive => FlockArg::LockExclusiveNonblock,
                LockMode::Shared => FlockArg::LockSharedNonblock,
            };
            match Flock::lock(file, arg) {
                Ok(lock) => return Ok(Some(PrefixLock { lock })),
                Err((_, Errno::EWOULDBLOCK)) => {}
                Err((_, e)) => return Err(io::Error::from(e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Records who holds the (exclusive) lock, for the "busy" message of a waiter.
    pub fn record_holder(&mut self, holder: &str) -> io::Result<()> {
        self.lock.set_len(0)?;
        self.lock.seek(SeekFrom::Start(0))?;
        self.lock.write_all(holder.as_bytes())?;
        self.lock.flush()
    }

    /// Who holds the lock at `path`, for a "busy" message: the last exclusive
    /// holder's record `<pid> <command>` if that process is alive, else (the lock
    /// is held shared) environments starting.
    pub fn holder(path: &Path) -> String {
        describe_holder(Self::last_holder(path).as_deref())
    }

    /// What the last exclusive holder of the lock at `path` recorded (it may have
    /// ended since).
    pub fn last_holder(path: &Path) -> Option<String> {
        let mut text = String::new();
        File::open(path)
            .ok()?
            .take(4096)
            .read_to_string(&mut text)
            .ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }
}

/// Describes the holder from a lock file's record `<pid> <command>`.
fn describe_holder(record: Option<&str>) -> String {
    let parsed = record
        .and_then(|r| r.split_once(' '))
        .and_then(|(pid, cmd)| Some((pid.parse::<u32>().ok()?, cmd)));
    match parsed {
        Some((pid, cmd)) if Path::new(&format!("/proc/{pid}")).exists() => {
            format!("another cove command (pid {pid}, `cove {cmd}`)")
        }
        _ => "another cove process (a `cove serve` or `cove fn invoke` starting a function environment)"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_held_once_and_freed_on_drop() {
        let path = std::env::temp_dir().join(format!("cove-lease-{}", std::process::id()));
        let dir = crate::SlotLocks::new(path.clone());
        let first = SlotLease::try_take(&dir, "t-f-1")
            .expect("lock")
            .expect("free");
        // flock locks belong to the open file: a second open is refused.
        assert!(SlotLease::try_take(&dir, "t-f-1").expect("lock").is_none());
        assert!(SlotLease::try_take(&dir, "t-f-2").expect("lock").is_some());
        drop(first);
        assert!(SlotLease::try_take(&dir, "t-f-1").expect("lock").is_some());
        let _ = std::fs::remove_dir_all(&path);
    }

    #[test]
    fn the_holder_is_named_when_it_is_alive() {
        let me = format!("{} apply", std::process::id());
        assert_eq!(
            describe_holder(Some(&me)),
            format!(
                "another cove command (pid {}, `cove apply`)",
                std::process::id()
            )
        );
        assert!(describe_holder(Some("4294967295 destroy")).contains("cove serve"));
        assert!(describe_holder(None).contains("another cove process"));
    }

    #[test]
    fn a_prefix_lock_is_exclusive_or_shared() {
        let dir = std::env::temp_dir().join(format!("hs-prefix-lock-{}", std::process::id()));
        let path = dir.join("p").join("lock");
        let now = Duration::ZERO;
        let mut ex = PrefixLock::take(&path, LockMode::Exclusive, now)
            .expect("lock")
            .expect("free");
        ex.record_holder("pid 1, `apply`").expect("record");
        for mode in [LockMode::Exclusive, LockMode::Shared] {
            assert!(PrefixLock::take(&path, mode, now).expect("lock").is_none());
        }
        assert_eq!(
            PrefixLock::last_holder(&path).as_deref(),
            Some("pid 1, `apply`")
        );
        drop(ex);
        let sh1 = PrefixLock::take(&path, LockMode::Shared, now).expect("lock");
        let sh2 = PrefixLock::take(&path, LockMode::Shared, now).expect("lock");
        assert!(sh1.is_some() && sh2.is_some());
        assert!(
            PrefixLock::take(&path, LockMode::Exclusive, now)
                .expect("lock")
                .is_none()
        );
        drop((sh1, sh2));
        assert!(
            PrefixLock::take(&path, LockMode::Exclusive, now)
                .expect("lock")
                .is_some()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
