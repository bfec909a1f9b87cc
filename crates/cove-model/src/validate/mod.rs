//! Spec → [`Network`], or every problem at once.

use crate::diag::Diagnostic;
use crate::model::Network;
use crate::spec::Spec;

/// Result of validating a spec: the network (when there are no errors) and all
/// diagnostics (errors and warnings).
#[derive(Debug, Clone)]
pub struct Validated {
    /// The network; `None` when any error was found.
    pub network: Option<Network>,
    /// Every error and warning, in spec order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Validates a spec (work in progress).
pub fn validate(_spec: &Spec) -> Validated {
    Validated {
        network: Some(Network::default()),
        diagnostics: Vec::new(),
    }
}
