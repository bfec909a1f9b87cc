//! The whole desired spec (pure): the operator's spec (`cove apply`) with the
//! functions deployed with `cove fn deploy`, merged with the control plane's
//! desired spec (`cove_control::desired_spec` of the tenants' networks, peerings
//! and specs). A tenant named by both is refused.

use std::path::Path;

use cove_model::Diagnostic;
use cove_model::diag::ErrorCode;
use cove_model::spec::{DeployedFunction, SharedEniExtra, Spec};
use cove_model::validate::Validated;

use crate::store::control_docs::{self, ControlDocsError};

/// The control plane's desired spec from a store snapshot's documents (`None` when
/// the control plane has no tenants: the operator's spec alone). A tenant
/// function's code, `sha256:<hex>`, becomes the snapshot `<code_store>/<hex>` when
/// the tenant uploaded that package; a function whose code the tenant did not
/// upload is left out (the API refuses such a spec: this only keeps a tenant from
/// ever running another's code).
pub fn control_spec(
    snapshot: &cove_store::Snapshot,
    code_store: &Path,
) -> Result<Option<Spec>, ControlDocsError> {
    let (state, specs) = control_docs::control_from_snapshot(snapshot)?;
    let mut spec = cove_control::desired_spec(&state, &specs);
    let uploads = control_docs::uploads_from_snapshot(snapshot)?;
    for t in &mut spec.tenants {
        let Some(id) = state
            .tenants
            .values()
            .find(|x| x.name == t.name)
            .map(|x| &x.id)
        else {
            continue;
        };
        for v in &mut t.vpcs {
            v.functions.retain_mut(|f| {
                let Some(hex) = f.code.strip_prefix(cove_control::CODE_DIGEST_PREFIX) else {
                    return false;
                };
                if !uploads.get(id).is_some_and(|u| u.contains_key(hex)) {
                    return false;
                }
                f.code = code_store.join(hex).display().to_string();
                true
            });
        }
    }
    Ok((!spec.tenants.is_empty() || !spec.peerings.is_empty()).then_some(spec))
}

/// What the platform itself recorded about the desired state (never a user's
/// spec): the extra shared function ENIs and the NAT gateways' takeovers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformState {
    /// Extra shared function ENIs ([`crate::shared_scale`]).
    pub shared_eni_extras: Vec<SharedEniExtra>,
    /// NAT gateways whose partner carries their addresses ([`crate::failover`]).
    pub nat_takeovers: Vec<crate::failover::TakeoverRecord>,
}

/// Validates the whole desired spec: the operator's `text` (if any) with `deployed`
/// added, merged with `control`, with what the platform recorded (`platform`).
/// `None`: nothing is desired at all.
pub fn validate_desired(
    text: Option<&str>,
    deployed: &[DeployedFunction],
    control: Option<Spec>,
    platform: &PlatformState,
) -> Option<Validated> {
    if control.is_none() && text.is_none() {
        return None;
    }
    let control = control.unwrap_or_default();
    let (mut spec, mut unknown) = match text {
        Some(t) => match cove_model::decode::decode_spec(t) {
            Ok(decoded) => decoded,
            Err(diagnostics) => {
                return Some(Validated {
                    network: None,
                    diagnostics,
                });
            }
        },
        None => (Spec::default(), Vec::new()),
    };
    for t in &control.tenants {
        if spec.tenants.iter().any(|o| o.name == t.name) {
            unknown.push(Diagnostic::error(
                ErrorCode::MalformedSpec,
                format!("tenants[{}]", t.name),
                format!(
                    "tenant `{}` is both in the operator's spec (`cove apply`) and a tenant of the control plane",
                    t.name
                ),
                "rename or remove it in the operator's spec and run `cove apply -f SPEC` again".to_owned(),
            ));
        }
    }
    spec.tenants.extend(control.tenants);
    spec.peerings.extend(control.peerings);
    for (name, reason) in spec.add_functions(deployed) {
        unknown.push(Diagnostic::error(
            ErrorCode::InvalidVpcIdNotFound,
            format!("functions[{name}].vpc"),
            format!("deployed function `{name}`: {reason}"),
            format!("delete it with `cove fn delete {name}` or deploy it to an existing VPC"),
        ));
    }
    spec.shared_eni_extras = platform.shared_eni_extras.clone();
    spec.nat_takeovers = platform
        .nat_takeovers
        .iter()
        .map(crate::failover::TakeoverRecord::takeover)
        .collect();
    let mut v = cove_model::validate::validate(&spec);
    if !unknown.is_empty() {
        unknown.append(&mut v.diagnostics);
        v.diagnostics = unknown;
        v.network = None;
    }
    Some(v)
}
