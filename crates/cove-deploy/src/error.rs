//! What can go wrong in a deployment's workflow: one variant per failed step.

use std::path::PathBuf;

use crate::store::{Generation, StateError, StoreError};

/// A boxed error from the kernel side (the executor behind [`crate::Kernel`]).
pub type KernelError = Box<dyn std::error::Error + Send + Sync>;

/// Why a step of the deployment workflow failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The prefix lock was not taken (busy, or the lock file failed).
    #[error(transparent)]
    Lock(Box<crate::lock::LockError>),
    /// A state file cannot be trusted (it names the file and what to do).
    #[error(transparent)]
    State(Box<StateError>),
    /// The state in the store could not be opened, read or written.
    #[error(transparent)]
    Store(Box<crate::store::StoreError>),
    /// A control-plane change of the reconciler (completing what waited for the
    /// kernel, expiring peering requests) failed: nothing of it was written.
    #[error("recording the control plane's change ({step}); nothing of it was written")]
    Control {
        /// The step (`the kernel caught up`, …).
        step: &'static str,
        /// Why (a document that does not decode or encode, a delete of an unknown
        /// object, the store).
        #[source]
        source: Box<crate::control_service::ServiceError>,
    },
    /// The state could not be recorded.
    #[error("recording the state of prefix {prefix}")]
    Record {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: Box<StoreError>,
    },
    /// Nothing is applied under the prefix, and the step needs an applied network.
    #[error(
        "invalid --prefix `{prefix}`: nothing is applied under prefix {prefix}; run `cove apply -f SPEC` first{why}"
    )]
    NothingApplied {
        /// The prefix.
        prefix: String,
        /// Why an applied network is needed (may be empty), e.g. " (functions attach
        /// to an applied VPC)".
        why: &'static str,
    },
    /// The recorded spec does not validate with the deployed functions.
    #[error(
        "the state file {path} is corrupt (with the deployed functions it does not validate: {errors}); {fix}"
    )]
    DesiredInvalid {
        /// The spec's state file.
        path: PathBuf,
        /// The first errors.
        errors: String,
        /// What to do.
        fix: String,
    },
    /// The spec given is invalid (its diagnostics say why).
    #[error(
        "the spec {path} is invalid ({count} error(s) above); run `cove validate -f {path}` and fix them"
    )]
    InvalidSpec {
        /// The spec file.
        path: PathBuf,
        /// Number of errors.
        count: usize,
        /// Every diagnostic.
        diagnostics: Vec<cove_model::Diagnostic>,
    },
    /// The deployed functions do not validate against the applied spec.
    #[error("invalid function `{functions}`: fix the errors above; nothing was changed")]
    InvalidFunctions {
        /// The functions the errors are about (or "(the applied spec)").
        functions: String,
        /// Every diagnostic.
        diagnostics: Vec<cove_model::Diagnostic>,
    },
    /// The function to delete is not deployed (or is declared in the spec).
    #[error("invalid function `{name}`: {hint}")]
    NoSuchFunction {
        /// The function.
        name: String,
        /// What to do (with AWS's error code).
        hint: &'static str,
    },
    /// Several tenants deployed a function of this name.
    #[error(
        "invalid function `{name}`: several tenants deployed a function of this name (in {vpcs}); say which with --vpc TENANT/VPC"
    )]
    AmbiguousFunction {
        /// The function.
        name: String,
        /// The VPCs that have one.
        vpcs: String,
    },
    /// A function's code could not be snapshotted.
    #[error("invalid {what} `{code}`")]
    Snapshot {
        /// `function code` (`tenant/vpc/function: path`) or `--code`.
        what: &'static str,
        /// What was given.
        code: String,
        /// Why.
        #[source]
        source: Box<cove_functions::code::CodeError>,
    },
    /// A deployed function has no recorded snapshot (and no absolute code path).
    #[error(
        "function {function} has no code snapshot; run `cove apply -f SPEC` with the spec file"
    )]
    MissingSnapshot {
        /// `tenant/vpc/function`.
        function: String,
    },
    /// A function's code lacks what its handler needs.
    #[error("invalid function code `{function} (handler {handler})`")]
    CodeCheck {
        /// `tenant/vpc/function`.
        function: String,
        /// The handler.
        handler: String,
        /// Why.
        #[source]
        source: Box<cove_runtimes::fs::CodeError>,
    },
    /// The network cannot be laid out in the kernel.
    #[error("invalid spec `{prefix}`")]
    Layout {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: Box<cove_plan::PlanError>,
    },
    /// The applied functions could not be configured.
    #[error("configuring the functions of prefix {prefix}")]
    Functions {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: cove_functions::config::MissingCode,
    },
    /// The executor could not be opened.
    #[error("opening the kernel executor of prefix {prefix}")]
    Host {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: KernelError,
    },
    /// Observing the kernel failed.
    #[error("observing the kernel objects of prefix {prefix}")]
    Observe {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: KernelError,
    },
    /// A plan for an older generation than the desired one: the desired state
    /// changed after it was made.
    #[error(
        "refusing a plan made for generation {planned} of prefix {prefix}: the desired state is at generation {desired} now; plan again"
    )]
    StalePlan {
        /// The prefix.
        prefix: String,
        /// The plan's generation.
        planned: Generation,
        /// The desired generation.
        desired: Generation,
    },
    /// A plan of a spec that is not the desired state (`cove plan`, `cove status`).
    #[error(
        "refusing to apply a preview of prefix {prefix}: record the spec as desired first (`cove apply -f SPEC`)"
    )]
    PreviewPlan {
        /// The prefix.
        prefix: String,
    },
    /// Carrying out the plan failed; the applied generation stays the previous one.
    #[error("applying generation {generation} of prefix {prefix}")]
    Apply {
        /// The prefix.
        prefix: String,
        /// The plan's generation.
        generation: Generation,
        /// Why.
        #[source]
        source: KernelError,
    },
    /// The environments of deleted network slots could not be removed.
    #[error("removing the environments of deleted network slots of prefix {prefix}")]
    Reap {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: KernelError,
    },
    /// Destroying left errors (each is in `errors`).
    #[error(
        "{count} error(s) while destroying prefix {prefix}; run `cove destroy` again after fixing them",
        count = errors.len()
    )]
    Destroy {
        /// The prefix.
        prefix: String,
        /// Every failure.
        errors: Vec<KernelError>,
    },
    /// The execution environments' cgroups could not be removed.
    #[error("removing the execution environments' cgroups of prefix {prefix}")]
    RemoveEnvironments {
        /// The prefix.
        prefix: String,
        /// Why.
        #[source]
        source: KernelError,
    },
}

