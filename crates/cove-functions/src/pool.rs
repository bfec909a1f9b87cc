//! The environment pool of one function: pure bookkeeping, no I/O, no clock.
//!
//! A function has a fixed set of network *slots* (its pre-attached ENIs); at most one
//! execution environment lives in a slot. An invocation takes the most recently used
//! idle environment (so the others age and can be reaped), or starts a new one in a
//! free slot (a cold start), or is throttled when every slot is busy — Lambda's
//! reserved concurrency. The caller tells the pool how each environment ended up.
//!
//! Time is passed in as milliseconds on any monotonic clock.

use std::collections::BTreeSet;

/// Identifies one execution environment (unique within a pool's lifetime).
pub type EnvId = u64;

/// What one slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Nothing: a cold start may use it.
    Free,
    /// Another process (another cove) holds it; skipped until marked free again.
    Foreign,
    /// An environment is starting in it for an invocation.
    Starting(EnvId),
    /// An environment is running an invocation.
    Busy(EnvId),
    /// An environment is being destroyed (reaped or drained); the slot becomes free
    /// when the caller reports it gone with [`Finish::Destroyed`].
    Ending(EnvId),
    /// A warm environment waits; `since` is when it became idle.
    Idle {
        /// The environment.
        env: EnvId,
        /// When it became idle (ms).
        since: u64,
    },
}

/// Where an invocation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the warm environment `env` of slot `slot`.
    Warm {
        /// Slot index.
        slot: usize,
        /// The environment.
        env: EnvId,
    },
    /// In a new environment `env`, to be started in the free slot `slot`.
    Cold {
        /// Slot index.
        slot: usize,
        /// The new environment's id.
        env: EnvId,
    },
    /// Every slot is in use: Lambda's `TooManyRequestsException`.
    Throttled,
}

/// How an environment ended an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// It can take the next invocation.
    Reusable,
    /// It was (or must be) destroyed: timeout, crash, failed start, config change.
    Destroyed,
}

/// The pool of one function.
#[derive(Debug, Clone)]
pub struct Pool {
    slots: Vec<SlotState>,
    next_env: EnvId,
    /// Idle slots, ordered by (since, slot) so the newest is last.
    idle: BTreeSet<(u64, usize)>,
}

/// A slot index outside the pool, or a transition the slot's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("slot {slot} is {state:?}; cannot {action}")]
pub struct PoolError {
    /// The slot.
    pub slot: usize,
    /// Its state.
    pub state: Option<SlotState>,
    /// What was asked.
    pub action: &'static str,
}

impl Pool {
    /// A pool of `slots` free slots.
    pub fn new(slots: usize) -> Pool {
        Pool {
            slots: vec![SlotState::Free; slots],
            next_env: 1,
            idle: BTreeSet::new(),
        }
    }

    /// The state of every slot.
    pub fn slots(&self) -> &[SlotState] {
        &self.slots
    }

