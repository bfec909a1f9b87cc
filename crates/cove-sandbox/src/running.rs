//! A launched environment: its main process, how it ended, and killing and removing
//! all of it.
//!
//! A small thread per environment waits for the main process (blocked in `waitpid`,
//! 64 KiB of stack) and then records the [`Exit`]; [`Running::wait`] blocks on that
//! record and [`Running::exited`] is a future of it, so an async caller waits without
//! blocking a worker and without depending on any particular runtime.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::{Child, ChildStderr, ChildStdout, ExitStatus};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use crate::cgroup::Controller;
use crate::cgroup::detect::CgroupVersion;
use crate::cgroup::layout::EnvLayout;
use crate::cgroup::ops;
use crate::error::SandboxError;
use crate::limits::Limits;

/// How long a kill may take before it is reported as stuck.
pub(crate) const KILL_DEADLINE: Duration = Duration::from_secs(10);

/// How the environment's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// OOM kills in the environment's memory cgroup (any of its processes); `None`
    /// when the host has no memory controller.
    pub oom_kills: Option<u64>,
    /// Whether the memory limit killed a process of the environment (on cgroup v2
    /// with `memory.oom.group` it kills the whole environment, as Lambda does).
    pub oom_killed: bool,
}

impl Exit {
    fn new(status: ExitStatus, oom_kills: Option<u64>) -> Exit {
        use std::os::unix::process::ExitStatusExt as _;
        Exit {
            code: status.code(),
            signal: status.signal(),
            oom_kills,
            oom_killed: oom_kills.is_some_and(|n| n > 0),
        }
    }

    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// What a launch did and measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchReport {
    /// The host's cgroup version.
    pub cgroup_version: CgroupVersion,
    /// Limit controllers the host does not offer: those limits are not enforced.
    pub missing: Vec<Controller>,
    /// The limits written.
    pub limits: Limits,
    /// From the start of [`crate::Sandbox::launch`] to the runtime's `execve`.
    pub launch_to_exec: Duration,
    /// Where that time went.
    pub phases: LaunchPhases,
}

/// The parts of [`LaunchReport::launch_to_exec`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaunchPhases {
    /// Validation, planning, creating the cgroups and writing their limits.
    pub cgroups: Duration,
    /// Starting the init in the namespace (until its `execve`).
    pub spawn: Duration,
    /// Sending its instructions and moving it into the cgroups (it sets up
    /// meanwhile).
    pub join: Duration,
    /// The rest of the init's work until the runtime's `execve` (mounts, limits,
    /// privileges).
    pub setup: Duration,
}

type Outcome = Result<Exit, Arc<io::Error>>;

/// The exit record, filled once by the waiting thread.
#[derive(Default)]
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
}

