//! Which invocation ran in which execution environment when (issue 14): flow
//! logs name the invocation a function's connection belongs to
//! (`cove-invocation-id`). An environment runs one invocation at a time, as on
//! Lambda, so the environment (its network slot) and a moment name at most one.
//!
//! The scheduler records each invocation's start and end by slot; the
//! flow-log collector asks which one ran in a slot when a connection started.
//! Only the last [`SPANS_PER_SLOT`] invocations of a slot are kept.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Invocations remembered per slot.
pub const SPANS_PER_SLOT: usize = 64;

#[derive(Debug, Clone)]
struct Span {
    request_id: String,
    start_ms: u64,
    end_ms: Option<u64>,
}

/// The recent invocations of every slot.
#[derive(Debug, Default)]
pub struct InvocationLog {
    slots: Mutex<HashMap<String, VecDeque<Span>>>,
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl InvocationLog {
    /// Invocation `request_id` started in slot `slot` (its namespace) at `at_ms`.
    pub fn started(&self, slot: &str, request_id: &str, at_ms: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // The slot's key is allocated once, not at every invocation.
        if !slots.contains_key(slot) {
            slots.insert(slot.to_owned(), VecDeque::with_capacity(SPANS_PER_SLOT));
        }
        let Some(spans) = slots.get_mut(slot) else {
            return;
        };
        if spans.len() >= SPANS_PER_SLOT {
            spans.pop_front();
        }
        spans.push_back(Span {
            request_id: request_id.to_owned(),
            start_ms: at_ms,
            end_ms: None,
        });
    }

    /// Invocation `request_id` in slot `slot` ended at `at_ms`.
    pub fn ended(&self, slot: &str, request_id: &str, at_ms: u64) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(span) = slots
            .get_mut(slot)
            .and_then(|s| s.iter_mut().rev().find(|s| s.request_id == request_id))
        {
            span.end_ms = Some(at_ms);
        }
    }

    /// The invocation that ran in `slot` at `at_ms` (start and end included);
    /// `None` when none did (an environment's initialization, between
    /// invocations, or longer ago than the slot's memory).
    pub fn at(&self, slot: &str, at_ms: u64) -> Option<String> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get(slot)?.iter().rev().find_map(|s| {
            (s.start_ms <= at_ms && s.end_ms.is_none_or(|e| at_ms <= e))
                .then(|| s.request_id.clone())
        })
    }

    /// Forgets slot `slot` (its function was removed).
    pub fn forget(&self, slot: &str) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_invocation_per_moment() {
        let log = InvocationLog::default();
        log.started("env-0", "a", 100);
        log.ended("env-0", "a", 200);
        log.started("env-0", "b", 300);
        log.started("env-1", "c", 150);
        assert_eq!(log.at("env-0", 100).as_deref(), Some("a"));
        assert_eq!(log.at("env-0", 200).as_deref(), Some("a"));
        assert_eq!(log.at("env-0", 250), None, "between invocations");
        assert_eq!(log.at("env-0", 99), None);
        assert_eq!(
            log.at("env-0", 10_000).as_deref(),
            Some("b"),
            "still running"
        );
        assert_eq!(log.at("env-1", 160).as_deref(), Some("c"));
        assert_eq!(log.at("env-2", 160), None);
        log.forget("env-0");
        assert_eq!(log.at("env-0", 100), None);
    }

    #[test]
    fn a_slot_keeps_its_last_invocations() {
        let log = InvocationLog::default();
        for i in 0..(SPANS_PER_SLOT as u64 + 10) {
            log.started("s", &i.to_string(), i * 10);
            log.ended("s", &i.to_string(), i * 10 + 5);
        }
        assert_eq!(log.at("s", 0), None, "forgotten");
        let last = SPANS_PER_SLOT as u64 + 9;
        assert_eq!(log.at("s", last * 10 + 1), Some(last.to_string()));
    }
}
