//! Asynchronous invocations (`X-Amz-Invocation-Type: Event`), run as Lambda runs them.
//!
//! Each function has a queue of events (in memory: events still queued when `cove
//! serve` stops are lost; a persistent queue comes with the control plane). An event
//! waits for a free environment of its function instead of being throttled; a
//! function error is retried twice, the first retry after [`AsyncConfig::retry_delay`]
//! and the second after twice that (Lambda: one minute, then two); a failure of cove
//! itself is retried with a backoff that doubles up to five minutes; an event older
//! than [`AsyncConfig::max_event_age`] (Lambda's default: six hours) is dropped
//! without running. Every retry, drop and discard is a line in
//! `<logs>/<function>/async-events.log`, beside the environments' logs, so `cove fn
//! logs` shows it.
//!
//! The decisions ([`after_attempt`], [`expired`]) are pure; [`run_queue`] carries them
//! out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::scheduler::{InvokeRequest, Scheduler, Shared};

/// How asynchronous invocations are retried and aged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncConfig {
    /// The wait before the first retry of a function error; the second retry waits
    /// twice as long. Lambda: one minute. cove's failures back off from 1/60 of it.
    pub retry_delay: Duration,
    /// Retries after a function error (Lambda's `MaximumRetryAttempts`: 2, at most 2).
    pub max_retries: u32,
    /// Events older than this are dropped without running (Lambda's
    /// `MaximumEventAgeInSeconds`: 6 hours).
    pub max_event_age: Duration,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        AsyncConfig {
            retry_delay: Duration::from_secs(60),
            max_retries: 2,
            max_event_age: Duration::from_secs(6 * 3600),
        }
    }
}

/// How one attempt to run an event went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The function answered.
    Succeeded,
    /// The function failed (an exception, a timeout, a crash).
    FunctionError,
    /// No environment was free after all (another invocation took it first).
    Throttled,
    /// cove failed to run it (an environment could not start).
    ServiceError,
}

/// The failures an event has met so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Attempts that ran the function.
    pub attempts: u32,
    /// Of those, how many ended in a function error.
    pub function_errors: u32,
    /// Attempts cove itself failed.
    pub service_errors: u32,
}

/// What becomes of an event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    /// It ran: nothing more to do.
    Done,
    /// Queue it again, to run no sooner than this from now.
    Retry(Duration),
    /// Every retry failed: it is discarded (Lambda would send it to a failure
    /// destination or dead-letter queue, which cove does not have yet).
    Discard,
}

/// The longest backoff after failures of cove itself, in steps of 1/60 of the retry
/// delay (Lambda: five minutes, in steps of one second).
const MAX_SERVICE_BACKOFF_STEPS: u32 = 300;

/// Decides what follows an attempt, counting it in `tally` (pure).
pub fn after_attempt(config: &AsyncConfig, attempt: Attempt, tally: &mut Tally) -> AfterAttempt {
    match attempt {
        Attempt::Succeeded => {
            tally.attempts += 1;
            AfterAttempt::Done
        }
        Attempt::FunctionError => {
            tally.attempts += 1;
            tally.function_errors += 1;
            if tally.function_errors > config.max_retries {
                AfterAttempt::Discard
            } else {
                AfterAttempt::Retry(config.retry_delay * tally.function_errors)
            }
        }
        // Not an attempt: the event waits for the next free environment.
        Attempt::Throttled => AfterAttempt::Retry(Duration::ZERO),
        Attempt::ServiceError => {
            tally.service_errors += 1;
            let base = config.retry_delay / 60;
            let doubling = 1u32 << tally.service_errors.saturating_sub(1).min(16);
            AfterAttempt::Retry((base * doubling).min(base * MAX_SERVICE_BACKOFF_STEPS))
        }
    }
}

/// Whether an event of age `age` is too old to run (pure).
pub fn expired(config: &AsyncConfig, age: Duration) -> bool {
    age > config.max_event_age
}

