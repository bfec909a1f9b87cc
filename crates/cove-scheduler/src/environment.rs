//! One execution environment: a runtime launched in a network slot, its Runtime API
//! endpoint inside that slot, and the slot's lease.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cove_functions::config::FunctionConfig;
use cove_functions::pool::EnvId;
use cove_runtime_api::{ExitStatus, FunctionInfo, InitFailure, RuntimeApi, payloads};
use cove_sandbox::{EnvSpec, EnvStdio, Running};

use crate::error::SchedulerError;
use crate::lease::{LockMode, PrefixLock, SlotLease};
use crate::log::Log;
use crate::scheduler::{SchedulerConfig, Shared};

/// Where each environment's Runtime API listens, inside its own namespace (Lambda's
/// address).
pub(crate) const RUNTIME_API_ADDR: SocketAddr =
    SocketAddr::V4(std::net::SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9001));

/// CPU share (thousandths) of a runtime while it initializes.
const INIT_MILLICPUS: u64 = 1000;

/// The CPU share an environment runs with once initialized.
fn env_share(running: &Running) -> u64 {
    running.report().limits.millicpus()
}

/// Lambda's limit on a function's initialization.
pub(crate) const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A live environment.
#[derive(Debug)]
pub(crate) struct Env {
    /// Its id in the function's pool.
    pub(crate) id: EnvId,
    /// Its slot index.
    pub(crate) slot: usize,
    /// The Runtime API endpoint.
    pub(crate) api: RuntimeApi,
    /// The runtime's process tree.
    pub(crate) running: Running,
    /// The environment's log (its runtime's standard output and error, through
    /// pipes, and the platform's START/END/REPORT lines), if logs are kept.
    pub(crate) log: Option<Log>,
    /// The memory cgroup's high-water mark file (`memory.peak` or
    /// `memory.max_usage_in_bytes`), found once at start, for `REPORT` lines.
    memory_peak: Option<std::path::PathBuf>,
    /// From the runtime's start to its first `next` (a cold start's `Init Duration`).
    pub(crate) init_duration: Duration,
    /// The slot, held until the environment is gone.
    _lease: SlotLease,
}

/// How a cold start went.
pub(crate) enum Started {
    /// The runtime asked for its first invocation.
    Ready(Env),
    /// The runtime failed to initialize: the invoker gets `body` as a function error
    /// of type `error_type`; the environment must be destroyed.
    InitFailed {
        /// The environment to destroy.
        env: Env,
        /// Lambda's error type.
        error_type: String,
        /// The invoker's document.
        body: Bytes,
    },
    /// Another process holds the slot.
    Taken,
}

