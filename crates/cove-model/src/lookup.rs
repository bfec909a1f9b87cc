//! Finding objects of a [`Network`] by the names and ids a user types, and naming them
//! back in explanations.

use std::net::Ipv4Addr;

use crate::model::*;

/// Why a name did not resolve to exactly one ENI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// Nothing has that name, id or address.
    #[error("no ENI, instance or address matches `{0}`")]
    NotFound(String),
    /// Several objects match.
    #[error("`{query}` is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        /// What was typed.
        query: String,
        /// Qualified names of the matches.
        candidates: Vec<String>,
    },
}

impl Network {
    /// `tenant/vpc` of a VPC.
    pub fn vpc_path(&self, id: VpcId) -> String {
        let v = &self.vpcs[id.index()];
        format!("{}/{}", self.tenants[v.tenant.index()].name, v.name)
    }

    /// `tenant/vpc/name`, with the AWS id in parentheses when there is one.
    fn qualified(&self, vpc: VpcId, name: &str, aws_id: Option<&str>) -> String {
        match aws_id {
            Some(id) if id != name => format!("{}/{} ({id})", self.vpc_path(vpc), name),
            _ => format!("{}/{}", self.vpc_path(vpc), name),
        }
    }

    /// Display name of an ENI: `tenant/vpc/eni (eni-…)`.
    pub fn eni_label(&self, id: EniId) -> String {
        let e = &self.enis[id.index()];
        self.qualified(e.vpc, &e.name, e.aws_id.as_deref())
    }

    /// Display name of a subnet.
    pub fn subnet_label(&self, id: SubnetId) -> String {
        let s = &self.subnets[id.index()];
        self.qualified(s.vpc, &s.name, s.aws_id.as_deref())
    }

    /// Display name of a security group.
    pub fn sg_label(&self, id: SgId) -> String {
        let s = &self.security_groups[id.index()];
        self.qualified(s.vpc, &s.name, s.aws_id.as_deref())
    }

    /// Display name of a network ACL.
    pub fn nacl_label(&self, id: NaclId) -> String {
        let s = &self.network_acls[id.index()];
        self.qualified(s.vpc, &s.name, s.aws_id.as_deref())
    }

    /// Display name of a route table.
    pub fn route_table_label(&self, id: RouteTableId) -> String {
        let s = &self.route_tables[id.index()];
        self.qualified(s.vpc, &s.name, s.aws_id.as_deref())
    }

    /// Display name of a NAT gateway.
    pub fn nat_label(&self, id: NatId) -> String {
        let s = &self.nat_gateways[id.index()];
        self.qualified(s.vpc, &s.name, s.aws_id.as_deref())
    }

    /// Display name of an internet gateway.
    pub fn igw_label(&self, id: IgwId) -> String {
        let s = &self.internet_gateways[id.index()];
        self.qualified(s.vpc, &s.name, s.aws_id.as_deref())
    }

    /// Display name of an endpoint.
    pub fn endpoint_label(&self, id: EndpointId) -> String {
        let s = &self.endpoints[id.index()];
        self.qualified(s.vpc, &s.name, s.aws_id.as_deref())
    }

    /// Display name of a peering connection.
    pub fn peering_label(&self, id: PeeringId) -> String {
        let p = &self.peerings[id.index()];
        match &p.aws_id {
            Some(a) if *a != p.name => format!("{} ({a})", p.name),
            _ => p.name.clone(),
        }
    }

    /// Display name of a prefix list.
    pub fn prefix_list_label(&self, id: PrefixListId) -> String {
        let p = &self.prefix_lists[id.index()];
        let t = &self.tenants[p.tenant.index()].name;
        match &p.aws_id {
            Some(a) if *a != p.name => format!("{t}/{} ({a})", p.name),
            _ => format!("{t}/{}", p.name),
        }
    }

    /// Finds ENIs by what a user typed: `tenant/vpc/eni`, `vpc/eni`, `eni`, an ENI id
    /// (`eni-…`), an instance id (`i-…`, its first ENI), a function (`fn:NAME`: the
    /// shared ENI of its first subnet; `fn:NAME@SUBNET`: of that subnet; either may
    /// be qualified, `tenant/vpc/fn:NAME`) or a private IP. Returns every match; an
    /// address may match ENIs of several VPCs whose CIDRs overlap.
    pub fn find_enis(&self, query: &str) -> Vec<EniId> {
        let q = query.trim();
        let mut out = Vec::new();
        if let Ok(ip) = q.parse::<Ipv4Addr>() {
            for (i, e) in self.enis.iter().enumerate() {
                if e.private_ip == ip || e.public_ip == Some(ip) {
                    out.push(EniId(index_u32(i)));
                }
            }
            return out;
        }
        let parts: Vec<&str> = q.split('/').collect();
        if let Some(function) = parts.last().and_then(|l| l.strip_prefix("fn:")) {
            return self.find_function_enis(&parts[..parts.len() - 1], function);
        }
        let mut seen_instance = std::collections::BTreeSet::new();
        for (i, e) in self.enis.iter().enumerate() {
            let v = &self.vpcs[e.vpc.index()];
            let t = &self.tenants[v.tenant.index()];
            let by_name = match parts.as_slice() {
                [n] => e.name == *n,
                [vn, n] => v.name == *vn && e.name == *n,
                [tn, vn, n] => t.name == *tn && v.name == *vn && e.name == *n,
                _ => false,
            };
            // Its imported id, or the one derived from its path (as EC2's API and
            // flow logs show an ENI without an imported id).
            let by_id = e.aws_id.as_deref() == Some(q)
                || (e.aws_id.is_none()
                    && q.starts_with("eni-")
                    && crate::ids::resource_id(
                        "eni",
                        None,
                        &format!("{}/{}/{}", t.name, v.name, e.name),
                    ) == q);
            let by_instance = e.instance.as_deref() == Some(q) && seen_instance.insert(q);
            if by_name || by_id || by_instance {
                out.push(EniId(index_u32(i)));
            }
        }
        out
    }