/// One queued event.
#[derive(Debug)]
pub(crate) struct Event {
    /// Its request id: the 202's `x-amzn-RequestId`, the same in every attempt.
    pub(crate) request_id: String,
    /// The invocation.
    pub(crate) request: InvokeRequest,
    /// When Lambda's API accepted it.
    pub(crate) received: Instant,
    /// Not to run before this (a retry's wait).
    pub(crate) due: Instant,
    /// Its failures so far.
    pub(crate) tally: Tally,
}

/// The queue of one function.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    events: Mutex<VecDeque<Event>>,
    /// A new event, or a retry queued.
    changed: Notify,
    /// A task runs the queue.
    running: AtomicBool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Event>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event at the end.
    pub(crate) fn push(&self, event: Event) {
        self.lock().push_back(event);
        self.changed.notify_one();
    }

    /// Events still waiting.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The first event due at `now`, in arrival order; else when the next one is due.
    fn pop_due(&self, now: Instant) -> Result<Event, Option<Instant>> {
        let mut q = self.lock();
        match q.iter().position(|e| e.due <= now) {
            Some(i) => q.remove(i).ok_or(None),
            None => Err(q.iter().map(|e| e.due).min()),
        }
    }

    fn push_front(&self, event: Event) {
        self.lock().push_front(event);
    }

    fn drain(&self) -> Vec<Event> {
        self.lock().drain(..).collect()
    }
}

/// How often a queue that waits for an environment looks again even without a
/// notification (environments freed by another cove process send none).
const RECHECK: Duration = Duration::from_millis(500);

/// Starts the task that runs `name`'s queue, unless one runs.
pub(crate) fn ensure_running(shared: &Arc<Shared>, name: &str, queue: &Arc<Queue>) {
    if queue.running.swap(true, Ordering::AcqRel) {
        return;
    }
    let (weak, name, queue) = (Arc::downgrade(shared), name.to_owned(), Arc::clone(queue));
    tokio::spawn(run_queue(weak, name, queue));
}

/// Runs a function's queue until the scheduler or the function is gone.
async fn run_queue(weak: Weak<Shared>, name: String, queue: Arc<Queue>) {
    loop {
        let changed = queue.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        // Never hold the scheduler across a wait: it must be able to go away.
        let Some(shared) = weak.upgrade() else { return };
        let s = Scheduler::from_shared(shared);
        let config = s.async_config();
        let Some((f, freed)) = s.function_runtime(&name) else {
            for e in queue.drain() {
                s.event_log(
                    &name,
                    &format!(
                        "EVENT RequestId: {} dropped: the function is no longer served (deleted, or cove serve stopped)",
                        e.request_id
                    ),
                );
            }
            queue.running.store(false, Ordering::Release);
            return;
        };
        let freed = freed.notified_owned();
        tokio::pin!(freed);
        freed.as_mut().enable();
        let now = Instant::now();
        let event = match queue.pop_due(now) {
            Ok(e) => e,
            Err(next) => {
                drop((s, f));
                let wait = next.map_or(RECHECK * 120, |t| t.saturating_duration_since(now));
                tokio::select! {
                    () = changed => {}
                    () = tokio::time::sleep(wait) => {}
                }
                continue;
            }
        };
        let age = now.saturating_duration_since(event.received);
        if expired(&config, age) {
            s.event_log(
                &name,
                &format!(
                    "EVENT RequestId: {} dropped after {} attempt(s): its age {:.1} s exceeds the maximum event age of {:.1} s",
                    event.request_id,
                    event.tally.attempts,
                    age.as_secs_f64(),
                    config.max_event_age.as_secs_f64()
                ),
            );
            continue;
        }
        match s.try_place(&f) {
            Some(placement) => {
                let (s, queue) = (s.clone(), Arc::clone(&queue));
                tokio::spawn(async move {
                    run_event(&s, &f, placement, event, &queue, &config).await;
                });
            }
            None => {
                queue.push_front(event);
                drop((s, f));
                tokio::select! {
                    () = freed => {}
                    () = changed => {}
                    () = tokio::time::sleep(RECHECK) => {}
                }
            }
        }
    }
}