impl From<crate::store::StoreError> for DeployError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Read { source, .. } => DeployError::State(Box::new(source)),
            other => DeployError::Store(Box::new(other)),
        }
    }
}

impl From<StateError> for DeployError {
    fn from(e: StateError) -> Self {
        DeployError::State(Box::new(e))
    }
}

impl From<crate::lock::LockError> for DeployError {
    fn from(e: crate::lock::LockError) -> Self {
        DeployError::Lock(Box::new(e))
    }
}

impl DeployError {
    /// Whether the input was at fault (a bad spec, argument or function): the CLI's
    /// exit status 2.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            DeployError::NothingApplied { .. }
                | DeployError::InvalidSpec { .. }
                | DeployError::InvalidFunctions { .. }
                | DeployError::NoSuchFunction { .. }
                | DeployError::AmbiguousFunction { .. }
                | DeployError::Snapshot { .. }
                | DeployError::CodeCheck { .. }
                | DeployError::Layout { .. }
        )
    }

    /// Whether another writer held the prefix for the whole wait: exit status 6.
    pub fn is_busy(&self) -> bool {
        matches!(self, DeployError::Lock(e) if matches!(**e, crate::lock::LockError::Busy { .. }))
    }

    /// The validation diagnostics that go with this error, if any.
    pub fn diagnostics(&self) -> Option<&[cove_model::Diagnostic]> {
        match self {
            DeployError::InvalidSpec { diagnostics, .. }
            | DeployError::InvalidFunctions { diagnostics, .. } => Some(diagnostics),
            _ => None,
        }
    }
}

/// `e` and every error under it, as one line (`a: b: c`).
pub(crate) fn chain_text(e: &dyn std::error::Error) -> String {
    cove_host::error_chain(e)
}
