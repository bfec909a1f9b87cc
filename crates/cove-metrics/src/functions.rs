//! Functions' metrics, as Lambda's CloudWatch metrics name them: invocations,
//! errors, throttles, cold starts, duration; and environments by state.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A function (`tenant/function`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabel {
    function: String,
}

/// A function and the kind of an error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    function: String,
    error_type: String,
}

/// A function and an environment state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    function: String,
    state: String,
}

/// Duration buckets: 1 ms to about 65 s, doubling.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Lambda's fixed error types, kept as they are in the `error_type` label: the
/// platform's own (a crash, out of memory, a timeout, a broken response) and the
/// ones Lambda records for a type it does not accept (`Runtime.Unknown` — what an
/// exception in the handler usually gets — and `Function.Unknown`). Any other type
/// was chosen by the runtime or the function and counts as `Function`.
const PLATFORM_ERRORS: [&str; 11] = [
    "Runtime.ExitError",
    "Runtime.OutOfMemory",
    "Runtime.Unknown",
    "Runtime.ImportModuleError",
    "Runtime.HandlerNotFound",
    "Runtime.UserCodeSyntaxError",
    "Runtime.InvalidEntrypoint",
    "Runtime.TruncatedResponse",
    "Function.Unknown",
    "Function.ResponseSizeTooLarge",
    "Sandbox.Timedout",
];

/// The `error_type` label of an error: a platform error's type (what comes before
/// a `:` detail), else `Function` — an error type the function chose is never a
/// label (a hostile function could make them without bound).
pub fn error_kind(error_type: &str) -> &'static str {
    let head = error_type.split(':').next().unwrap_or_default().trim();
    PLATFORM_ERRORS
        .iter()
        .find(|p| **p == head)
        .copied()
        .unwrap_or("Function")
}

/// One invocation that ran, as the metrics count it.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    /// The function (`tenant/function`).
    pub function: &'a str,
    /// From the call to the answer.
    pub took: Duration,
    /// The function's memory (MB), for GB-seconds.
    pub memory_mb: u32,
    /// Whether it started its environment.
    pub cold_start: bool,
    /// Its error type, if it failed.
    pub error_type: Option<&'a str>,
}

/// How many environments of a function are in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentCount {
    /// The function (`tenant/function`).
    pub function: String,
    /// `starting`, `busy`, `idle` or `ending`.
    pub state: &'static str,
    /// How many.
    pub count: u64,
}

/// One function's totals since the server started (what the console and
/// `GET /v1/functions/{name}/metrics` show).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FunctionSummary {
    /// Invocations that ran.
    pub invocations: u64,
    /// Of them, ended in an error.
    pub errors: u64,
    /// Refused because every environment was busy.
    pub throttles: u64,
    /// Invocations that started their environment.
    pub cold_starts: u64,
    /// Compute as Lambda bills it.
    pub gb_seconds: f64,
    /// Sum of the durations (ms).
    pub total_ms: f64,
    /// The longest duration (ms).
    pub max_ms: f64,
}

/// The functions' families.
#[derive(Clone, Debug)]
pub struct FunctionMetrics {
    summaries: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, FunctionSummary>>>,
    invocations: Family<FunctionLabel, Counter>,
    errors: Family<ErrorLabels, Counter>,
    throttles: Family<FunctionLabel, Counter>,
    cold_starts: Family<FunctionLabel, Counter>,
    duration: Family<FunctionLabel, Histogram, fn() -> Histogram>,
    gb_seconds: Family<FunctionLabel, Counter<f64, AtomicU64>>,
    environments: Family<StateLabels, Gauge>,
}

impl Default for FunctionMetrics {
    fn default() -> Self {
        FunctionMetrics {
            summaries: std::sync::Arc::default(),
            invocations: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            cold_starts: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            gb_seconds: Family::default(),
            environments: Family::default(),
        }
    }
}

impl FunctionMetrics {
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "function_invocations",
            "Invocations that ran (a function error included; throttled ones not)",
            self.invocations.clone(),
        );
        r.register(
            "function_errors",
            "Invocations that ended in an error, by Lambda's error type (`Function`: the function's own)",
            self.errors.clone(),
        );
        r.register(
            "function_throttles",
            "Invocations refused because every environment of the function was busy (429)",
            self.throttles.clone(),
        );
        r.register(
            "function_cold_starts",
            "Invocations that started their environment",
            self.cold_starts.clone(),
        );
        r.register(
            "function_duration_seconds",
            "Time from the call to the answer",
            self.duration.clone(),
        );
        r.register(
            "function_gb_seconds",
            "Compute as Lambda bills it: each invocation's duration rounded up to the millisecond, times the function's memory in GB",
            self.gb_seconds.clone(),
        );
        r.register(
            "function_environments",
            "Execution environments by state",
            self.environments.clone(),
        );
    }

    /// Records an invocation that ran.
    pub fn invoked(&self, i: &Invocation<'_>) {
        let (function, took, cold_start, error_type) =
            (i.function, i.took, i.cold_start, i.error_type);
        let label = FunctionLabel {
            function: function.to_owned(),
        };
        self.invocations.get_or_create(&label).inc();
        // Lambda's billing: the duration rounded up to the millisecond, times the
        // memory in GB.
        let billed_ms = took.as_nanos().div_ceil(1_000_000);
        let gb_seconds = billed_ms as f64 / 1000.0 * f64::from(i.memory_mb) / 1024.0;
        self.gb_seconds.get_or_create(&label).inc_by(gb_seconds);
        if cold_start {
            self.cold_starts.get_or_create(&label).inc();
        }
        self.duration
            .get_or_create(&label)
            .observe(took.as_secs_f64());
        {
            let mut all = self.summaries.lock().unwrap_or_else(|e| e.into_inner());
            let sum = all.entry(function.to_owned()).or_default();
            let ms = took.as_secs_f64() * 1000.0;
            sum.invocations += 1;
            sum.errors += u64::from(error_type.is_some());
            sum.cold_starts += u64::from(cold_start);
            sum.gb_seconds += gb_seconds;
            sum.total_ms += ms;
            sum.max_ms = sum.max_ms.max(ms);
        }
        if let Some(t) = error_type {
            self.errors
                .get_or_create(&ErrorLabels {
                    function: label.function,
                    error_type: error_kind(t).to_owned(),
                })
                .inc();
        }
    }

    /// `function`'s totals (`tenant/function`), if it was ever invoked or throttled.
    pub fn summary(&self, function: &str) -> Option<FunctionSummary> {
        self.summaries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(function)
            .copied()
    }

    /// Records a throttled invocation of `function`.
    pub fn throttled(&self, function: &str) {
        self.summaries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(function.to_owned())
            .or_default()
            .throttles += 1;
        self.throttles
            .get_or_create(&FunctionLabel {
                function: function.to_owned(),
            })
            .inc();
    }

    /// Sets the environments by state to `counts` (states not listed: gone).
    pub fn set_environments(&self, counts: &[EnvironmentCount]) {
        self.environments.clear();
        for c in counts {
            self.environments
                .get_or_create(&StateLabels {
                    function: c.function.clone(),
                    state: c.state.to_owned(),
                })
                .set(i64::try_from(c.count).unwrap_or(i64::MAX));
        }
    }
}
