//! The paths the scheduler shares with the rest of cove, as types: where
//! environments' logs are kept ([`LogDir`]: one directory per function, one file per
//! environment, like a Lambda log stream, and the asynchronous-events log) and the
//! network slots' lease files ([`SlotLocks`]).

use std::path::{Path, PathBuf};

/// `<dir>/<tenant>/<function>/<instance>.log` for each environment and
/// `<dir>/<tenant>/<function>/async-events.log` (function names are unique within a
/// tenant only: two tenants' functions of one name never share a log). Shared by the
/// scheduler (which writes), `cove fn logs` and the API's log reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDir(PathBuf);

/// The asynchronous-events log's file name in a function's directory.
pub const ASYNC_EVENTS_LOG: &str = "async-events.log";

impl LogDir {
    /// Logs under `dir`.
    pub fn new(dir: PathBuf) -> LogDir {
        LogDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory of the logs of `tenant`'s `function`; `None` unless both names
    /// are one safe path component each (Lambda's names always are:
    /// `[A-Za-z0-9_-]{1,64}`).
    pub fn function_dir(&self, tenant: &str, function: &str) -> Option<PathBuf> {
        (safe_component(tenant) && safe_component(function))
            .then(|| self.0.join(tenant).join(function))
    }

    /// The log of environment `instance` of `tenant`'s `function`.
    pub fn env_log(&self, tenant: &str, function: &str, instance: &str) -> Option<PathBuf> {
        if !safe_component(instance) {
            return None;
        }
        Some(
            self.function_dir(tenant, function)?
                .join(format!("{instance}.log")),
        )
    }

    /// The asynchronous-events log of `tenant`'s `function`.
    pub fn async_events_log(&self, tenant: &str, function: &str) -> Option<PathBuf> {
        Some(self.function_dir(tenant, function)?.join(ASYNC_EVENTS_LOG))
    }
}

/// The lease files of the network slots: `<dir>/<slot namespace>.lock`, shared by
/// every cove process of a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotLocks(PathBuf);

impl SlotLocks {
    /// Lease files under `dir`.
    pub fn new(dir: PathBuf) -> SlotLocks {
        SlotLocks(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The lease file of the slot `namespace`; `None` unless the name is one safe
    /// path component (cove's slot namespaces always are: `<prefix>-v-<hash>`).
    pub fn lease(&self, namespace: &str) -> Option<PathBuf> {
        safe_component(namespace).then(|| self.0.join(format!("{namespace}.lock")))
    }
}

fn safe_component(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_log_directory() {
        let logs = LogDir::new(PathBuf::from("/s/p/logs"));
        assert_eq!(
            logs.env_log("acme", "orders", "0af2").as_deref(),
            Some(Path::new("/s/p/logs/acme/orders/0af2.log"))
        );
        assert_eq!(
            logs.async_events_log("acme", "orders").as_deref(),
            Some(Path::new("/s/p/logs/acme/orders/async-events.log"))
        );
        let slots = SlotLocks::new(PathBuf::from("/s/p/slots"));
        assert_eq!(
            slots.lease("cove-f-0a1b2c3d").as_deref(),
            Some(Path::new("/s/p/slots/cove-f-0a1b2c3d.lock"))
        );
        for bad in ["", "..", "../x", "a/b", ".hidden"] {
            assert_eq!(logs.function_dir("acme", bad), None, "{bad:?}");
            assert_eq!(logs.function_dir(bad, "orders"), None, "{bad:?}");
            assert_eq!(logs.env_log("acme", "orders", bad), None, "{bad:?}");
            assert_eq!(slots.lease(bad), None, "{bad:?}");
        }
    }
}
