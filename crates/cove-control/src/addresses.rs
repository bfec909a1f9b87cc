//! Elastic IPs: a tenant allocates an address of the operator's pool
//! (`AllocateAddress`), associates it in its own spec by allocation id (an ENI's
//! `public_ip`, a NAT gateway's `public_ips`), and releases it once nothing of its
//! spec names it (`ReleaseAddress`). The desired spec writes the address in place
//! of the allocation id; a spec never writes an address itself (see
//! [`crate::scoping`]), so an address reaches only the tenant that holds it.

use std::collections::BTreeMap;

use cove_model::spec::{TenantSpec, VpcSpec};

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::{Env, Fresh, TenantId};
use crate::pool::allocate;
use crate::state::{Change, ControlState, Kind, Object, ObjectKey, Outcome};
use crate::types::ElasticIp;

/// The prefix of an allocation id.
pub const ALLOCATION_PREFIX: &str = "eipalloc-";

/// The tenant's Elastic IPs, oldest first.
pub fn list_addresses<'a>(state: &'a ControlState, tenant: &TenantId) -> Vec<&'a ElasticIp> {
    let mut v: Vec<&ElasticIp> = state
        .elastic_ips
        .values()
        .filter(|e| &e.tenant == tenant)
        .collect();
    v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    v
}

/// The tenant's Elastic IP `id`; another tenant's is not found (the same answer
/// whether it exists or not).
pub fn address<'a>(state: &'a ControlState, tenant: &TenantId, id: &str) -> Result<&'a ElasticIp> {
    state
        .elastic_ips
        .get(id.trim())
        .filter(|e| &e.tenant == tenant)
        .ok_or_else(|| {
            ControlError::field(
                ErrorCode::InvalidAllocationIdNotFound,
                "allocation_id",
                format!("the allocation ID `{}` does not exist", id.trim()),
                "list your Elastic IPs (DescribeAddresses) to find its allocation id",
            )
        })
}

/// The public addresses `tenant` holds: its networks' static IPs and its Elastic
/// IPs (one `static_ips` quota for both).
pub fn addresses_held(state: &ControlState, tenant: &TenantId) -> usize {
    state
        .networks_of(tenant)
        .iter()
        .map(|n| n.static_ips.len())
        .sum::<usize>()
        + list_addresses(state, tenant).len()
}

/// Allocates an address of the pool to `tenant`. Counts toward the tenant's
/// `static_ips` quota with its networks' static IPs (`AddressLimitExceeded`);
/// `InsufficientAddressCapacity` when the pool has no free address.
pub fn allocate_address(
    state: &ControlState,
    tenant: &TenantId,
    env: &Env,
) -> Result<Outcome<ElasticIp>> {
    let quotas = state.tenant(tenant)?.quotas;
    let held = addresses_held(state, tenant);
    if held >= quotas.static_ips as usize {
        return Err(ControlError::general(
            ErrorCode::AddressLimitExceeded,
            format!(
                "your networks and Elastic IPs hold {held} addresses; your quota is {}",
                quotas.static_ips
            ),
            "release an Elastic IP or delete a network, or ask the operator to raise your `static_ips` quota",
        ));
    }
    let ip = allocate(state, 1)?[0];
    let taken = state.taken_ids();
    let mut fresh = Fresh::new(env, &taken);
    let eip = ElasticIp {
        id: fresh.id(ALLOCATION_PREFIX.trim_end_matches('-')),
        tenant: tenant.clone(),
        public_ip: ip,
        tags: BTreeMap::new(),
        created_at: env.now,
    };
    Ok(Outcome {
        changes: vec![Change::Put(Object::ElasticIp(eip.clone()))],
        value: eip,
    })
}

/// Releases the tenant's Elastic IP `id` back to the pool (reused last, as a
/// network's static IPs are). `InvalidIPAddress.InUse` while `spec` (the tenant's)
/// still associates it.
pub fn release_address(
    state: &ControlState,
    tenant: &TenantId,
    spec: &TenantSpec,
    id: &str,
    env: &Env,
) -> Result<Outcome<ElasticIp>> {
    let eip = address(state, tenant, id)?.clone();
    if let Some((field, _)) = associations(spec).into_iter().find(|(_, a)| *a == eip.id) {
        return Err(ControlError::field(
            ErrorCode::InvalidIpAddressInUse,
            field,
            format!("Elastic IP `{}` ({}) is associated", eip.id, eip.public_ip),
            "disassociate it first (DisassociateAddress, or delete the NAT gateway that uses it)",
        ));
    }
    let mut pool = state.ip_pool.clone();
    pool.released_at.insert(eip.public_ip, env.now);
    Ok(Outcome {
        changes: vec![
            Change::Delete(ObjectKey {
                kind: Kind::ElasticIp,
                key: eip.id.clone(),
            }),
            Change::Put(Object::IpPool(pool)),
        ],
        value: eip,
    })
}

