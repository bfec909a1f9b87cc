//! One long-lived nf_tables netlink socket per namespace, for element batches.
//!
//! A netlink socket belongs to the namespace it was opened in, whichever thread
//! later uses it, so a batch needs no thread inside the namespace: the socket is
//! opened once (on a fresh thread that enters the namespace) and kept. Keeping it
//! matters for time: closing a netfilter socket waits for nf_tables to release the
//! previous transactions (an RCU grace period, ~10 ms here), which was most of the
//! time of a rule change and of a detach when each batch opened its own socket.
//!
//! A socket holds its namespace alive. So the pool checks, on every use, that
//! `/run/netns/<ns>` is still the namespace the socket was opened in (one `stat`)
//! and replaces the socket otherwise; drops a namespace's socket before cove
//! deletes it ([`NfSockets::forget`]) and the sockets of namespaces no longer
//! listed ([`NfSockets::retain`], on every observe); and drops a socket after any
//! failure, so the next batch starts on a fresh one.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::HostError;
use crate::netns;
use crate::nftnl::{Elements, Session};

/// The identity of a network namespace: device and inode of its nsfs file.
type NsId = (u64, u64);

/// A socket and the namespace it was opened in.
struct Entry {
    id: NsId,
    session: Mutex<Session>,
}

/// The pool of a [`crate::Host`] (shared by its clones).
#[derive(Default)]
pub(crate) struct NfSockets {
    by_ns: Mutex<HashMap<String, Arc<Entry>>>,
}

impl fmt::Debug for NfSockets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.map().keys().cloned().collect();
        f.debug_struct("NfSockets").field("open", &names).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl NfSockets {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<Entry>>> {
        lock(&self.by_ns)
    }

    /// Removes `delete` and adds `add` to the sets of table `inet table` in
    /// namespace `ns`, in one atomic batch on the namespace's socket (opened now if
    /// there is none, or if the namespace was replaced since).
    pub(crate) fn update_elements(
        &self,
        ns: &str,
        table: &str,
        add: &Elements,
        delete: &Elements,
    ) -> Result<(), HostError> {
        let entry = self.entry(ns, table)?;
        let result = lock(&entry.session).update_elements(ns, table, add, delete);
        if result.is_err() {
            // Whatever went wrong, the next batch starts on a fresh socket.
            self.drop_entry(ns, &entry);
        }
        result
    }

    /// The socket of namespace `ns`, checked to still be in the namespace mounted
    /// at `/run/netns/<ns>`.
    fn entry(&self, ns: &str, table: &str) -> Result<Arc<Entry>, HostError> {
        let path = netns::ns_path(ns);
        let meta = fs::metadata(&path).map_err(|source| HostError::OpenNamespace {
            ns: ns.to_owned(),
            path,
            source,
        })?;
        let id = (meta.dev(), meta.ino());
        if let Some(e) = self.map().get(ns) {
            if e.id == id {
                return Ok(Arc::clone(e));
            }
        }
        let (name, table_name) = (ns.to_owned(), table.to_owned());
        let (id, session) = netns::run_in(ns, move || {
            let here = fs::metadata("/proc/thread-self/ns/net").map_err(|source| {
                HostError::OpenNamespace {
                    ns: name.clone(),
                    path: "/proc/thread-self/ns/net".into(),
                    source,
                }
            })?;
            Ok((
                (here.dev(), here.ino()),
                Session::open_here(&name, &table_name)?,
            ))
        })?;
        let entry = Arc::new(Entry {
            id,
            session: Mutex::new(session),
        });
        // A socket this replaces is closed here, outside the pool's lock.
        let _old = self.map().insert(ns.to_owned(), Arc::clone(&entry));
        Ok(entry)
    }

    /// Drops `entry` if it is still the socket of `ns`.
    fn drop_entry(&self, ns: &str, entry: &Arc<Entry>) {
        let mut map = self.map();
        let old = match map.get(ns) {
            Some(e) if Arc::ptr_eq(e, entry) => map.remove(ns),
            _ => None,
        };
        drop(map);
        drop(old);
    }

    /// Closes the socket of namespace `ns`, if any (before the namespace is
    /// deleted, so that the socket does not keep it alive).
    pub(crate) fn forget(&self, ns: &str) {
        let old = self.map().remove(ns);
        drop(old);
    }

    /// Closes the sockets of namespaces for which `keep` is false.
    pub(crate) fn retain(&self, keep: impl Fn(&str) -> bool) {
        let mut map = self.map();
        let gone: Vec<String> = map.keys().filter(|n| !keep(n)).cloned().collect();
        let old: Vec<Arc<Entry>> = gone.iter().filter_map(|n| map.remove(n)).collect();
        drop(map);
        drop(old);
    }
}
