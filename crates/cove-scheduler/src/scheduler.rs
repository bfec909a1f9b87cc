//! The scheduler: places invocations with the pure pool, runs them in environments,
//! and ends environments that time out, crash, or idle too long.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cove_functions::config::FunctionConfig;
use cove_functions::pool::{EnvId, Finish, Placement, Pool};
use cove_host::Host;
use cove_runtime_api::{Invocation, InvokeOutcome, payloads};
use cove_sandbox::Sandbox;

use crate::environment::{self, Env, Started};
use crate::error::{InvokeError, SchedulerError};
use crate::events::{self, AsyncConfig, Event, Queue};

/// How much of an invocation's log `X-Amz-Log-Type: Tail` returns (Lambda's 4 KB).
pub const LOG_TAIL_BYTES: u64 = 4096;

/// Lambda's limit on a synchronous invocation's payload (6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Lambda's limit on an asynchronous invocation's payload (1 MB).
pub const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;

/// How the scheduler runs environments.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The deployment's prefix (slots are `<prefix>-v-…` environment namespaces).
    pub prefix: String,
    /// Where the runtime clients are installed (mounted at `/opt`).
    pub runtime_dir: PathBuf,
    /// Where slot locks live (shared by every cove process of the prefix).
    pub lock_dir: crate::SlotLocks,
    /// Where each environment's output goes ([`crate::LogDir`]); none: discarded.
    pub log_dir: Option<crate::LogDir>,
    /// The cgroup directory of the environments (`cove-<prefix>`).
    pub cgroup_root: cove_sandbox::CgroupRoot,
    /// The environment init program (see [`cove_sandbox::InitProgram`]).
    pub init: cove_sandbox::InitProgram,
    /// Idle environments older than this are reaped.
    pub idle_timeout: Duration,
    /// `AWS_REGION` of the functions.
    pub region: String,
    /// The prefix's lock file (`<state>/<prefix>/lock`), held shared while an
    /// environment starts so that `cove apply`/`destroy` never run meanwhile; none:
    /// no lock.
    pub prefix_lock: Option<PathBuf>,
    /// How long a cold start waits for the prefix lock.
    pub lock_wait: Duration,
    /// The functions' credentials, by tenant; none: no credentials.
    pub credentials: Option<crate::CredentialSource>,
}

/// An invocation as the caller gives it.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    /// The event (JSON).
    pub payload: Bytes,
    /// The client context JSON the runtime receives (`Lambda-Runtime-Client-Context`),
    /// decoded from the invoker's base64 `X-Amz-Client-Context`.
    pub client_context: Option<String>,
    /// X-Ray trace header.
    pub trace_id: Option<String>,
    /// Return the end of the invocation's log (`X-Amz-Log-Type: Tail`).
    pub log_tail: bool,
    /// The request id to run it under (an asynchronous event keeps one through its
    /// retries); none: a new one.
    pub request_id: Option<String>,
}

/// What the function answered.
#[derive(Debug, Clone)]
pub struct InvokeResult {
    /// The response, or the error document when `function_error` is set.
    pub payload: Bytes,
    /// `Unhandled` when the function failed (Lambda's `X-Amz-Function-Error`).
    pub function_error: Option<String>,
    /// The error type when the function failed (`Runtime.ExitError`, …).
    pub error_type: Option<String>,
    /// Whether this invocation started its environment.
    pub cold_start: bool,
    /// The request id.
    pub request_id: String,
    /// The environment it ran in.
    pub environment: EnvId,
    /// Time from the call to the answer.
    pub duration: Duration,
    /// The last 4 KB of the invocation's log, when asked for (`X-Amz-Log-Result`).
    pub log_tail: Option<Vec<u8>>,
}

/// What environments share.
pub(crate) struct Shared {
    pub(crate) config: SchedulerConfig,
    pub(crate) host: Host,
    pub(crate) sandbox: Sandbox,
    pub(crate) instance_seed: u128,
    uids: AtomicU32,
    requests: AtomicU64,
    pub(crate) functions: Mutex<HashMap<String, Arc<FunctionRuntime>>>,
    epoch: Instant,
    async_config: Mutex<AsyncConfig>,
    /// The asynchronous events of each function, by name.
    queues: Mutex<HashMap<String, Arc<Queue>>>,
    /// How long and how much of each function's logs are kept.
    pub(crate) retention: Mutex<crate::retention::LogRetention>,
    /// Where invocations are counted (`cove serve`'s `/metrics`), once set.
    pub(crate) metrics: std::sync::OnceLock<Arc<cove_metrics::Metrics>>,
    /// Where each slot's invocations are recorded (flow logs' invocation ids),
    /// once set.
    invocations: std::sync::OnceLock<Arc<crate::invocations::InvocationLog>>,
}