    /// The shared ENIs of functions named `function` (`NAME` or `NAME@SUBNET`) in
    /// the VPCs that `scope` (`[]`, `[vpc]` or `[tenant, vpc]`) selects.
    fn find_function_enis(&self, scope: &[&str], function: &str) -> Vec<EniId> {
        let (name, subnet) = match function.split_once('@') {
            Some((n, s)) => (n, Some(s)),
            None => (function, None),
        };
        let mut out = Vec::new();
        for f in &self.functions {
            let v = &self.vpcs[f.vpc.index()];
            let t = &self.tenants[v.tenant.index()];
            let in_scope = match scope {
                [] => true,
                [vn] => v.name == *vn,
                [tn, vn] => t.name == *tn && v.name == *vn,
                _ => false,
            };
            if f.name != name || !in_scope {
                continue;
            }
            let chosen = match subnet {
                None => f.first_shared_enis().next(),
                Some(s) => f
                    .first_shared_enis()
                    .find(|e| self.subnets[self.enis[e.index()].subnet.index()].name == s),
            };
            out.extend(chosen);
        }
        out
    }

    /// Like [`Network::find_enis`], but exactly one match is required.
    pub fn find_eni(&self, query: &str) -> Result<EniId, LookupError> {
        let found = self.find_enis(query);
        match found.as_slice() {
            [] => Err(LookupError::NotFound(query.to_owned())),
            [one] => Ok(*one),
            many => Err(LookupError::Ambiguous {
                query: query.to_owned(),
                candidates: many.iter().map(|e| self.eni_label(*e)).collect(),
            }),
        }
    }

    /// The interfaces that stand for the network's workloads: every user ENI and
    /// every shared function ENI (through which functions' environments send).
    pub fn workload_enis(&self) -> Vec<EniId> {
        (0..self.enis.len())
            .filter(|i| matches!(self.enis[*i].owner, EniOwner::User | EniOwner::Shared))
            .map(|i| EniId(index_u32(i)))
            .collect()
    }

    /// The VPCs whose CIDRs contain `ip`.
    pub fn vpcs_containing(&self, ip: Ipv4Addr) -> Vec<VpcId> {
        (0..self.vpcs.len())
            .filter(|i| self.vpcs[*i].contains(ip))
            .map(|i| VpcId(index_u32(i)))
            .collect()
    }
}

impl Network {
    /// The address that stands for "a host on the internet": public, outside every VPC,
    /// prefix list and public IP of the network. The analyzer answers for it and the
    /// data plane puts a test host on it in its stand-in for the internet.
    pub fn internet_stand_in(&self) -> Ipv4Addr {
        let used = |ip: Ipv4Addr| {
            is_special_purpose(ip)
                || self.vpcs.iter().any(|v| v.contains(ip))
                || self
                    .prefix_lists
                    .iter()
                    .any(|p| p.cidrs.iter().any(|c| c.contains(&ip)))
                || self.enis.iter().any(|e| e.public_ip == Some(ip))
                || self.nat_gateways.iter().any(|n| n.public_ips.contains(&ip))
        };
        (1..=254u8)
            .flat_map(|h| {
                [
                    Ipv4Addr::new(198, 51, 100, h),
                    Ipv4Addr::new(192, 0, 2, h),
                    Ipv4Addr::new(203, 0, 113, h),
                ]
            })
            .chain((1..=254u8).map(|h| Ipv4Addr::new(8, 8, 4, h)))
            .find(|ip| !used(*ip))
            .unwrap_or(Ipv4Addr::new(198, 51, 100, 1))
    }
}

/// Whether an address is private or special-purpose and so never routed on the
/// internet: RFC 1918, shared address space (100.64.0.0/10), loopback, link-local,
/// "this network", multicast, reserved and broadcast.
pub fn is_special_purpose(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
}

/// Converts an arena index into an id. Arenas never exceed `u32::MAX` entries (the
/// validator refuses larger specs long before).
pub fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod derived_id_tests {
    use crate::validate::validate_text;

    #[test]
    fn an_eni_is_found_by_the_id_derived_from_its_path() {
        let v = validate_text(
            "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.5.0.0/16\n\
             \x20       subnets: [{ name: s, cidr: 10.5.1.0/24, az: a }]\n\
             \x20       enis:\n          - { name: app, subnet: s }\n\
             \x20         - { name: db, subnet: s, id: eni-0aaaaaaaaaaaaaaaa }\n",
        );
        let net = v.network.expect("valid");
        let app = crate::ids::resource_id("eni", None, "t/v/app");
        let found = net.find_eni(&app).expect("found by its derived id");
        assert_eq!(net.enis[found.index()].name, "app");
        // An imported id is the ENI's only id: the derived one names nothing.
        let db = crate::ids::resource_id("eni", None, "t/v/db");
        assert!(net.find_eni(&db).is_err());
        assert!(net.find_eni("eni-0aaaaaaaaaaaaaaaa").is_ok());
    }
}
