//! Retention of function logs (issue 14): a function's environment logs and its
//! asynchronous-events log are kept for [`LogRetention::max_age`] and up to
//! [`LogRetention::max_bytes_per_function`] together — the oldest files go first,
//! the log of a live environment never. Each environment's own output is capped
//! already ([`crate::log`]); this bounds how many environments' logs pile up.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::paths::{ASYNC_EVENTS_LOG, LogDir};

/// How long and how much of each function's logs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRetention {
    /// Files last written longer ago than this are deleted.
    pub max_age: Duration,
    /// The oldest files are deleted while a function's logs take more than this.
    pub max_bytes_per_function: u64,
}

impl Default for LogRetention {
    /// A week, 512 MiB per function.
    fn default() -> Self {
        LogRetention {
            max_age: Duration::from_secs(7 * 24 * 3600),
            max_bytes_per_function: 512 << 20,
        }
    }
}

/// A log file and what retention looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// Its path.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

/// Which of one function's `files` to delete at `now`: those older than the
/// retention's age, then the oldest while the rest take more than its size;
/// never one in `live`.
pub fn to_delete(
    files: &[LogFile],
    live: &HashSet<PathBuf>,
    now: SystemTime,
    r: LogRetention,
) -> Vec<PathBuf> {
    let mut by_age: Vec<&LogFile> = files.iter().collect();
    by_age.sort_by_key(|f| f.modified);
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    let mut out = Vec::new();
    for f in by_age {
        if live.contains(&f.path) {
            continue;
        }
        let too_old = now
            .duration_since(f.modified)
            .is_ok_and(|age| age > r.max_age);
        if too_old || total > r.max_bytes_per_function {
            total -= f.bytes;
            out.push(f.path.clone());
        }
    }
    out
}

/// The asynchronous-events log is rotated at this share of the function's budget
/// (its older half becomes `async-events.log.1`, which retention may delete).
const ASYNC_LOG_SHARE: u64 = 4;