    /// Environments that exist (starting, busy or idle).
    pub fn environments(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    SlotState::Starting(_)
                        | SlotState::Busy(_)
                        | SlotState::Ending(_)
                        | SlotState::Idle { .. }
                )
            })
            .count()
    }

    /// Places one invocation.
    pub fn acquire(&mut self) -> Placement {
        if let Some(&(since, slot)) = self.idle.iter().next_back() {
            self.idle.remove(&(since, slot));
            let SlotState::Idle { env, .. } = self.slots[slot] else {
                unreachable_idle(slot);
                return Placement::Throttled;
            };
            self.slots[slot] = SlotState::Busy(env);
            return Placement::Warm { slot, env };
        }
        match self.slots.iter().position(|s| *s == SlotState::Free) {
            Some(slot) => {
                let env = self.next_env;
                self.next_env += 1;
                self.slots[slot] = SlotState::Starting(env);
                Placement::Cold { slot, env }
            }
            None => Placement::Throttled,
        }
    }

    /// The environment started in `slot` is running its first invocation.
    pub fn started(&mut self, slot: usize) -> Result<(), PoolError> {
        match self.slots.get(slot) {
            Some(SlotState::Starting(env)) => {
                self.slots[slot] = SlotState::Busy(*env);
                Ok(())
            }
            other => Err(self.error(slot, other.copied(), "mark started")),
        }
    }

    /// A cold start found `slot` held by another process: the slot is skipped (until
    /// [`Pool::free_foreign`]) and the invocation should be placed again.
    pub fn slot_taken(&mut self, slot: usize) -> Result<(), PoolError> {
        match self.slots.get(slot) {
            Some(SlotState::Starting(_)) => {
                self.slots[slot] = SlotState::Foreign;
                Ok(())
            }
            other => Err(self.error(slot, other.copied(), "mark taken")),
        }
    }

    /// Makes every slot held by another process a candidate again.
    pub fn free_foreign(&mut self) {
        for s in &mut self.slots {
            if *s == SlotState::Foreign {
                *s = SlotState::Free;
            }
        }
    }

    /// The invocation in `slot` is over.
    pub fn finish(&mut self, slot: usize, how: Finish, now: u64) -> Result<(), PoolError> {
        let env = match self.slots.get(slot) {
            Some(SlotState::Busy(env) | SlotState::Starting(env)) => *env,
            Some(SlotState::Ending(_)) if how == Finish::Destroyed => {
                self.slots[slot] = SlotState::Free;
                return Ok(());
            }
            other => return Err(self.error(slot, other.copied(), "finish")),
        };
        self.slots[slot] = match how {
            Finish::Reusable => {
                self.idle.insert((now, slot));
                SlotState::Idle { env, since: now }
            }
            Finish::Destroyed => SlotState::Free,
        };
        Ok(())
    }

    /// Idle environments unused for at least `idle_ms`: their slots become
    /// [`SlotState::Ending`]; the caller destroys them and reports each with
    /// [`Finish::Destroyed`].
    pub fn reap(&mut self, now: u64, idle_ms: u64) -> Vec<(usize, EnvId)> {
        let cutoff = now.saturating_sub(idle_ms);
        let old: Vec<(u64, usize)> = self
            .idle
            .iter()
            .take_while(|(since, _)| *since <= cutoff && now >= idle_ms)
            .copied()
            .collect();
        self.take_idle(old)
    }

    /// Every idle environment (shutdown or a changed configuration), as
    /// [`Pool::reap`] does; busy ones are destroyed by their invocation's caller.
    pub fn drain(&mut self) -> Vec<(usize, EnvId)> {
        let all: Vec<(u64, usize)> = self.idle.iter().copied().collect();
        self.take_idle(all)
    }

    fn take_idle(&mut self, entries: Vec<(u64, usize)>) -> Vec<(usize, EnvId)> {
        let mut out = Vec::with_capacity(entries.len());
        for key in entries {
            self.idle.remove(&key);
            if let SlotState::Idle { env, .. } = self.slots[key.1] {
                out.push((key.1, env));
                self.slots[key.1] = SlotState::Ending(env);
            }
        }
        out
    }

    fn error(&self, slot: usize, state: Option<SlotState>, action: &'static str) -> PoolError {
        PoolError {
            slot,
            state,
            action,
        }
    }
}