impl Shared {
    /// A user id for a new environment, from a range no system account uses.
    pub(crate) fn next_uid(&self) -> u32 {
        200_000 + self.uids.fetch_add(1, Ordering::Relaxed) % 100_000
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// One function's configuration, pool and live environments.
pub(crate) struct FunctionRuntime {
    pub(crate) config: Arc<FunctionConfig>,
    state: Mutex<FnState>,
    /// Replaced by a new configuration (or removed): environments that finish an
    /// invocation end instead of waiting for the next one.
    retired: std::sync::atomic::AtomicBool,
    /// Notified whenever an environment is handed back (queued events wait on it).
    freed: Arc<tokio::sync::Notify>,
}

pub(crate) struct FnState {
    pub(crate) pool: Pool,
    pub(crate) envs: HashMap<usize, Arc<Env>>,
}

impl FunctionRuntime {
    pub(crate) fn lock(&self) -> MutexGuard<'_, FnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs invocations of a set of functions. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("prefix", &self.shared.config.prefix)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler for `functions`. First removes what a previous cove process of
    /// this prefix left behind (environments whose process is gone). Must be called
    /// inside a tokio runtime (it starts the reaper).
    pub fn new(
        config: SchedulerConfig,
        functions: Vec<FunctionConfig>,
    ) -> Result<Scheduler, SchedulerError> {
        let host = Host::new(&config.prefix).map_err(|source| SchedulerError::Prefix {
            prefix: config.prefix.clone(),
            source: Box::new(source),
        })?;
        let sandbox_cfg =
            cove_sandbox::SandboxConfig::new(config.cgroup_root.clone(), config.init.clone());
        let sandbox = Sandbox::new(host.clone(), sandbox_cfg).map_err(|source| {
            SchedulerError::SandboxSetup {
                source: Box::new(source),
            }
        })?;
        // Environments of cove processes that died (kill -9): their owner pid is gone.
        sandbox
            .reap_stale(owner_alive)
            .map_err(|source| SchedulerError::SandboxSetup {
                source: Box::new(source),
            })?;
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            ^ (u128::from(std::process::id()) << 64);
        let shared = Arc::new(Shared {
            config,
            host,
            sandbox,
            instance_seed: seed,
            uids: AtomicU32::new(u32::try_from(seed % 100_000).unwrap_or(0)),
            requests: AtomicU64::new(0),
            functions: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            async_config: Mutex::new(AsyncConfig::default()),
            queues: Mutex::new(HashMap::new()),
            metrics: std::sync::OnceLock::new(),
            invocations: std::sync::OnceLock::new(),
            retention: Mutex::new(crate::retention::LogRetention::default()),
        });
        let scheduler = Scheduler { shared };
        scheduler.set_functions(functions);
        let weak = Arc::downgrade(&scheduler.shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut ticks = 0u64;
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                let s = Scheduler { shared };
                s.reap_idle();
                if ticks.is_multiple_of(crate::retention::PRUNE_EVERY_S) {
                    s.prune_logs();
                }
                ticks += 1;
            }
        });
        Ok(scheduler)
    }

    /// Replaces the set of functions. A function whose configuration changed gets a
    /// new pool: its idle environments end; busy ones end after their invocation.
    pub fn set_functions(&self, functions: Vec<FunctionConfig>) {
        let mut map = self
            .shared
            .functions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut next = HashMap::new();
        for f in functions {
            let key = f.key();
            match map.remove(&key) {
                Some(existing) if *existing.config == f => {
                    next.insert(key, existing);
                }
                old => {
                    if let Some(old) = old {
                        self.retire(&old);
                    }
                    let slots = f.slots.len();
                    next.insert(
                        key,
                        Arc::new(FunctionRuntime {
                            config: Arc::new(f),
                            state: Mutex::new(FnState {
                                pool: Pool::new(slots),
                                envs: HashMap::new(),
                            }),
                            retired: std::sync::atomic::AtomicBool::new(false),
                            freed: Arc::new(tokio::sync::Notify::new()),
                        }),
                    );
                }
            }
        }
        for (_, gone) in map.drain() {
            self.retire(&gone);
        }
        *map = next;
    }

