//! The whole desired spec (pure): the operator's spec (`cove apply`) with the
//! functions deployed with `cove fn deploy`, merged with the control plane's
//! desired spec (`cove_control::desired_spec` of the tenants' networks, peerings
//! and specs). A tenant named by both is refused.

use cove_model::Diagnostic;
use cove_model::diag::ErrorCode;
use cove_model::spec::{DeployedFunction, Spec};
use cove_model::validate::Validated;

/// The control plane's desired spec from a store snapshot's documents (`None` when
/// the control plane has no tenants: the operator's spec alone).
pub fn control_spec(
    snapshot: &cove_store::Snapshot,
) -> Result<Option<Spec>, crate::store::docs::DocError> {
    let (state, specs) = crate::store::docs::control_from_snapshot(snapshot)?;
    let spec = cove_control::desired_spec(&state, &specs);
    Ok((!spec.tenants.is_empty() || !spec.peerings.is_empty()).then_some(spec))
}

/// Validates the whole desired spec: the operator's `text` (if any) with `deployed`
/// added, merged with `control`. `None`: nothing is desired at all.
pub fn validate_desired(
    text: Option<&str>,
    deployed: &[DeployedFunction],
    control: Option<Spec>,
) -> Option<Validated> {
    let Some(control) = control else {
        return text.map(|t| cove_model::validate::validate_text_with(t, deployed));
    };
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
    let mut v = cove_model::validate::validate(&spec);
    if !unknown.is_empty() {
        unknown.append(&mut v.diagnostics);
        v.diagnostics = unknown;
        v.network = None;
    }
    Some(v)
}
