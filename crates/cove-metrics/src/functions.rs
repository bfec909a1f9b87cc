//! Functions' metrics, as Lambda's CloudWatch metrics name them: invocations,
//! errors, throttles, cold starts, duration; and environments by state.

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

/// The functions' families.
#[derive(Clone, Debug)]
pub struct FunctionMetrics {
    invocations: Family<FunctionLabel, Counter>,
    errors: Family<ErrorLabels, Counter>,
    throttles: Family<FunctionLabel, Counter>,
    cold_starts: Family<FunctionLabel, Counter>,
    duration: Family<FunctionLabel, Histogram, fn() -> Histogram>,
    environments: Family<StateLabels, Gauge>,
}

impl Default for FunctionMetrics {
    fn default() -> Self {
        FunctionMetrics {
            invocations: Family::default(),
            errors: Family::default(),
            throttles: Family::default(),
            cold_starts: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
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
            "function_environments",
            "Execution environments by state",
            self.environments.clone(),
        );
    }

    /// Records an invocation of `function` that ran: how long it took, whether it
    /// started its environment, and its error type if it failed.
    pub fn invoked(
        &self,
        function: &str,
        took: Duration,
        cold_start: bool,
        error_type: Option<&str>,
    ) {
        let label = FunctionLabel {
            function: function.to_owned(),
        };
        self.invocations.get_or_create(&label).inc();
        if cold_start {
            self.cold_starts.get_or_create(&label).inc();
        }
        self.duration
            .get_or_create(&label)
            .observe(took.as_secs_f64());
        if let Some(t) = error_type {
            self.errors
                .get_or_create(&ErrorLabels {
                    function: label.function,
                    error_type: error_kind(t).to_owned(),
                })
                .inc();
        }
    }

    /// Records a throttled invocation of `function`.
    pub fn throttled(&self, function: &str) {
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