/// Applies `r` to every function's logs under `dir`, sparing `live`; returns how
/// many files were deleted and how many bytes they held.
pub fn prune(dir: &LogDir, live: &HashSet<PathBuf>, r: LogRetention) -> io::Result<(usize, u64)> {
    let now = SystemTime::now();
    let (mut files_deleted, mut bytes) = (0, 0);
    for tenant in read_dirs(dir.path())? {
        for function in read_dirs(&tenant)? {
            let events = function.join(ASYNC_EVENTS_LOG);
            if std::fs::metadata(&events)
                .is_ok_and(|m| m.len() > r.max_bytes_per_function / ASYNC_LOG_SHARE)
            {
                std::fs::rename(&events, function.join(format!("{ASYNC_EVENTS_LOG}.1")))?;
            }
            let mut files = Vec::new();
            for entry in std::fs::read_dir(&function)? {
                let entry = entry?;
                let m = match entry.metadata() {
                    Ok(m) => m,
                    // Deleted since the directory was read (an environment's end).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if m.is_file() && !entry.path().ends_with(ASYNC_EVENTS_LOG) {
                    files.push(LogFile {
                        path: entry.path(),
                        bytes: m.len(),
                        modified: m.modified()?,
                    });
                }
            }
            for path in to_delete(&files, live, now, r) {
                let size = files.iter().find(|f| f.path == path).map_or(0, |f| f.bytes);
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        files_deleted += 1;
                        bytes += size;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok((files_deleted, bytes))
}

/// The subdirectories of `dir` (none if it does not exist).
fn read_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Held by the retention pass running now.
static PRUNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Seconds between two applications of retention by the scheduler's reaper.
pub(crate) const PRUNE_EVERY_S: u64 = 60;

impl crate::Scheduler {
    /// Keeps function logs by `r` from now on (the default: [`LogRetention::default`])
    /// and applies it at once when called inside the runtime, so a new limit does not
    /// wait for the reaper's next pass.
    pub fn set_log_retention(&self, r: LogRetention) {
        *self
            .shared
            .retention
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = r;
        if tokio::runtime::Handle::try_current().is_ok() {
            self.prune_logs();
        }
    }

    /// The logs of the environments alive now (retention spares them).
    fn live_logs(&self, dir: &LogDir) -> HashSet<PathBuf> {
        let functions: Vec<_> = self
            .shared
            .functions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut live = HashSet::new();
        for f in functions {
            let ids: Vec<u64> = f.lock().envs.values().map(|e| e.id).collect();
            for id in ids {
                let instance = format!("{:032x}", self.shared.instance_seed ^ u128::from(id));
                if let Some(p) = dir.env_log(&f.config.tenant, &f.config.name, &instance) {
                    live.insert(p);
                }
            }
        }
        live
    }

    /// Applies the retention to the logs, off the async workers (called by the
    /// reaper every [`PRUNE_EVERY_S`]).
    pub(crate) fn prune_logs(&self) {
        let Some(dir) = self.shared.config.log_dir.clone() else {
            return;
        };
        let live = self.live_logs(&dir);
        let r = *self
            .shared
            .retention
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        tokio::task::spawn_blocking(move || {
            // One pass at a time: a pass started by a new limit and the reaper's
            // would otherwise race over the same files.
            let _one = PRUNING.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = prune(&dir, &live, r) {
                eprintln!(
                    "cove: function log retention under {}: {e}",
                    dir.path().display()
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: u64, age_s: u64, now: SystemTime) -> LogFile {
        LogFile {
            path: PathBuf::from(name),
            bytes,
            modified: now - Duration::from_secs(age_s),
        }
    }

    #[test]
    fn old_files_then_the_oldest_over_the_budget_go_and_live_ones_stay() {
        let now = SystemTime::now();
        let r = LogRetention {
            max_age: Duration::from_secs(100),
            max_bytes_per_function: 1000,
        };
        let files = vec![
            file("a", 300, 500, now),    // too old
            file("live", 300, 400, now), // too old, but live
            file("b", 400, 50, now),
            file("c", 400, 40, now),
            file("d", 400, 10, now),
        ];
        let live: HashSet<PathBuf> = [PathBuf::from("live")].into();
        // a goes (old); then 1,500 left > 1,000: b (oldest not live) goes → 1,100,
        // still over: c goes → 700.
        assert_eq!(
            to_delete(&files, &live, now, r),
            vec![PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c")]
        );
        // Within both limits: nothing.
        let r = LogRetention {
            max_age: Duration::from_secs(1000),
            max_bytes_per_function: 10_000,
        };
        assert!(to_delete(&files, &live, now, r).is_empty());
    }

    #[test]
    fn prune_deletes_under_each_function_and_rotates_the_events_log() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = LogDir::new(tmp.path().to_owned());
        let f = tmp.path().join("t").join("fn");
        std::fs::create_dir_all(&f).expect("dirs");
        for (name, len) in [("old.log", 600usize), ("new.log", 600), ("live.log", 600)] {
            std::fs::write(f.join(name), vec![b'x'; len]).expect("write");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::write(f.join(ASYNC_EVENTS_LOG), vec![b'e'; 400]).expect("write");
        let live: HashSet<PathBuf> = [f.join("live.log")].into();
        let r = LogRetention {
            max_age: Duration::from_secs(3600),
            max_bytes_per_function: 1000,
        };
        let (n, bytes) = prune(&dir, &live, r).expect("prune");
        // The events log (400 > 1000 / 4) was rotated; over budget, the oldest
        // files go until 1,000 bytes or less remain: old.log, new.log, then the
        // rotated events log is the only one left besides the live log.
        assert!(!f.join(ASYNC_EVENTS_LOG).exists());
        assert!(f.join("live.log").exists());
        assert!(!f.join("old.log").exists() && !f.join("new.log").exists());
        assert_eq!(n, 2);
        assert_eq!(bytes, 1200);
        assert!(f.join(format!("{ASYNC_EVENTS_LOG}.1")).exists());
    }
}