/// Starts environment `id` of `f` in slot `slot`.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    f: &Arc<FunctionConfig>,
    slot: usize,
    id: EnvId,
) -> Result<Started, SchedulerError> {
    let ns = f.slots[slot].clone();
    let Some(lease) = SlotLease::try_take(&shared.config.lock_dir, &ns)? else {
        return Ok(Started::Taken);
    };
    // The prefix lock, shared, while the environment's cgroups and socket are made:
    // `cove apply` / `destroy` (exclusive) wait for cold starts and the reverse.
    let (prefix_lock, listener, spec, stdio, log) = {
        let (shared, f, ns) = (Arc::clone(shared), Arc::clone(f), ns.clone());
        tokio::task::spawn_blocking(move || {
            let lock = prefix_lock(&shared.config)?;
            let (listener, spec, stdio, log) = prepare(&shared, &f, &ns, id)?;
            Ok::<_, SchedulerError>((lock, listener, spec, stdio, log))
        })
        .await
        .map_err(|source| SchedulerError::Task { source })??
    };
    let api = RuntimeApi::serve(
        listener,
        FunctionInfo {
            function_name: f.name.clone(),
            function_arn: f.arn.clone(),
            version: "$LATEST".to_owned(),
        },
    )
    .map_err(|source| SchedulerError::Serve {
        ns: ns.clone(),
        source,
    })?;
    let running = {
        let shared = Arc::clone(shared);
        let name = f.name.clone();
        let ns = ns.clone();
        tokio::task::spawn_blocking(move || {
            shared
                .sandbox
                .launch(&spec, stdio)
                .map_err(|source| SchedulerError::Sandbox {
                    function: name,
                    ns,
                    source: Box::new(source),
                })
        })
        .await
        .map_err(|source| SchedulerError::Task { source })?
    };
    drop(prefix_lock);
    let mut running = match running {
        Ok(r) => r,
        Err(e) => {
            api.shutdown();
            return Err(e);
        }
    };
    let log = match (log, running.take_stdout(), running.take_stderr()) {
        (Some((file, path)), Some(out), Some(err)) => {
            let out = std::fs::File::from(std::os::fd::OwnedFd::from(out));
            let err = std::fs::File::from(std::os::fd::OwnedFd::from(err));
            match Log::start(file, out, err, running.id(), crate::log::OUTPUT_LIMIT_BYTES) {
                Ok(log) => Some(log),
                Err(source) => {
                    api.shutdown();
                    return Err(SchedulerError::Log { path, source });
                }
            }
        }
        _ => None,
    };
    // The runtime initializes with a whole CPU, then runs with its memory's share
    // (1 CPU per 1,769 MB, as Lambda): a 128 MB function would otherwise spend most
    // of a cold start throttled while its interpreter loads.
    let share = env_share(&running);
    let _ = running.set_cpu(INIT_MILLICPUS.max(share));
    let memory_peak = log.as_ref().and_then(|_| memory_peak_file(&running));
    let mut env = Env {
        init_duration: Duration::ZERO,
        memory_peak,
        id,
        slot,
        api,
        running,
        log,
        _lease: lease,
    };
    let started = Instant::now();
    let exited = env.running.exited();
    tokio::select! {
        ready = env.api.ready() => match ready {
            Ok(()) => {
                env.init_duration = started.elapsed();
                let _ = env.running.set_cpu(share);
                Ok(Started::Ready(env))
            }
            Err(InitFailure::InitError { error_type, body }) => Ok(Started::InitFailed { env, error_type, body }),
            Err(InitFailure::Shutdown) => Ok(init_failed(env, payloads::RUNTIME_EXIT_ERROR, payloads::exit_error(None, ExitStatus::Code(-1)))),
        },
        exit = exited => {
            // Python's client posts /init/error, then exits: the posted error wins.
            if let Some((error_type, body)) = env.api.init_error() {
                return Ok(Started::InitFailed { env, error_type, body });
            }
            let status = exit.ok().map_or(ExitStatus::Code(-1), |e| exit_status(&e));
            Ok(init_failed(env, payloads::RUNTIME_EXIT_ERROR, payloads::exit_error(None, status)))
        }
        () = tokio::time::sleep(INIT_TIMEOUT) => {
            let body = payloads::timeout_error("init", started.elapsed());
            Ok(init_failed(env, payloads::SANDBOX_TIMEDOUT, body))
        }
    }
}

fn init_failed(env: Env, error_type: &str, body: Bytes) -> Started {
    Started::InitFailed {
        env,
        error_type: error_type.to_owned(),
        body,
    }
}

/// How a sandboxed process ended, in the Runtime API's terms.
pub(crate) fn exit_status(e: &cove_sandbox::Exit) -> ExitStatus {
    match (e.code, e.signal) {
        (Some(code), _) => ExitStatus::Code(code),
        (None, Some(number)) => ExitStatus::Signal {
            number,
            core_dumped: false,
        },
        (None, None) => ExitStatus::Code(-1),
    }
}

/// Takes the prefix lock shared (if configured), waiting at most the configured time.
fn prefix_lock(config: &SchedulerConfig) -> Result<Option<PrefixLock>, SchedulerError> {
    let Some(path) = &config.prefix_lock else {
        return Ok(None);
    };
    match PrefixLock::take(path, LockMode::Shared, config.lock_wait) {
        Ok(Some(lock)) => Ok(Some(lock)),
        Ok(None) => Err(SchedulerError::Busy {
            prefix: config.prefix.clone(),
            path: path.clone(),
            holder: PrefixLock::holder(path),
        }),
        Err(source) => Err(SchedulerError::PrefixLock {
            path: path.clone(),
            source,
        }),
    }
}