/// Adds `add`, then removes `remove` from `tags` (a removal with no value removes
/// the key whatever its value; with one, only when the value is that).
pub(crate) fn retag(
    tags: &mut std::collections::BTreeMap<String, String>,
    add: &[(String, String)],
    remove: &[(String, Option<String>)],
) {
    for (k, v) in add {
        tags.insert(k.clone(), v.clone());
    }
    for (k, v) in remove {
        if v.as_ref().is_none_or(|v| tags.get(k) == Some(v)) {
            tags.remove(k);
        }
    }
}

/// Adds and removes tags of the tenant's Elastic IP `id` (EC2's `CreateTags` and
/// `DeleteTags`; a removal with no value removes the key whatever its value).
pub fn tag_address(
    state: &ControlState,
    tenant: &TenantId,
    id: &str,
    add: &[(String, String)],
    remove: &[(String, Option<String>)],
) -> Result<Outcome<ElasticIp>> {
    let mut eip = address(state, tenant, id)?.clone();
    retag(&mut eip.tags, add, remove);
    let changes = if Some(&eip) == state.elastic_ips.get(&eip.id) {
        Vec::new()
    } else {
        vec![Change::Put(Object::ElasticIp(eip.clone()))]
    };
    Ok(Outcome {
        changes,
        value: eip,
    })
}

/// Every allocation id `spec` associates, with the field that names it
/// (`vpcs[app].enis[web].public_ip`).
pub fn associations(spec: &TenantSpec) -> Vec<(String, &str)> {
    spec.vpcs
        .iter()
        .flat_map(|v| vpc_associations(&format!("vpcs[{}]", v.name), v))
        .map(|(field, text)| (field, text.trim()))
        .collect()
}

/// The allocation ids of one VPC, with their fields under `path`.
pub(crate) fn vpc_associations<'a>(path: &str, v: &'a VpcSpec) -> Vec<(String, &'a str)> {
    let mut out = Vec::new();
    for e in &v.enis {
        if let Some(ip) = e.public_ip.as_deref() {
            out.push((format!("{path}.enis[{}].public_ip", e.name), ip));
        }
    }
    for g in &v.nat_gateways {
        for (i, ip) in g.public_ips.iter().enumerate() {
            out.push((
                format!("{path}.nat_gateways[{}].public_ips[{i}]", g.name),
                ip.as_str(),
            ));
        }
    }
    out
}

