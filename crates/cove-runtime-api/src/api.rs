//! The scheduler's handle on one environment's endpoint (the I/O shell's state).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::{oneshot, watch};

use crate::error::{InitFailure, InvokeFailure, RuntimeApiError};
use crate::payloads::MAX_RESPONSE_BYTES;
use crate::server;
use crate::state::{InvokeStep, Machine, RuntimeState};
use crate::types::{FunctionInfo, Invocation, InvokeOutcome};

/// Where the runtime's init stands, for [`RuntimeApi::ready`].
#[derive(Debug, Clone)]
pub(crate) enum Lifecycle {
    /// No `next` and no init error yet.
    Starting,
    /// The runtime asked for its first invocation.
    Ready,
    /// The runtime posted an init error.
    InitFailed { error_type: String, body: Bytes },
    /// Shut down before either.
    Closed,
}

/// Who waits for what, next to the state machine (one lock for both).
pub(crate) struct Inner {
    pub(crate) machine: Machine,
    /// The scheduler's pending `invoke`.
    invoke_waiter: Option<(
        String,
        oneshot::Sender<Result<InvokeOutcome, InvokeFailure>>,
    )>,
    /// The runtime's pending `next` long-polls.
    next_waiters: Vec<oneshot::Sender<Invocation>>,
}

impl Inner {
    /// Hands `invocation` to every waiting `next`.
    pub(crate) fn deliver(&mut self, invocation: Invocation) {
        let waiters = std::mem::take(&mut self.next_waiters);
        let last = waiters.len().saturating_sub(1);
        let mut invocation = Some(invocation);
        for (i, waiter) in waiters.into_iter().enumerate() {
            let copy = if i == last {
                invocation.take()
            } else {
                invocation.clone()
            };
            // A waiter whose connection went away gets nothing; the runtime's next
            // `next` receives the same invocation again.
            if let Some(copy) = copy {
                let _ = waiter.send(copy);
            }
        }
    }

    /// Registers a `next` that waits for an invocation.
    pub(crate) fn wait_next(&mut self) -> oneshot::Receiver<Invocation> {
        self.next_waiters.retain(|w| !w.is_closed());
        let (tx, rx) = oneshot::channel();
        self.next_waiters.push(tx);
        rx
    }

    /// Ends the scheduler's wait for `request_id` with `outcome`.
    pub(crate) fn complete(&mut self, request_id: &str, outcome: InvokeOutcome) {
        if self
            .invoke_waiter
            .as_ref()
            .is_some_and(|(id, _)| id == request_id)
        {
            if let Some((_, tx)) = self.invoke_waiter.take() {
                let _ = tx.send(Ok(outcome));
            }
        }
    }
}

/// State shared by the handle and the server tasks.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    pub(crate) lifecycle: watch::Sender<Lifecycle>,
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) info: FunctionInfo,
    pub(crate) local_addr: SocketAddr,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops serving: fails the scheduler's pending invoke, drops waiting `next`s, ends
    /// the accept loop and every connection.
    pub(crate) fn shutdown(&self) {
        let waiter = {
            let mut inner = self.lock();
            inner.machine.shutdown();
            inner.next_waiters.clear();
            inner.invoke_waiter.take()
        };
        if let Some((_, tx)) = waiter {
            let _ = tx.send(Err(InvokeFailure::Shutdown));
        }
        self.lifecycle.send_if_modified(|l| {
            let starting = matches!(l, Lifecycle::Starting);
            if starting {
                *l = Lifecycle::Closed;
            }
            starting
        });
        self.stop.send_replace(true);
    }
}

