//! The UDP thread's memo of whole answers: a view answers the same query bytes
//! with the same response bytes (only the id differs — `cove_dns::respond` is a
//! pure function of the view and the packet), so a repeated query is answered by
//! patching the id into the response kept for it, without parsing or encoding.
//! Forwarded names answered from the cache are kept for a second at most (their
//! TTLs count down). Everything is dropped when the catalog changes, and the memo
//! is emptied when it grows past its bound.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Entries kept at most (then the memo starts again empty).
const MAX_ENTRIES: usize = 65_536;

/// The longest a cached forwarded answer is replayed.
pub(crate) const FORWARDED_FOR: Duration = Duration::from_secs(1);

struct Entry {
    response: Vec<u8>,
    until: Option<Instant>,
}

/// Responses by (view, query bytes after the id).
pub(crate) struct Memo {
    catalog: usize,
    entries: HashMap<Box<[u8]>, Entry, foldhash::fast::RandomState>,
    key: Vec<u8>,
}

impl Memo {
    pub(crate) fn new() -> Memo {
        Memo {
            catalog: 0,
            entries: HashMap::default(),
            key: Vec::with_capacity(512),
        }
    }

    /// Forgets everything if `catalog` (the catalog's address) is not the one
    /// the entries were made with.
    pub(crate) fn catalog(&mut self, catalog: usize) {
        if self.catalog != catalog {
            self.entries.clear();
            self.catalog = catalog;
        }
    }

    fn key(&mut self, view: usize, query: &[u8]) {
        self.key.clear();
        self.key.extend_from_slice(&view.to_ne_bytes());
        self.key
            .extend_from_slice(query.get(2..).unwrap_or_default());
    }

    /// The response to `query` from view `view`, its id set to the query's, and
    /// whether it is a forwarded answer (one kept until a deadline).
    pub(crate) fn get(&mut self, view: usize, query: &[u8], now: Instant) -> Option<(&[u8], bool)> {
        if query.len() < 12 {
            return None;
        }
        self.key(view, query);
        let e = self.entries.get_mut(self.key.as_slice())?;
        if e.until.is_some_and(|u| now >= u) {
            return None;
        }
        e.response[..2].copy_from_slice(&query[..2]);
        Some((&e.response, e.until.is_some()))
    }

    /// Keeps `response` to `query` from view `view` (until `until`, if given).
    pub(crate) fn put(
        &mut self,
        view: usize,
        query: &[u8],
        response: &[u8],
        until: Option<Instant>,
    ) {
        if query.len() < 12 || response.len() < 12 {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.key(view, query);
        self.entries.insert(
            self.key.as_slice().into(),
            Entry {
                response: response.to_vec(),
                until,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_query_gets_the_kept_response_with_its_own_id() {
        let mut m = Memo::new();
        m.catalog(1);
        let q1 = [0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 7];
        let r = [0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 9, 9];
        m.put(10, &q1, &r, None);
        let mut q2 = q1;
        q2[..2].copy_from_slice(&[0x12, 0x34]);
        let now = Instant::now();
        let (got, forwarded) = m.get(10, &q2, now).expect("kept");
        assert!(!forwarded);
        let got = got.to_vec();
        assert_eq!(&got[..2], &[0x12, 0x34]);
        assert_eq!(&got[2..], &r[2..]);
        // Another view, another question, another catalog: not kept.
        assert!(m.get(11, &q2, now).is_none());
        let mut q3 = q1;
        q3[13] = 8;
        assert!(m.get(10, &q3, now).is_none());
        m.catalog(2);
        assert!(m.get(10, &q2, now).is_none());
    }

    #[test]
    fn a_forwarded_answer_is_replayed_only_until_its_deadline() {
        let mut m = Memo::new();
        let q = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5];
        let r = [0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 6];
        let now = Instant::now();
        m.put(3, &q, &r, Some(now + FORWARDED_FOR));
        assert!(m.get(3, &q, now).is_some_and(|(_, forwarded)| forwarded));
        assert!(m.get(3, &q, now + FORWARDED_FOR).is_none());
    }
}
