//! Spec → [`Network`], or every problem at once.
//!
//! Validation runs in passes so that references can point forward and so that one bad
//! object does not hide the problems of the others:
//! 1. [`declare`]: tenants, prefix lists, VPCs and every named object inside them
//!    (addresses parsed and range-checked), plus the implicit AWS objects;
//! 2. [`peering`]: peering connections (status, overlap, duplicates, limits);
//! 3. [`filters`], [`routing`], [`attachments`]: everything that references other
//!    objects (security-group rules, routes, endpoints, ENIs and their addresses).
//!
//! The result holds a [`Network`] only when no error was found.

mod addressing;
mod apis;
mod attachments;
mod buckets;
mod declare;
mod dns;
mod filters;
mod flowlogs;
mod functions;
mod ids;
mod nat_pairs;
mod parse;
mod peering;
mod public;
mod quotas;
mod routing;
mod scope;
mod services;
mod shared;

use crate::diag::{Diagnostic, ErrorCode, Severity};
use crate::model::Network;
use crate::spec::Spec;

pub use functions::is_valid_function_name;
pub use parse::{hostname_problem, is_valid_name, public_ip_problem};
pub use quotas::Quotas;
pub use shared::shared_eni_name;

/// Result of validating a spec: the network (when there are no errors) and all
/// diagnostics (errors and warnings).
#[derive(Debug, Clone)]
pub struct Validated {
    /// The network; `None` when any error was found.
    pub network: Option<Network>,
    /// Every error and warning, in spec order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Validated {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

/// Validates a spec, reporting every error (and warning) found.
pub fn validate(spec: &Spec) -> Validated {
    let mut cx = Ctx::default();
    cx.quotas = quotas::read(&mut cx, spec);
    let scopes = declare::declare(&mut cx, spec);
    nat_pairs::pairs(&mut cx, spec, &scopes);
    dns::hosted_zones(&mut cx, spec, &scopes);
    peering::peerings(&mut cx, spec, &scopes);
    filters::security_group_rules(&mut cx, spec, &scopes);
    attachments::endpoints(&mut cx, spec, &scopes);
    services::services(&mut cx, spec, &scopes);
    routing::routes(&mut cx, spec, &scopes);
    functions::functions(&mut cx, spec, &scopes);
    attachments::addresses(&mut cx, spec, &scopes);
    public::public_addresses(&mut cx, spec, &scopes);
    flowlogs::flow_logs(&mut cx, spec, &scopes);
    buckets::buckets(&mut cx, spec, &scopes);
    apis::apis(&mut cx, spec, &scopes);
    ids::aws_ids(&mut cx, spec);
    let has_error = cx.diags.iter().any(|d| d.severity == Severity::Error);
    Validated {
        network: (!has_error).then_some(cx.net),
        diagnostics: cx.diags,
    }
}

/// Decodes and validates spec text in one step: unknown fields and shape errors are
/// reported together with the semantic errors.
pub fn validate_text(text: &str) -> Validated {
    validate_text_with(text, &[])
}

/// Like [`validate_text`], with functions deployed outside the spec file added to
/// their VPCs first (a function whose VPC is gone is an error at
/// `functions[<name>].vpc`).
pub fn validate_text_with(text: &str, deployed: &[crate::spec::DeployedFunction]) -> Validated {
    match crate::decode::decode_spec(text).map(|(mut spec, mut unknown)| {
        for (name, reason) in spec.add_functions(deployed) {
            unknown.push(Diagnostic::error(
                ErrorCode::InvalidVpcIdNotFound,
                format!("functions[{name}].vpc"),
                format!("deployed function `{name}`: {reason}"),
                format!("delete it with `cove fn delete {name}` or deploy it to an existing VPC"),
            ));
        }
        (spec, unknown)
    }) {
        Err(diags) => Validated {
            network: None,
            diagnostics: diags,
        },
        Ok((spec, mut unknown)) => {
            let mut v = validate(&spec);
            if !unknown.is_empty() {
                unknown.append(&mut v.diagnostics);
                v.diagnostics = unknown;
                v.network = None;
            }
            v
        }
    }
}

/// Working state shared by the passes.
#[derive(Default)]
pub(crate) struct Ctx {
    pub(crate) net: Network,
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) quotas: Quotas,
}

impl Ctx {
    pub(crate) fn error(
        &mut self,
        code: ErrorCode,
        path: &Path,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::error(code, path.0.clone(), message, hint));
    }

    /// An error, or (with `lenient`) a warning: a reference into another tenant's
    /// resources that no longer resolves (see [`crate::spec::Spec::cross_tenant_lenient`]).
    pub(crate) fn cross_tenant(
        &mut self,
        lenient: bool,
        code: ErrorCode,
        path: &Path,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        if lenient {
            self.warning(code, path, message, hint);
        } else {
            self.error(code, path, message, hint);
        }
    }

    pub(crate) fn warning(
        &mut self,
        code: ErrorCode,
        path: &Path,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::warning(code, path.0.clone(), message, hint));
    }
}

/// The path of a field, as shown to the user: `tenants[acme].vpcs[app].cidr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path(pub(crate) String);

impl Path {
    pub(crate) fn root() -> Path {
        Path(String::new())
    }

    /// `self.key`
    pub(crate) fn key(&self, key: &str) -> Path {
        if self.0.is_empty() {
            Path(key.to_owned())
        } else {
            Path(format!("{}.{key}", self.0))
        }
    }

    /// `self.list[name]`, or `self.list[index]` when the item has no name.
    pub(crate) fn item(&self, list: &str, name: &str, index: usize) -> Path {
        let k = self.key(list);
        if name.is_empty() {
            Path(format!("{}[{index}]", k.0))
        } else {
            Path(format!("{}[{name}]", k.0))
        }
    }

    /// `self[index]` (for unnamed list items such as rules).
    pub(crate) fn index(&self, index: usize) -> Path {
        Path(format!("{}[{index}]", self.0))
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_apis;
#[cfg(test)]
mod tests_buckets;
#[cfg(test)]
mod tests_dns;
#[cfg(test)]
mod tests_flowlogs;
#[cfg(test)]
mod tests_net;
#[cfg(test)]
mod tests_services;
#[cfg(test)]
mod tests_shared;
