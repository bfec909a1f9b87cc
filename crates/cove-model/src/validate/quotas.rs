//! Adjustable quotas (`quotas:` in the spec): AWS's defaults unless an account had
//! them raised, up to AWS's ceilings. `cove import aws` writes the values an export
//! needs, so what it writes validates.

use super::{Ctx, Path};
use crate::diag::ErrorCode;
use crate::spec::{Scalar, Spec};

/// The quotas validation enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Most inbound rules, and most outbound rules, of one security group.
    pub rules_per_security_group: usize,
    /// Most security groups on one interface.
    pub security_groups_per_interface: usize,
    /// Most active peering connections of one VPC.
    pub active_peerings_per_vpc: usize,
    /// Most CIDR blocks (primary and secondary) of one VPC.
    pub cidr_blocks_per_vpc: usize,
    /// Most shared function ENIs (Hyperplane ENIs) of one VPC.
    pub shared_enis_per_vpc: usize,
}

impl Quotas {
    /// AWS's default quotas.
    pub const AWS_DEFAULT: Quotas = Quotas {
        rules_per_security_group: 60,
        security_groups_per_interface: 5,
        active_peerings_per_vpc: 50,
        cidr_blocks_per_vpc: 5,
        shared_enis_per_vpc: 250,
    };

    /// The highest values AWS allows an account to raise them to.
    pub const AWS_CEILING: Quotas = Quotas {
        rules_per_security_group: 1000,
        security_groups_per_interface: 16,
        active_peerings_per_vpc: 125,
        cidr_blocks_per_vpc: 50,
        shared_enis_per_vpc: 1000,
    };
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas::AWS_DEFAULT
    }
}

/// Reads the spec's `quotas:`; a value outside 1 to AWS's ceiling is
/// `InvalidParameterValue` (and the default applies).
pub(crate) fn read(cx: &mut Ctx, spec: &Spec) -> Quotas {
    let mut q = Quotas::default();
    let Some(s) = &spec.quotas else {
        return q;
    };
    let path = Path::root().key("quotas");
    let d = Quotas::AWS_DEFAULT;
    let c = Quotas::AWS_CEILING;
    let mut one = |field: &str, value: &Option<Scalar>, default: usize, ceiling: usize| {
        let Some(v) = value else { return default };
        match v.text().trim().parse::<usize>() {
            Ok(n) if (1..=ceiling).contains(&n) => n,
            _ => {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path.key(field),
                    format!("`{}` is not a valid `{field}`", v.text()),
                    format!("write a number from 1 to {ceiling} (AWS's default is {default})"),
                );
                default
            }
        }
    };
    q.rules_per_security_group = one(
        "rules_per_security_group",
        &s.rules_per_security_group,
        d.rules_per_security_group,
        c.rules_per_security_group,
    );
    q.security_groups_per_interface = one(
        "security_groups_per_interface",
        &s.security_groups_per_interface,
        d.security_groups_per_interface,
        c.security_groups_per_interface,
    );
    q.active_peerings_per_vpc = one(
        "active_peerings_per_vpc",
        &s.active_peerings_per_vpc,
        d.active_peerings_per_vpc,
        c.active_peerings_per_vpc,
    );
    q.cidr_blocks_per_vpc = one(
        "cidr_blocks_per_vpc",
        &s.cidr_blocks_per_vpc,
        d.cidr_blocks_per_vpc,
        c.cidr_blocks_per_vpc,
    );
    q.shared_enis_per_vpc = one(
        "shared_enis_per_vpc",
        &s.shared_enis_per_vpc,
        d.shared_enis_per_vpc,
        c.shared_enis_per_vpc,
    );
    q
}
