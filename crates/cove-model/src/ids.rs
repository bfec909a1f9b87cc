//! AWS-style ids for what cove knows by path: an object's imported id when it has
//! one, else a stable id derived from its path (`vpc-` and 17 hex digits), and a
//! tenant's account id (declared, else 12 digits derived from its name). Flow
//! logs, bucket policies (`aws:SourceVpc`, `aws:SourceVpce`) and the object
//! store's owners all name resources with these.

use sha2::{Digest as _, Sha256};

use crate::model::{EndpointId, Network, TenantId, VpcId};

/// The id of function `name`'s URL in `tenant` (Lambda's `<url-id>`: 32
/// lowercase hex digits), derived from both, so that the URL stays the same
/// through its configuration being deleted and made again.
pub fn function_url_id(tenant: &str, name: &str) -> String {
    let d = Sha256::new()
        .chain_update(b"function-url:")
        .chain_update(tenant.as_bytes())
        .chain_update(b"/")
        .chain_update(name.as_bytes())
        .finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// An AWS-style id for a resource cove knows by path: its imported id, else
/// `<kind>-` and 17 hex digits of a hash of its path (stable while the path is).
pub fn resource_id(kind: &str, imported: Option<&str>, path: &str) -> String {
    if let Some(id) = imported {
        return id.to_owned();
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::new()
        .chain_update(kind.as_bytes())
        .chain_update(b":")
        .chain_update(path.as_bytes())
        .finalize();
    // Written directly: EC2's describes derive thousands of ids per call.
    let mut out = String::with_capacity(kind.len() + 19);
    out.push_str(kind);
    out.push('-');
    for b in &d[..9] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out.truncate(kind.len() + 1 + 17);
    out
}

/// Tenant `t`'s account id: the declared one, else 12 digits derived from its
/// name.
pub fn account_id(net: &Network, t: TenantId) -> String {
    let tenant = &net.tenants[t.index()];
    if let Some(a) = &tenant.account_id {
        return a.clone();
    }
    let d = Sha256::digest(format!("account:{}", tenant.name).as_bytes());
    let n = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    format!("{:012}", n % 1_000_000_000_000)
}

/// VPC `v`'s id (`vpc-…`).
pub fn vpc_id(net: &Network, v: VpcId) -> String {
    resource_id(
        "vpc",
        net.vpcs[v.index()].aws_id.as_deref(),
        &net.vpc_path(v),
    )
}

/// Endpoint `e`'s id (`vpce-…`).
pub fn endpoint_id(net: &Network, e: EndpointId) -> String {
    let ep = &net.endpoints[e.index()];
    resource_id(
        "vpce",
        ep.aws_id.as_deref(),
        &format!("{}/{}", net.vpc_path(ep.vpc), ep.name),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn imported_ids_are_kept_and_others_derived_from_the_path() {
        assert_eq!(resource_id("vpc", Some("vpc-0abc"), "t/v"), "vpc-0abc");
        let a = resource_id("vpc", None, "t/v");
        assert!(a.starts_with("vpc-") && a.len() == 21, "{a}");
        assert_eq!(a, resource_id("vpc", None, "t/v"));
        assert_ne!(a, resource_id("vpc", None, "t/w"));
        assert_ne!(a[4..], resource_id("vpce", None, "t/v")[5..]);
        // The first 17 hex digits of SHA-256("vpc:t/v") (`sha256sum`): ids stored
        // and shown before stay the same.
        assert_eq!(a, "vpc-cf8951e6d255ff74a");
    }
}