/// The blocking part of a cold start: the endpoint's socket inside the slot, the
/// launch command, the environment's variables and its log file.
fn prepare(
    shared: &Shared,
    f: &FunctionConfig,
    ns: &str,
    id: EnvId,
) -> Result<Prepared, SchedulerError> {
    let launch_err = |reason: String| SchedulerError::Launch {
        function: f.name.clone(),
        reason,
    };
    let runtime =
        cove_runtimes::Runtime::from_str(&f.runtime).map_err(|e| launch_err(e.to_string()))?;
    let launch = cove_runtimes::fs::check_code(runtime, &f.handler, &f.code.dir)
        .map_err(|e| launch_err(e.to_string()))?;
    let listener = shared
        .host
        .bind_tcp(ns, RUNTIME_API_ADDR)
        .map_err(|source| SchedulerError::Listen {
            ns: ns.to_owned(),
            source: Box::new(source),
        })?;
    let instance = format!("{:032x}", shared.instance_seed ^ u128::from(id));
    let stream = cove_runtimes::log_stream_name(utc_date(), "$LATEST", &instance);
    let mut info = cove_runtimes::EnvInfo::new(
        runtime,
        &f.handler,
        &f.name,
        &RUNTIME_API_ADDR.to_string(),
        &stream,
    );
    info.memory_mb = f.memory_mb;
    info.region.clone_from(&shared.config.region);
    info.user.clone_from(&f.environment);
    info.credentials = shared
        .config
        .credentials
        .as_ref()
        .and_then(|c| c.for_tenant(&f.tenant));
    let env: BTreeMap<String, String> = cove_runtimes::lambda_environment(&info)
        .into_iter()
        .collect();
    let env_id = cove_sandbox::EnvId::for_slot(std::process::id(), ns, id)
        .map_err(|e| launch_err(e.to_string()))?;
    let mut spec = EnvSpec::new(ns, env_id, launch.argv, &f.code.dir, u64::from(f.memory_mb));
    spec.env = env;
    spec.cwd = launch.cwd.into();
    spec.runtime_dir = Some(shared.config.runtime_dir.clone());
    // The VPC's resolver, with Lambda's options (a 1 s timeout, two attempts).
    spec.resolv_conf = f
        .nameserver
        .map(|ip| format!("nameserver {ip}\noptions timeout:1 attempts:2\n"));
    // Each live environment runs as its own user, so no two can signal each other.
    let uid = shared.next_uid();
    spec.uid = uid;
    spec.gid = uid;
    // One log per environment, like a Lambda log stream:
    // `<logs>/<tenant>/<function>/<instance>.log`.
    // The runtime writes into pipes; cove alone holds the file.
    let (stdio, log) = match &shared.config.log_dir {
        Some(dir) => {
            let path = dir.env_log(&f.tenant, &f.name, &instance).ok_or_else(|| {
                launch_err(format!(
                    "the tenant {:?} or function name {:?} cannot name a log directory",
                    f.tenant, f.name
                ))
            })?;
            let file = crate::log::open(&path).map_err(|source| SchedulerError::Log {
                path: path.clone(),
                source,
            })?;
            (EnvStdio::piped(), Some((file, path)))
        }
        None => (EnvStdio::null(), None),
    };
    Ok((listener, spec, stdio, log))
}

/// What the blocking part of a cold start prepares.
type Prepared = (
    std::net::TcpListener,
    EnvSpec,
    EnvStdio,
    Option<(std::fs::File, std::path::PathBuf)>,
);

impl Env {
    /// Appends a platform line to the environment's log; returns where in the log
    /// the line starts.
    pub(crate) fn log_line(&self, line: &str) -> Option<u64> {
        self.log.as_ref()?.line(line)
    }

    /// The last `max` bytes the log received since offset `from`.
    pub(crate) fn log_since(&self, from: u64, max: u64) -> Option<Vec<u8>> {
        self.log.as_ref()?.since(from, max)
    }

    /// The most memory the environment has used, MB (from its memory cgroup).
    pub(crate) fn max_memory_used_mb(&self) -> Option<u64> {
        let text = std::fs::read_to_string(self.memory_peak.as_ref()?).ok()?;
        text.trim().parse::<u64>().ok().map(|b| b.div_ceil(1 << 20))
    }
}

/// The file of `running`'s memory cgroup that holds its high-water mark (v2
/// `memory.peak`, v1 `memory.max_usage_in_bytes`).
fn memory_peak_file(running: &Running) -> Option<std::path::PathBuf> {
    running.cgroup_dirs().iter().find_map(|d| {
        ["memory.peak", "memory.max_usage_in_bytes"]
            .iter()
            .map(|f| d.join(f))
            .find(|p| p.is_file())
    })
}

/// Today's date (UTC) as (year, month, day), for log stream names.
fn utc_date() -> (u16, u8, u8) {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = payloads::civil_from_days(i64::try_from(days).unwrap_or(0));
    (
        u16::try_from(y).unwrap_or(0),
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}