/// Shuts the endpoint down when the last [`RuntimeApi`] clone goes away.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// One execution environment's Runtime API endpoint. Clones share the endpoint; it
/// stops when [`RuntimeApi::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct RuntimeApi {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("local_addr", &self.shared().local_addr)
            .field("function", &self.shared().info.function_name)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Starts serving on `listener` (a std listener, possibly opened in another network
    /// namespace; it is made non-blocking here) on the current tokio runtime.
    pub fn serve(
        listener: std::net::TcpListener,
        info: FunctionInfo,
    ) -> Result<RuntimeApi, RuntimeApiError> {
        let handle =
            tokio::runtime::Handle::try_current().map_err(|_| RuntimeApiError::NoRuntime)?;
        listener
            .set_nonblocking(true)
            .map_err(RuntimeApiError::NonBlocking)?;
        let local_addr = listener.local_addr().map_err(RuntimeApiError::LocalAddr)?;
        let listener = {
            let _entered = handle.enter();
            tokio::net::TcpListener::from_std(listener).map_err(RuntimeApiError::Register)?
        };
        let (lifecycle, _) = watch::channel(Lifecycle::Starting);
        let (stop, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                machine: Machine::new(MAX_RESPONSE_BYTES),
                invoke_waiter: None,
                next_waiters: Vec::new(),
            }),
            lifecycle,
            stop,
            info,
            local_addr,
        });
        handle.spawn(server::accept_loop(listener, Arc::clone(&shared), stop_rx));
        Ok(RuntimeApi {
            owner: Arc::new(Owner(shared)),
        })
    }

    fn shared(&self) -> &Shared {
        &self.owner.0
    }

    /// The address the endpoint listens on (what `AWS_LAMBDA_RUNTIME_API` names).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared().local_addr
    }

    /// The function this environment runs.
    pub fn function(&self) -> &FunctionInfo {
        &self.shared().info
    }

    /// The runtime's state (Lambda's names: `Started`, `Ready`, `Running`, …).
    pub fn runtime_state(&self) -> RuntimeState {
        self.shared().lock().machine.runtime_state()
    }

    /// The init error the runtime posted, if it did: `(error type, invoker's body)`.
    /// When the runtime then exits (Python's client exits at once), this — not a
    /// `Runtime.ExitError` — is what Lambda returns for the invoke.
    pub fn init_error(&self) -> Option<(String, Bytes)> {
        self.shared()
            .lock()
            .machine
            .init_error()
            .map(|(t, b)| (t.to_owned(), b.clone()))
    }

    /// Resolves once the runtime's first `next` arrives (init done: `Ok`) or it posts an
    /// init error (`Err` with the error's type and body); `Err(Shutdown)` if the endpoint
    /// stops first. Cancel-safe; may be called any number of times.
    pub async fn ready(&self) -> Result<(), InitFailure> {
        let mut rx = self.shared().lifecycle.subscribe();
        let Ok(state) = rx.wait_for(|l| !matches!(l, Lifecycle::Starting)).await else {
            return Err(InitFailure::Shutdown);
        };
        match &*state {
            Lifecycle::Ready => Ok(()),
            Lifecycle::InitFailed { error_type, body } => Err(InitFailure::InitError {
                error_type: error_type.clone(),
                body: body.clone(),
            }),
            Lifecycle::Closed | Lifecycle::Starting => Err(InitFailure::Shutdown),
        }
    }

    /// Queues one invocation and resolves when the runtime responds or errors. One
    /// invocation at a time per environment: a second concurrent call fails with
    /// [`InvokeFailure::Busy`]. After an init error every invoke returns that error.
    ///
    /// Cancel-safe: dropping the future (the scheduler's timeout) withdraws an
    /// invocation the runtime has not taken yet; one it has taken stays with it, its
    /// answer is accepted and dropped, and the environment is busy until then.
    pub async fn invoke(&self, mut invocation: Invocation) -> Result<InvokeOutcome, InvokeFailure> {
        let shared = self.shared();
        if invocation.invoked_function_arn.is_empty() {
            invocation
                .invoked_function_arn
                .clone_from(&shared.info.function_arn);
        }
        let request_id = invocation.request_id.clone();
        let rx = {
            let mut inner = shared.lock();
            match inner.machine.invoke(invocation)? {
                InvokeStep::InitFailed(outcome) => return Ok(outcome),
                InvokeStep::Deliver(invocation) => inner.deliver(invocation),
                InvokeStep::Queued => {}
            }
            let (tx, rx) = oneshot::channel();
            inner.invoke_waiter = Some((request_id.clone(), tx));
            rx
        };
        let mut guard = CancelOnDrop {
            shared,
            request_id: Some(request_id),
        };
        let result = rx.await;
        guard.request_id = None;
        result.unwrap_or(Err(InvokeFailure::Shutdown))
    }

    /// Stops serving: drops every connection and fails a pending invoke with
    /// [`InvokeFailure::Shutdown`]. Idempotent.
    pub fn shutdown(&self) {
        self.shared().shutdown();
    }
}

/// Withdraws or abandons an invocation whose `invoke` future was dropped.
struct CancelOnDrop<'a> {
    shared: &'a Shared,
    request_id: Option<String>,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(request_id) = self.request_id.take() {
            let mut inner = self.shared.lock();
            inner.machine.cancel(&request_id);
            if inner
                .invoke_waiter
                .as_ref()
                .is_some_and(|(id, _)| *id == request_id)
            {
                inner.invoke_waiter = None;
            }
        }
    }
}