/// One attempt of `event` in the environment `placement` names; queues a retry or
/// logs the end.
async fn run_event(
    s: &Scheduler,
    f: &Arc<crate::scheduler::FunctionRuntime>,
    placement: cove_functions::pool::Placement,
    mut event: Event,
    queue: &Queue,
    config: &AsyncConfig,
) {
    let mut request = event.request.clone();
    request.request_id = Some(event.request_id.clone());
    let result = s.place(f, Some(placement), request, Instant::now()).await;
    let (attempt, error) = match &result {
        Ok(r) if r.function_error.is_none() => (Attempt::Succeeded, String::new()),
        Ok(r) => (
            Attempt::FunctionError,
            r.error_type.clone().unwrap_or_default(),
        ),
        Err(crate::InvokeError::Throttled { .. }) => (Attempt::Throttled, String::new()),
        Err(e) => (Attempt::ServiceError, e.to_string()),
    };
    let name = &f.config.key();
    match after_attempt(config, attempt, &mut event.tally) {
        AfterAttempt::Done => {}
        AfterAttempt::Retry(wait) => {
            if attempt != Attempt::Throttled {
                s.event_log(
                    name,
                    &format!(
                        "EVENT RequestId: {} attempt {} failed ({error}); retrying in {:.1} s",
                        event.request_id,
                        event.tally.attempts + event.tally.service_errors,
                        wait.as_secs_f64()
                    ),
                );
            }
            event.due = Instant::now() + wait;
            queue.push(event);
        }
        AfterAttempt::Discard => s.event_log(
            name,
            &format!(
                "EVENT RequestId: {} discarded after {} attempts: the function failed each time (last error {error})",
                event.request_id, event.tally.attempts
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_errors_are_retried_twice_after_one_then_two_delays() {
        let c = AsyncConfig::default();
        let mut t = Tally::default();
        assert_eq!(
            after_attempt(&c, Attempt::FunctionError, &mut t),
            AfterAttempt::Retry(Duration::from_secs(60))
        );
        assert_eq!(
            after_attempt(&c, Attempt::FunctionError, &mut t),
            AfterAttempt::Retry(Duration::from_secs(120))
        );
        assert_eq!(
            after_attempt(&c, Attempt::FunctionError, &mut t),
            AfterAttempt::Discard
        );
        assert_eq!(t.attempts, 3);
    }

    #[test]
    fn no_retries_when_configured_so_and_success_ends_it() {
        let c = AsyncConfig {
            max_retries: 0,
            ..AsyncConfig::default()
        };
        let mut t = Tally::default();
        assert_eq!(
            after_attempt(&c, Attempt::FunctionError, &mut t),
            AfterAttempt::Discard
        );
        let mut t = Tally::default();
        assert_eq!(
            after_attempt(&c, Attempt::Succeeded, &mut t),
            AfterAttempt::Done
        );
    }

    #[test]
    fn throttling_is_not_an_attempt_and_service_errors_back_off_to_a_cap() {
        let c = AsyncConfig::default();
        let mut t = Tally::default();
        for _ in 0..5 {
            assert_eq!(
                after_attempt(&c, Attempt::Throttled, &mut t),
                AfterAttempt::Retry(Duration::ZERO)
            );
        }
        assert_eq!(t, Tally::default());
        let waits: Vec<_> = (0..12)
            .map(|_| match after_attempt(&c, Attempt::ServiceError, &mut t) {
                AfterAttempt::Retry(d) => d.as_secs(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(waits[..4], [1, 2, 4, 8]);
        assert_eq!(*waits.last().expect("some"), 300);
        assert_eq!(t.attempts, 0);
    }

    #[test]
    fn events_older_than_the_maximum_age_expire() {
        let c = AsyncConfig::default();
        assert!(!expired(&c, Duration::from_secs(6 * 3600)));
        assert!(expired(&c, Duration::from_secs(6 * 3600 + 1)));
    }
}