/// The idle index and the slot states disagree: a bug; the debug build says so.
fn unreachable_idle(slot: usize) {
    debug_assert!(false, "idle index names slot {slot}, which is not idle");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn warm_before_cold_and_newest_warm_first() {
        let mut p = Pool::new(3);
        let Placement::Cold { slot: a, env: ea } = p.acquire() else {
            panic!()
        };
        let Placement::Cold { slot: b, .. } = p.acquire() else {
            panic!()
        };
        p.started(a).expect("start");
        p.started(b).expect("start");
        p.finish(a, Finish::Reusable, 10).expect("finish");
        p.finish(b, Finish::Reusable, 20).expect("finish");
        // b is the newest idle one.
        assert!(matches!(p.acquire(), Placement::Warm { slot, .. } if slot == b));
        assert_eq!(p.acquire(), Placement::Warm { slot: a, env: ea });
        assert!(matches!(p.acquire(), Placement::Cold { slot: 2, .. }));
        assert_eq!(p.acquire(), Placement::Throttled);
    }

    #[test]
    fn destroyed_environment_frees_its_slot_for_a_new_one() {
        let mut p = Pool::new(1);
        let Placement::Cold { slot, env } = p.acquire() else {
            panic!()
        };
        assert_eq!(p.acquire(), Placement::Throttled);
        p.finish(slot, Finish::Destroyed, 5).expect("finish");
        let Placement::Cold { env: again, .. } = p.acquire() else {
            panic!()
        };
        assert_ne!(env, again, "a replaced environment gets a new id");
    }

    #[test]
    fn reap_takes_only_old_idle_environments() {
        let mut p = Pool::new(3);
        let slots: Vec<usize> = (0..3)
            .map(|_| match p.acquire() {
                Placement::Cold { slot, .. } => slot,
                other => panic!("{other:?}"),
            })
            .collect();
        for (slot, now) in slots.into_iter().zip([0, 50, 100]) {
            p.finish(slot, Finish::Reusable, now).expect("finish");
        }
        let reaped = p.reap(120, 60);
        assert_eq!(reaped.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 1]);
        // Ending slots are not handed out until reported destroyed.
        assert!(matches!(p.acquire(), Placement::Warm { slot: 2, .. }));
        assert_eq!(p.acquire(), Placement::Throttled);
        for (slot, _) in reaped {
            p.finish(slot, Finish::Destroyed, 130).expect("ended");
        }
        assert!(matches!(p.acquire(), Placement::Cold { .. }));
        p.finish(2, Finish::Reusable, 140).expect("finish");
        assert_eq!(p.drain().len(), 1);
        assert_eq!(p.slots()[2], SlotState::Ending(3));
    }

    #[test]
    fn foreign_slots_are_skipped_until_freed() {
        let mut p = Pool::new(2);
        let Placement::Cold { slot, .. } = p.acquire() else {
            panic!()
        };
        p.slot_taken(slot).expect("taken");
        assert!(matches!(p.acquire(), Placement::Cold { slot: 1, .. }));
        assert_eq!(p.acquire(), Placement::Throttled);
        p.free_foreign();
        assert!(matches!(p.acquire(), Placement::Cold { slot: 0, .. }));
    }

    #[test]
    fn bad_transitions_are_errors() {
        let mut p = Pool::new(1);
        assert!(p.finish(0, Finish::Reusable, 0).is_err());
        assert!(p.started(0).is_err());
        assert!(p.finish(7, Finish::Destroyed, 0).is_err());
    }

    #[derive(Debug, Clone)]
    enum Step {
        Acquire,
        Finish(usize, bool),
        Reap(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => Just(Step::Acquire),
            3 => (0usize..8, any::<bool>()).prop_map(|(i, r)| Step::Finish(i, r)),
            1 => (0u64..50).prop_map(Step::Reap),
        ]
    }

    proptest! {
        /// Against a brute-force model: never more environments than slots, an
        /// invocation is throttled only when no slot is free or idle, warm reuse
        /// whenever an idle environment exists, and the idle index always agrees
        /// with the slot states.
        #[test]
        fn pool_invariants(slots in 1usize..6, steps in prop::collection::vec(step(), 1..80)) {
            let mut p = Pool::new(slots);
            let mut busy: Vec<usize> = Vec::new();
            let mut now = 0;
            for s in steps {
                now += 1;
                match s {
                    Step::Acquire => {
                        let idle = p.slots().iter().filter(|s| matches!(s, SlotState::Idle { .. })).count();
                        let free = p.slots().iter().filter(|s| **s == SlotState::Free).count();
                        match p.acquire() {
                            Placement::Warm { slot, .. } => { prop_assert!(idle > 0); busy.push(slot); }
                            Placement::Cold { slot, .. } => {
                                prop_assert_eq!(idle, 0);
                                prop_assert!(free > 0);
                                p.started(slot).expect("start");
                                busy.push(slot);
                            }
                            Placement::Throttled => prop_assert_eq!(idle + free, 0),
                        }
                    }
                    Step::Finish(i, reusable) if !busy.is_empty() => {
                        let slot = busy.remove(i % busy.len());
                        let how = if reusable { Finish::Reusable } else { Finish::Destroyed };
                        p.finish(slot, how, now).expect("finish busy");
                    }
                    Step::Finish(..) => {}
                    Step::Reap(age) => {
                        let before = p.environments();
                        let reaped = p.reap(now, age);
                        prop_assert_eq!(p.environments(), before);
                        for (slot, _) in &reaped {
                            prop_assert!(matches!(p.slots()[*slot], SlotState::Ending(_)));
                            p.finish(*slot, Finish::Destroyed, now).expect("ended");
                        }
                        prop_assert_eq!(p.environments(), before - reaped.len());
                    }
                }
                prop_assert!(p.environments() <= slots);
                let idle: BTreeSet<usize> = p.slots().iter().enumerate()
                    .filter(|(_, s)| matches!(s, SlotState::Idle { .. })).map(|(i, _)| i).collect();
                let indexed: BTreeSet<usize> = p.idle.iter().map(|(_, s)| *s).collect();
                prop_assert_eq!(idle, indexed);
                let busy_states = p.slots().iter().filter(|s| matches!(s, SlotState::Busy(_))).count();
                prop_assert_eq!(busy_states, busy.len());
            }
        }
    }
}