/// Writes the address of each of `tenant`'s allocation ids `v` names (in the
/// desired spec). An id that is not the tenant's stays as written: validation
/// refuses it as no address.
pub(crate) fn resolve(state: &ControlState, tenant: &TenantId, v: &mut VpcSpec) {
    let address_of = |text: &str| -> Option<String> {
        state
            .elastic_ips
            .get(text.trim())
            .filter(|e| &e.tenant == tenant)
            .map(|e| e.public_ip.to_string())
    };
    for e in &mut v.enis {
        if let Some(ip) = e.public_ip.as_deref().and_then(address_of) {
            e.public_ip = Some(ip);
        }
    }
    for g in &mut v.nat_gateways {
        for ip in &mut g.public_ips {
            if let Some(a) = address_of(ip) {
                *ip = a;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UnixTime;
    use crate::tenants::{CreateTenant, create_tenant};
    use crate::types::IpPool;
    use cove_model::spec::{EniSpec, NatGatewaySpec};

    fn env(n: u8) -> Env {
        Env {
            now: UnixTime(1_000 + u64::from(n)),
            random: [n; 32],
        }
    }

    /// A state with one tenant (`static_ips` quota 3) and a pool of four addresses.
    fn state() -> (ControlState, TenantId) {
        let mut s = ControlState {
            ip_pool: IpPool {
                blocks: vec!["203.0.113.8/30".parse().expect("block")],
                released_at: BTreeMap::new(),
            },
            ..ControlState::default()
        };
        let admin = crate::state::Actor::Admin {
            token: crate::ids::TokenId("tok-admin".into()),
        };
        let t = create_tenant(
            &s,
            &admin,
            &env(1),
            CreateTenant {
                name: Some("acme".into()),
                quotas: None,
            },
        )
        .expect("tenant");
        s.apply(&t.changes);
        let id = t.value.id.clone();
        let mut tenant = s.tenants[&id].clone();
        tenant.quotas.static_ips = 3;
        s.apply(&[Change::Put(Object::Tenant(tenant))]);
        (s, id)
    }

    fn vpc_naming(eni: Option<&str>, nat: &[&str]) -> TenantSpec {
        TenantSpec {
            vpcs: vec![VpcSpec {
                name: "app".into(),
                enis: eni
                    .map(|a| EniSpec {
                        name: "web".into(),
                        public_ip: Some(a.to_owned()),
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                nat_gateways: vec![NatGatewaySpec {
                    name: "nat".into(),
                    public_ips: nat.iter().map(|s| (*s).to_owned()).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn allocate_takes_pool_addresses_in_order_up_to_the_quota() {
        let (mut s, t) = state();
        let mut got = Vec::new();
        for n in 0..3 {
            let o = allocate_address(&s, &t, &env(10 + n)).expect("allocate");
            assert!(o.value.id.starts_with(ALLOCATION_PREFIX), "{}", o.value.id);
            s.apply(&o.changes);
            got.push(o.value.public_ip.to_string());
        }
        assert_eq!(got, ["203.0.113.8", "203.0.113.9", "203.0.113.10"]);
        let e = allocate_address(&s, &t, &env(20)).expect_err("over the quota");
        assert_eq!(e.code, ErrorCode::AddressLimitExceeded);
        assert_eq!(list_addresses(&s, &t).len(), 3);
    }

    #[test]
    fn elastic_ips_count_against_a_new_networks_static_ips() {
        let (mut s, t) = state();
        for n in 0..2 {
            let o = allocate_address(&s, &t, &env(10 + n)).expect("allocate");
            s.apply(&o.changes);
        }
        let req = crate::network::CreateNetwork {
            name: Some("web".into()),
            region: Some("us-east-1".into()),
            ..Default::default()
        };
        let e = crate::network::create_network(&s, &t, &env(20), req, &TenantSpec::default())
            .expect_err("2 Elastic IPs and 2 static IPs are over a quota of 3");
        assert_eq!(e.code, ErrorCode::AddressLimitExceeded);
        assert!(e.message.contains("hold 2 addresses"), "{}", e.message);
    }

    #[test]
    fn release_refuses_an_associated_address_then_returns_it_to_the_pool() {
        let (mut s, t) = state();
        let o = allocate_address(&s, &t, &env(10)).expect("allocate");
        s.apply(&o.changes);
        let id = o.value.id.clone();
        let spec = vpc_naming(None, &[&id]);
        let e = release_address(&s, &t, &spec, &id, &env(11)).expect_err("in use");
        assert_eq!(e.code, ErrorCode::InvalidIpAddressInUse);
        assert_eq!(
            e.field.as_deref(),
            Some("vpcs[app].nat_gateways[nat].public_ips[0]")
        );
        let r = release_address(&s, &t, &TenantSpec::default(), &id, &env(12)).expect("release");
        s.apply(&r.changes);
        assert!(s.elastic_ips.is_empty());
        assert_eq!(
            s.ip_pool.released_at.get(&o.value.public_ip),
            Some(&UnixTime(1_012))
        );
        let e = release_address(&s, &t, &TenantSpec::default(), &id, &env(13))
            .expect_err("released already");
        assert_eq!(e.code, ErrorCode::InvalidAllocationIdNotFound);
    }

    #[test]
    fn another_tenants_allocation_is_not_found_and_not_resolved() {
        let (mut s, t) = state();
        let o = allocate_address(&s, &t, &env(10)).expect("allocate");
        s.apply(&o.changes);
        let other = TenantId("ten-other".into());
        let e = address(&s, &other, &o.value.id).expect_err("not theirs");
        assert_eq!(e.code, ErrorCode::InvalidAllocationIdNotFound);
        let mut theirs = vpc_naming(Some(&o.value.id), &[]).vpcs.remove(0);
        resolve(&s, &other, &mut theirs);
        assert_eq!(
            theirs.enis[0].public_ip.as_deref(),
            Some(o.value.id.as_str())
        );
        let mut mine = vpc_naming(Some(&o.value.id), &[&o.value.id]).vpcs.remove(0);
        resolve(&s, &t, &mut mine);
        assert_eq!(mine.enis[0].public_ip.as_deref(), Some("203.0.113.8"));
        assert_eq!(mine.nat_gateways[0].public_ips, ["203.0.113.8"]);
    }

    #[test]
    fn tags_are_added_and_removed() {
        let (mut s, t) = state();
        let o = allocate_address(&s, &t, &env(10)).expect("allocate");
        s.apply(&o.changes);
        let id = o.value.id;
        let add = [("env".to_owned(), "prod".to_owned())];
        let a = tag_address(&s, &t, &id, &add, &[]).expect("tag");
        s.apply(&a.changes);
        assert_eq!(
            s.elastic_ips[&id].tags.get("env").map(String::as_str),
            Some("prod")
        );
        let again = tag_address(&s, &t, &id, &add, &[]).expect("tag again");
        assert!(
            again.changes.is_empty(),
            "the same tag again changes nothing"
        );
        let wrong = [("env".to_owned(), Some("dev".to_owned()))];
        assert!(
            tag_address(&s, &t, &id, &[], &wrong)
                .expect("untag")
                .changes
                .is_empty()
        );
        let r = tag_address(&s, &t, &id, &[], &[("env".to_owned(), None)]).expect("untag");
        s.apply(&r.changes);
        assert!(s.elastic_ips[&id].tags.is_empty());
    }
}