#[derive(Default)]
struct SlotState {
    outcome: Option<Outcome>,
    wakers: Vec<Waker>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn complete(&self, outcome: Outcome) {
        let wakers = {
            let mut s = self.lock();
            s.outcome = Some(outcome);
            std::mem::take(&mut s.wakers)
        };
        self.done.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    fn wait(&self, timeout: Option<Duration>) -> Option<Outcome> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut s = self.lock();
        loop {
            if let Some(o) = &s.outcome {
                return Some(o.clone());
            }
            s = match deadline {
                None => self.done.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.checked_duration_since(Instant::now())?;
                    self.done
                        .wait_timeout(s, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

fn to_result(id: &str, outcome: Outcome) -> Result<Exit, SandboxError> {
    outcome.map_err(|source| SandboxError::Wait {
        id: id.to_owned(),
        source,
    })
}

/// A future that completes when the environment's main process has ended (see
/// [`Running::exited`]).
pub struct Exited {
    id: String,
    slot: Arc<Slot>,
}

impl Future for Exited {
    type Output = Result<Exit, SandboxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock();
        match &s.outcome {
            Some(o) => Poll::Ready(to_result(&self.id, o.clone())),
            None => {
                if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    s.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// A running environment. Dropping it cleans it up ([`Running::cleanup`]): nothing
/// of it outlives this value unless cove itself dies, and then
/// [`crate::Sandbox::reap_stale`] removes it.
pub struct Running {
    id: String,
    pid: u32,
    layout: Arc<EnvLayout>,
    slot: Arc<Slot>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    report: LaunchReport,
    cleaned: Mutex<bool>,
}

impl Running {
    /// Starts the waiting thread for `child` (already in the environment's cgroup).
    pub(crate) fn start(
        id: &str,
        mut child: Child,
        layout: EnvLayout,
        report: LaunchReport,
    ) -> Result<Running, SandboxError> {
        let layout = Arc::new(layout);
        let slot = Arc::new(Slot::default());
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let pid = child.id();
        let (l, s) = (Arc::clone(&layout), Arc::clone(&slot));
        // The child moves into the thread; if the thread cannot start, give it back.
        let handoff = Arc::new(Mutex::new(Some(child)));
        let theirs = Arc::clone(&handoff);
        let spawned = thread::Builder::new()
            .name(format!("env-wait-{id}"))
            .stack_size(64 * 1024)
            .spawn(move || {
                let taken = theirs.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(mut child) = taken {
                    let outcome = child
                        .wait()
                        .map(|st| Exit::new(st, ops::oom_kills(&l)))
                        .map_err(Arc::new);
                    s.complete(outcome);
                }
            });
        if let Err(source) = spawned {
            // The thread never ran, so the child is still here: end the environment.
            if let Some(mut child) = handoff.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = ops::kill_all(id, &layout, Instant::now() + KILL_DEADLINE);
                let _ = child.kill();
                let _ = child.wait();
            }
            return Err(SandboxError::Thread {
                what: "exit-waiting",
                source,
            });
        }
        Ok(Running {
            id: id.to_owned(),
            pid,
            layout,
            slot,
            stdout,
            stderr,
            report,
            cleaned: Mutex::new(false),
        })
    }

    /// The environment's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The main process's pid: the init's first stage, which waits for the rest and
    /// ends the way the runtime ends (the runtime itself runs in the environment's
    /// own PID namespace).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// What the launch did and measured.
    pub fn report(&self) -> &LaunchReport {
        &self.report
    }

    /// The runtime's standard output, if the launch asked for a pipe.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// The runtime's standard error, if the launch asked for a pipe.
    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.stderr.take()
    }

    /// The pids of every process in the environment now.
    pub fn processes(&self) -> Result<Vec<i32>, SandboxError> {
        ops::members(&self.layout)
    }

    /// The environment's cgroup directories (one per hierarchy).
    pub fn cgroup_dirs(&self) -> &[std::path::PathBuf] {
        &self.layout.dirs
    }

    /// Blocks until the main process has ended.
    pub fn wait(&self) -> Result<Exit, SandboxError> {
        match self.slot.wait(None) {
            Some(o) => to_result(&self.id, o),
            None => Err(SandboxError::ExitTimeout {
                id: self.id.clone(),
            }),
        }
    }

    /// Blocks until the main process has ended or `timeout` has passed (`None`).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<Exit, SandboxError>> {
        self.slot
            .wait(Some(timeout))
            .map(|o| to_result(&self.id, o))
    }

    /// How the main process ended, if it has.
    pub fn try_wait(&self) -> Option<Result<Exit, SandboxError>> {
        self.slot
            .lock()
            .outcome
            .clone()
            .map(|o| to_result(&self.id, o))
    }

    /// A future of the main process's end, for async callers (any executor; it is
    /// woken by the waiting thread). May be awaited from several places.
    pub fn exited(&self) -> Exited {
        Exited {
            id: self.id.clone(),
            slot: Arc::clone(&self.slot),
        }
    }

    /// Changes the environment's CPU share to `millicpus` thousandths of a CPU (the
    /// period stays), e.g. to give a runtime a whole CPU while it starts and its
    /// memory's share afterwards. Returns `false` when the host has no CPU controller.
    pub fn set_cpu(&self, millicpus: u64) -> Result<bool, SandboxError> {
        let period = self.report.limits.cpu_period_us;
        let quota = (period.saturating_mul(millicpus) / 1000).max(crate::limits::MIN_QUOTA_US);
        let writes = self.layout.cpu_writes(quota, period);
        for w in &writes {
            ops::write(&w.file, &w.value).map_err(|source| SandboxError::WriteCgroup {
                path: w.file.clone(),
                value: w.value.clone(),
                source,
            })?;
        }
        Ok(!writes.is_empty())
    }

    /// Kills every process of the environment (children and grandchildren too) and
    /// returns once none is left. The environment's cgroup stays until
    /// [`Running::cleanup`].
    pub fn kill(&self) -> Result<(), SandboxError> {
        ops::kill_all(&self.id, &self.layout, Instant::now() + KILL_DEADLINE)
    }

    /// Kills everything, waits for the main process and removes the environment's
    /// cgroups. Idempotent: after a success, later calls do nothing.
    pub fn cleanup(&self) -> Result<(), SandboxError> {
        let mut cleaned = self.cleaned.lock().unwrap_or_else(|e| e.into_inner());
        if *cleaned {
            return Ok(());
        }
        let deadline = Instant::now() + KILL_DEADLINE;
        ops::kill_all(&self.id, &self.layout, deadline)?;
        let left = deadline.saturating_duration_since(Instant::now());
        if self.slot.wait(Some(left)).is_none() {
            return Err(SandboxError::ExitTimeout {
                id: self.id.clone(),
            });
        }
        ops::remove(&self.id, &self.layout, deadline)?;
        *cleaned = true;
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.cleanup();
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("id", &self.id)
            .field("pid", &self.pid)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn exit(code: i32) -> Exit {
        Exit {
            code: Some(code),
            signal: None,
            oom_kills: Some(0),
            oom_killed: false,
        }
    }

    #[test]
    fn future_is_woken_once_the_exit_is_recorded() {
        let slot = Arc::new(Slot::default());
        let mut fut = Exited {
            id: "e".into(),
            slot: Arc::clone(&slot),
        };
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        slot.complete(Ok(exit(3)));
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken once");
        match Pin::new(&mut fut).poll(&mut cx) {
            Poll::Ready(Ok(e)) => assert_eq!(e.code, Some(3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn blocking_wait_sees_a_completion_from_another_thread() {
        let slot = Arc::new(Slot::default());
        assert!(slot.wait(Some(Duration::from_millis(1))).is_none());
        let s = Arc::clone(&slot);
        let t = thread::spawn(move || s.complete(Ok(exit(0))));
        let got = slot.wait(None).expect("completed").expect("ok");
        assert!(got.success());
        t.join().expect("thread");
    }

    #[test]
    fn errors_reach_every_waiter() {
        let slot = Slot::default();
        slot.complete(Err(Arc::new(io::Error::other("gone"))));
        for _ in 0..2 {
            let r = to_result("e", slot.wait(None).expect("completed"));
            assert!(matches!(r, Err(SandboxError::Wait { .. })));
        }
    }

    #[test]
    fn exit_from_status() {
        use std::os::unix::process::ExitStatusExt as _;
        let killed = Exit::new(ExitStatus::from_raw(9), Some(1));
        assert_eq!(
            (killed.code, killed.signal, killed.oom_killed),
            (None, Some(9), true)
        );
        let ok = Exit::new(ExitStatus::from_raw(0), None);
        assert!(ok.success() && !ok.oom_killed);
        let code = Exit::new(ExitStatus::from_raw(2 << 8), Some(0));
        assert_eq!(code.code, Some(2));
    }
}