    /// The functions it runs.
    pub fn functions(&self) -> Vec<Arc<FunctionConfig>> {
        let map = self
            .shared
            .functions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = map.values().map(|f| Arc::clone(&f.config)).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Ends every environment (busy ones are killed too) and waits for them.
    pub async fn shutdown(&self) {
        let fns: Vec<_> = {
            let mut map = self
                .shared
                .functions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            map.drain().map(|(_, f)| f).collect()
        };
        let mut ends = Vec::new();
        for f in fns {
            let envs: Vec<_> = f.lock().envs.drain().map(|(_, e)| e).collect();
            for env in envs {
                ends.push(self.end_env(env));
            }
        }
        for e in ends {
            let _ = e.await;
        }
    }

    /// Invokes function `name` synchronously. `name` is `tenant/function` (the
    /// function's [`FunctionConfig::key`]), or a function name that one tenant alone
    /// uses (the operator's Invoke API and `cove fn invoke`).
    pub async fn invoke(
        &self,
        name: &str,
        req: InvokeRequest,
    ) -> Result<InvokeResult, InvokeError> {
        let t0 = Instant::now();
        let f = self.function(name)?;
        check_payload(&req.payload, MAX_PAYLOAD_BYTES)?;
        // Its own task: a caller that stops waiting (a client that disconnects)
        // does not cancel the invocation half-way, which would leave its
        // environment busy for good; it runs to its end, as Lambda's does.
        let me = self.clone();
        tokio::spawn(async move { me.place(&f, None, req, t0).await })
            .await
            .map_err(|source| InvokeError::Service {
                source: SchedulerError::Task { source },
            })?
    }

    /// Queues an asynchronous invocation of `name` (`Event`): it runs when an
    /// environment is free, with Lambda's retries (see [`crate::events`]). Returns its
    /// request id. The payload is checked now: too large or not JSON is refused.
    pub fn invoke_async(&self, name: &str, req: InvokeRequest) -> Result<String, InvokeError> {
        let key = self.function(name)?.config.key();
        let name = key.as_str();
        check_payload(&req.payload, MAX_ASYNC_PAYLOAD_BYTES)?;
        let request_id = req.request_id.clone().unwrap_or_else(|| self.request_id());
        let queue = {
            let mut queues = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(queues.entry(name.to_owned()).or_default())
        };
        let now = Instant::now();
        queue.push(Event {
            request_id: request_id.clone(),
            request: req,
            received: now,
            due: now,
            tally: events::Tally::default(),
        });
        events::ensure_running(&self.shared, name, &queue);
        Ok(request_id)
    }

    /// Records every invocation's start and end by slot in `log` from now on
    /// (the first log set stays).
    pub fn set_invocation_log(&self, log: Arc<crate::invocations::InvocationLog>) {
        let _ = self.shared.invocations.set(log);
    }

    /// How asynchronous invocations are retried and aged from now on.
    pub fn set_async_config(&self, config: AsyncConfig) {
        *self
            .shared
            .async_config
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// How asynchronous invocations are retried and aged.
    pub fn async_config(&self) -> AsyncConfig {
        *self
            .shared
            .async_config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Asynchronous events of `name` waiting to run (retries included).
    pub fn queued_events(&self, name: &str) -> usize {
        let Ok(f) = self.function(name) else {
            return 0;
        };
        let queues = self.shared.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues.get(&f.config.key()).map_or(0, |q| q.len())
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Scheduler {
        Scheduler { shared }
    }

    /// The function's runtime and the notification of its freed environments.
    pub(crate) fn function_runtime(
        &self,
        name: &str,
    ) -> Option<(Arc<FunctionRuntime>, Arc<tokio::sync::Notify>)> {
        let f = self.function(name).ok()?;
        let freed = Arc::clone(&f.freed);
        Some((f, freed))
    }

    /// A placement for one invocation of `f`, unless every environment is busy.
    pub(crate) fn try_place(&self, f: &FunctionRuntime) -> Option<Placement> {
        match f.lock().pool.acquire() {
            Placement::Throttled => None,
            p => Some(p),
        }
    }

    /// Appends a line to the asynchronous-events log of the function `key`
    /// (`tenant/function`), if logs are kept.
    pub(crate) fn event_log(&self, key: &str, line: &str) {
        use std::io::Write;
        let Some(dir) = &self.shared.config.log_dir else {
            return;
        };
        let Some((tenant, function)) = key.split_once('/') else {
            return;
        };
        let Some(path) = dir.async_events_log(tenant, function) else {
            return;
        };
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = writeln!(f, "{line}");
        }
    }

    /// Runs an invocation of `f`: in the environment `first` names, else wherever the
    /// pool places it (warm, cold, or throttled); counts it in the metrics.
    pub(crate) async fn place(
        &self,
        f: &Arc<FunctionRuntime>,
        first: Option<Placement>,
        req: InvokeRequest,
        t0: Instant,
    ) -> Result<InvokeResult, InvokeError> {
        let result = self.place_uncounted(f, first, req, t0).await;
        self.count(f, &result);
        result
    }

    async fn place_uncounted(
        &self,
        f: &Arc<FunctionRuntime>,
        mut first: Option<Placement>,
        req: InvokeRequest,
        t0: Instant,
    ) -> Result<InvokeResult, InvokeError> {
        let name = f.config.name.as_str();
        loop {
            let placement = first.take().unwrap_or_else(|| f.lock().pool.acquire());
            match placement {
                Placement::Throttled => {
                    return Err(InvokeError::Throttled {
                        function: name.to_owned(),
                        concurrency: f.config.slots.len(),
                    });
                }
                Placement::Warm { slot, .. } => {
                    let env = f.lock().envs.get(&slot).cloned();
                    let Some(env) = env else {
                        self.finish(f, slot, Finish::Destroyed);
                        continue;
                    };
                    if env.running.try_wait().is_some() {
                        // Died while idle: replace it, then place the invocation again.
                        self.destroy(f, slot, env);
                        continue;
                    }
                    return Ok(self.run(f, env, req, false, t0).await);
                }
                Placement::Cold { slot, env: id } => {
                    match environment::start(&self.shared, &f.config, slot, id).await {
                        Ok(Started::Ready(env)) => {
                            let env = Arc::new(env);
                            {
                                let mut st = f.lock();
                                st.envs.insert(slot, Arc::clone(&env));
                                st.pool
                                    .started(slot)
                                    .map_err(|source| InvokeError::Service {
                                        source: SchedulerError::Pool { source },
                                    })?;
                            }
                            return Ok(self.run(f, env, req, true, t0).await);
                        }
                        Ok(Started::InitFailed {
                            env,
                            error_type,
                            body,
                        }) => {
                            let id = env.id;
                            self.destroy(f, slot, Arc::new(env));
                            return Ok(InvokeResult {
                                payload: body,
                                function_error: Some("Unhandled".to_owned()),
                                error_type: Some(error_type),
                                cold_start: true,
                                request_id: req.request_id.unwrap_or_else(|| self.request_id()),
                                environment: id,
                                duration: t0.elapsed(),
                                log_tail: None,
                            });
                        }
                        Ok(Started::Taken) => {
                            let _ = f.lock().pool.slot_taken(slot);
                            continue;
                        }
                        Err(source) => {
                            self.finish(f, slot, Finish::Destroyed);
                            return Err(match source {
                                SchedulerError::Busy { .. } => InvokeError::Conflict { source },
                                source => InvokeError::Service { source },
                            });
                        }
                    }
                }
            }
        }
    }

    fn function(&self, name: &str) -> Result<Arc<FunctionRuntime>, InvokeError> {
        let map = self
            .shared
            .functions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let found = if name.contains('/') {
            map.get(name).cloned()
        } else {
            // A bare name: the one function of that name, if one tenant alone has it.
            let mut named = map.values().filter(|f| f.config.name == name);
            match (named.next(), named.next()) {
                (Some(f), None) => Some(Arc::clone(f)),
                _ => None,
            }
        };
        found.ok_or_else(|| InvokeError::NotFound {
            arn: format!(
                "arn:aws:lambda:{}:{}:function:{}",
                self.shared.config.region,
                cove_functions::config::DEFAULT_ACCOUNT,
                name.rsplit('/').next().unwrap_or(name)
            ),
        })
    }

    fn request_id(&self) -> String {
        let n = self.shared.requests.fetch_add(1, Ordering::Relaxed);
        let x = self.shared.instance_seed ^ (u128::from(n) << 17) ^ u128::from(n);
        let h = format!(
            "{:032x}",
            x.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        );
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// Runs one invocation in `env`, racing the runtime's answer against its exit and
    /// the function's timeout.
    async fn run(
        &self,
        f: &Arc<FunctionRuntime>,
        env: Arc<Env>,
        req: InvokeRequest,
        cold_start: bool,
        t0: Instant,
    ) -> InvokeResult {
        let request_id = req.request_id.unwrap_or_else(|| self.request_id());
        let timeout = Duration::from_secs(u64::from(f.config.timeout_s));
        let deadline_ms = SystemTime::now()
            .checked_add(timeout)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: req.payload,
            deadline_ms,
            invoked_function_arn: f.config.arn.clone(),
            trace_id: req.trace_id,
            client_context: req.client_context,
            cognito_identity: None,
        };
        let slot = env.slot;
        let recorded = self.shared.invocations.get().zip(f.config.slots.get(slot));
        if let Some((log, ns)) = recorded {
            log.started(ns, &request_id, crate::invocations::unix_ms());
        }
        // Platform log lines only where logs are kept (none in benchmarks).
        let logging = env.log.is_some();
        let log_start = logging
            .then(|| env.log_line(&format!("START RequestId: {request_id} Version: $LATEST")))
            .flatten();
        let started = Instant::now();
        let exited = env.running.exited();
        // (answer, error type, whether the environment can be reused)
        let (payload, error_type, reusable) = tokio::select! {
            outcome = env.api.invoke(invocation) => match outcome {
                Ok(InvokeOutcome::Response { body, .. }) => (body, None, true),
                Ok(InvokeOutcome::FunctionError { error_type, body }) => (body, Some(error_type), true),
                Err(e) => {
                    let body = payloads::exit_error(Some(&request_id), cove_runtime_api::ExitStatus::Code(-1));
                    (body, Some(format!("{}: {e}", payloads::RUNTIME_EXIT_ERROR)), false)
                }
            },
            exit = exited => {
                let exit = exit.ok();
                let status = exit.as_ref().map_or(cove_runtime_api::ExitStatus::Code(-1), environment::exit_status);
                if exit.as_ref().is_some_and(|e| e.oom_killed) {
                    (payloads::out_of_memory_error(&request_id, status), Some(payloads::RUNTIME_OUT_OF_MEMORY.to_owned()), false)
                } else {
                    (payloads::exit_error(Some(&request_id), status), Some(payloads::RUNTIME_EXIT_ERROR.to_owned()), false)
                }
            }
            () = tokio::time::sleep(timeout) => {
                env.log_line(&payloads::timeout_log_line(&request_id, timeout, SystemTime::now()));
                (payloads::timeout_error(&request_id, timeout), Some(payloads::SANDBOX_TIMEDOUT.to_owned()), false)
            }
        };
        if let Some((log, ns)) = recorded {
            log.ended(ns, &request_id, crate::invocations::unix_ms());
        }
        if logging {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let used = env
                .max_memory_used_mb()
                .map_or_else(String::new, |mb| format!("\tMax Memory Used: {mb} MB"));
            // Lambda reports the initialization on a cold start's line only.
            let init = if cold_start {
                format!(
                    "\tInit Duration: {:.2} ms",
                    env.init_duration.as_secs_f64() * 1000.0
                )
            } else {
                String::new()
            };
            env.log_line(&format!(
                "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB{used}{init}",
                ms.ceil(),
                f.config.memory_mb
            ));
        }
        let log_tail = match (req.log_tail, log_start) {
            (true, Some(from)) => env.log_since(from, LOG_TAIL_BYTES),
            _ => None,
        };
        if reusable {
            self.release(f, slot, &env);
        } else {
            self.destroy(f, slot, Arc::clone(&env));
        }
        InvokeResult {
            payload,
            function_error: error_type.as_ref().map(|_| "Unhandled".to_owned()),
            error_type,
            cold_start,
            request_id,
            environment: env.id,
            duration: t0.elapsed(),
            log_tail,
        }
    }

    /// An invocation ended well: the environment waits for the next one, unless its
    /// function was reconfigured meanwhile.
    fn release(&self, f: &Arc<FunctionRuntime>, slot: usize, env: &Arc<Env>) {
        if f.retired.load(Ordering::Acquire) {
            self.destroy(f, slot, Arc::clone(env));
        } else {
            self.finish(f, slot, Finish::Reusable);
        }
    }

    fn finish(&self, f: &FunctionRuntime, slot: usize, how: Finish) {
        let now = self.shared.now_ms();
        let mut st = f.lock();
        if how == Finish::Destroyed {
            st.envs.remove(&slot);
        }
        // A refused transition means the slot was already handed back (retired).
        let _ = st.pool.finish(slot, how, now);
        drop(st);
        f.freed.notify_waiters();
    }

    /// Ends `env` in the background; its slot becomes free once it is gone.
    fn destroy(&self, f: &Arc<FunctionRuntime>, slot: usize, env: Arc<Env>) {
        f.lock().envs.remove(&slot);
        let this = self.clone();
        let f = Arc::clone(f);
        let end = self.end_env(env);
        tokio::spawn(async move {
            let _ = end.await;
            this.finish(&f, slot, Finish::Destroyed);
        });
    }

    /// Kills an environment's processes, removes its cgroup and releases its slot.
    fn end_env(&self, env: Arc<Env>) -> tokio::task::JoinHandle<()> {
        env.api.shutdown();
        tokio::task::spawn_blocking(move || {
            let _ = env.running.cleanup();
            drop(env);
        })
    }

    /// Ends every idle environment of a function that is being replaced.
    fn retire(&self, f: &Arc<FunctionRuntime>) {
        f.retired.store(true, Ordering::Release);
        let idle = f.lock().pool.drain();
        for (slot, _) in idle {
            let env = f.lock().envs.remove(&slot);
            if let Some(env) = env {
                drop(self.end_env(env));
            }
        }
    }

    fn reap_idle(&self) {
        let idle_ms =
            u64::try_from(self.shared.config.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        let now = self.shared.now_ms();
        let fns: Vec<_> = {
            let map = self
                .shared
                .functions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            map.values().cloned().collect()
        };
        for f in fns {
            let reaped = {
                let mut st = f.lock();
                st.pool.free_foreign();
                let r = st.pool.reap(now, idle_ms);
                r.into_iter()
                    .filter_map(|(slot, _)| st.envs.remove(&slot))
                    .collect::<Vec<_>>()
            };
            for env in reaped {
                let (this, f, slot) = (self.clone(), Arc::clone(&f), env.slot);
                let end = self.end_env(env);
                tokio::spawn(async move {
                    let _ = end.await;
                    this.finish(&f, slot, Finish::Destroyed);
                });
            }
        }
    }
}

/// Refuses a payload over `limit` bytes (`RequestTooLargeException`) or one that is
/// not JSON (`InvalidRequestContentException`); an empty payload is allowed.
fn check_payload(payload: &[u8], limit: usize) -> Result<(), InvokeError> {
    if payload.len() > limit {
        return Err(InvokeError::PayloadTooLarge {
            size: payload.len(),
            limit,
        });
    }
    if !payload.is_empty() {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
            return Err(InvokeError::InvalidPayload {
                reason: e.to_string(),
            });
        }
    }
    Ok(())
}

/// Whether the cove process that launched environment `id` (`p<pid>-…`) still runs:
/// a live process with that pid running the same program as this one (so a pid
/// reused by an unrelated process does not keep a dead cove's environments alive).
fn owner_alive(id: &cove_sandbox::EnvId) -> bool {
    let comm = |p: &str| std::fs::read_to_string(format!("/proc/{p}/comm")).ok();
    match id.launcher_pid() {
        Some(p) if p == std::process::id() => true,
        Some(p) => comm(&p.to_string()).is_some_and(|c| Some(c) == comm("self")),
        None => false,
    }
}
