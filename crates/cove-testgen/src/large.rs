//! Large generated networks for the analyzer benchmark: by default 1,000 VPCs,
//! 10,000 ENIs and 100,000 security-group and network-ACL rules.

use cove_model::spec::*;

use crate::rng::SplitMix64;

/// Size of a generated network.
#[derive(Debug, Clone, Copy)]
pub struct LargeParams {
    /// Number of VPCs (each a /20 in 10.0.0.0/8, so at most 4,096).
    pub vpcs: usize,
    /// Subnets per VPC (/24s, at most 16).
    pub subnets_per_vpc: usize,
    /// ENIs per VPC.
    pub enis_per_vpc: usize,
    /// Security groups per VPC.
    pub groups_per_vpc: usize,
    /// Rules per security group (ingress + egress).
    pub rules_per_group: usize,
    /// Custom network ACLs per VPC.
    pub acls_per_vpc: usize,
    /// Entries per ACL (ingress + egress).
    pub entries_per_acl: usize,
    /// Each VPC is peered with this many following VPCs (ring order).
    pub peers_per_vpc: usize,
}

impl LargeParams {
    /// 1,000 VPCs, 10,000 ENIs, 80,000 SG rules + 20,000 NACL entries.
    pub const BENCH: LargeParams = LargeParams {
        vpcs: 1000,
        subnets_per_vpc: 4,
        enis_per_vpc: 10,
        groups_per_vpc: 10,
        rules_per_group: 8,
        acls_per_vpc: 2,
        entries_per_acl: 10,
        peers_per_vpc: 1,
    };

    /// Total SG rules plus NACL entries.
    pub fn rule_count(&self) -> usize {
        self.vpcs
            * (self.groups_per_vpc * self.rules_per_group
                + self.acls_per_vpc * self.entries_per_acl)
    }
}

fn vpc_base(i: usize) -> u32 {
    0x0A00_0000 + u32::try_from(i).unwrap_or(0) * 4096
}

fn ip(x: u32) -> String {
    std::net::Ipv4Addr::from(x).to_string()
}

fn vpc_cidr(i: usize) -> String {
    format!("{}/20", ip(vpc_base(i)))
}

fn subnet_cidr(v: usize, s: usize) -> String {
    format!(
        "{}/24",
        ip(vpc_base(v) + u32::try_from(s).unwrap_or(0) * 256)
    )
}

/// Generates a valid spec of the given size, deterministically from `seed`.
///
/// Shape: one tenant per 100 VPCs; VPC `i` is `10.0.0.0/8 + i*4096` /20, peered with
/// the next `peers_per_vpc` VPCs (ring), with a route per peer in every table; each
/// subnet uses its own route table; groups hold a mix of CIDR rules (own VPC, peer
/// VPCs, random) and group references; ACLs mix allow and deny entries and end with
/// allow-all so that traffic of the right ports gets through.
pub fn large_network(p: LargeParams, seed: u64) -> Spec {
    let mut rng = SplitMix64::new(seed);
    let mut spec = Spec::default();
    let tenant_of = |v: usize| v / 100;
    let tenants = p.vpcs.div_ceil(100);
    for t in 0..tenants {
        spec.tenants.push(TenantSpec {
            name: format!("t{t}"),
            ..Default::default()
        });
    }
    let peers = |v: usize| -> Vec<usize> {
        (1..=p.peers_per_vpc)
            .map(|k| (v + k) % p.vpcs)
            .filter(|w| *w != v)
            .collect()
    };
    let vpc_ref = |v: usize| format!("t{}/v{v}", tenant_of(v));
    let mut peerings = Vec::new();
    for v in 0..p.vpcs {
        for w in peers(v) {
            peerings.push(PeeringSpec {
                name: format!("p{v}-{w}"),
                requester: vpc_ref(v),
                accepter: vpc_ref(w),
                ..Default::default()
            });
        }
    }
    // The routes of VPC v: one per peering it takes part in.
    let mut peer_routes: Vec<Vec<RouteSpec>> = vec![Vec::new(); p.vpcs];
    for pe in &peerings {
        let (a, b) = pe.name[1..].split_once('-').unwrap_or(("0", "0"));
        let (a, b) = (
            a.parse::<usize>().unwrap_or(0),
            b.parse::<usize>().unwrap_or(0),
        );
        for (from, to) in [(a, b), (b, a)] {
            if !peer_routes[from]
                .iter()
                .any(|r| r.destination.as_deref() == Some(vpc_cidr(to).as_str()))
            {
                peer_routes[from].push(RouteSpec {
                    destination: Some(vpc_cidr(to)),
                    peering: Some(pe.name.clone()),
                    ..Default::default()
                });
            }
        }
    }
    for (v, routes) in peer_routes.iter().enumerate() {
        let mut vpc = VpcSpec {
            name: format!("v{v}"),
            cidr: vpc_cidr(v),
            ..Default::default()
        };
        for s in 0..p.subnets_per_vpc {
            vpc.subnets.push(SubnetSpec {
                name: format!("s{s}"),
                cidr: subnet_cidr(v, s),
                az: format!("az{}", s % 3),
                route_table: Some(format!("rt{s}")),
                network_acl: (p.acls_per_vpc > 0).then(|| format!("acl{}", s % p.acls_per_vpc)),
                ..Default::default()
            });
            vpc.route_tables.push(RouteTableSpec {
                name: format!("rt{s}"),
                routes: routes.clone(),
                ..Default::default()
            });
        }
        let neighbours: Vec<usize> = peers(v)
            .into_iter()
            .chain((0..p.vpcs).filter(|w| peers(*w).contains(&v)))
            .collect();
        for a in 0..p.acls_per_vpc {
            vpc.network_acls.push(acl(&mut rng, a, p.entries_per_acl));
        }
        for g in 0..p.groups_per_vpc {
            vpc.security_groups
                .push(group(&mut rng, v, g, &p, &neighbours));
        }
        for e in 0..p.enis_per_vpc {
            let s = e % p.subnets_per_vpc.max(1);
            let g1 = rng.index(p.groups_per_vpc.max(1));
            let g2 = rng.index(p.groups_per_vpc.max(1));
            let mut groups = vec![format!("g{g1}")];
            if g2 != g1 {
                groups.push(format!("g{g2}"));
            }
            vpc.enis.push(EniSpec {
                name: format!("e{e}"),
                subnet: format!("s{s}"),
                security_groups: groups,
                ..Default::default()
            });
        }
        spec.tenants[tenant_of(v)].vpcs.push(vpc);
    }
    spec.peerings = peerings;
    spec
}

const PORTS: [u16; 8] = [22, 80, 443, 3306, 5432, 6379, 8080, 9000];

fn acl(rng: &mut SplitMix64, a: usize, entries: usize) -> NetworkAclSpec {
    let half = entries / 2;
    let mk = |rng: &mut SplitMix64, n: usize, total: usize| -> Vec<NaclEntrySpec> {
        (0..total)
            .map(|i| {
                let last = i + 1 == total;
                let rule = i64::try_from(100 + i * 10).unwrap_or(100);
                if last {
                    return NaclEntrySpec {
                        rule: Scalar::Int(rule),
                        action: "allow".into(),
                        protocol: "all".into(),
                        cidr: "0.0.0.0/0".into(),
                        ..Default::default()
                    };
                }
                let port = PORTS[rng.index(PORTS.len())];
                let deny = rng.chance(30) && n.is_multiple_of(2);
                NaclEntrySpec {
                    rule: Scalar::Int(rule),
                    action: if deny { "deny" } else { "allow" }.into(),
                    protocol: "tcp".into(),
                    ports: Some(Scalar::Int(i64::from(port))),
                    cidr: format!("10.{}.0.0/16", rng.below(256)),
                    ..Default::default()
                }
            })
            .collect()
    };
    NetworkAclSpec {
        name: format!("acl{a}"),
        ingress: mk(rng, a, half.max(1)),
        egress: mk(rng, a + 1, (entries - half).max(1)),
        ..Default::default()
    }
}

fn group(
    rng: &mut SplitMix64,
    v: usize,
    g: usize,
    p: &LargeParams,
    neighbours: &[usize],
) -> SecurityGroupSpec {
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    for i in 0..p.rules_per_group {
        let port = PORTS[rng.index(PORTS.len())];
        let rule = match rng.below(4) {
            0 => SgRuleSpec {
                protocol: "tcp".into(),
                ports: Some(Scalar::Int(i64::from(port))),
                security_group: Some(format!("g{}", rng.index(p.groups_per_vpc.max(1)))),
                ..Default::default()
            },
            1 if !neighbours.is_empty() => SgRuleSpec {
                protocol: "tcp".into(),
                ports: Some(Scalar::Int(i64::from(port))),
                cidr: Some(vpc_cidr(neighbours[rng.index(neighbours.len())])),
                ..Default::default()
            },
            2 => SgRuleSpec {
                protocol: "tcp".into(),
                ports: Some(Scalar::Str(format!("{}-{}", port, port + 10))),
                cidr: Some(format!("10.{}.{}.0/24", rng.below(256), rng.below(256))),
                ..Default::default()
            },
            _ => SgRuleSpec {
                protocol: if rng.chance(50) { "udp" } else { "tcp" }.into(),
                ports: Some(Scalar::Int(i64::from(port))),
                cidr: Some(vpc_cidr(v)),
                ..Default::default()
            },
        };
        if i.is_multiple_of(2) {
            ingress.push(rule);
        } else {
            egress.push(rule);
        }
    }
    dedup(&mut ingress);
    dedup(&mut egress);
    SecurityGroupSpec {
        name: format!("g{g}"),
        ingress,
        egress: Some(egress),
        ..Default::default()
    }
}

/// Removes duplicate rules (AWS rejects them) while keeping the count close.
fn dedup(rules: &mut Vec<SgRuleSpec>) {
    let mut seen = Vec::new();
    rules.retain(|r| {
        let key = format!("{:?}", r);
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use cove_model::validate::validate;

    use super::*;

    #[test]
    fn small_instance_validates() {
        let p = LargeParams {
            vpcs: 12,
            ..LargeParams::BENCH
        };
        let spec = large_network(p, 42);
        let v = validate(&spec);
        let errors: Vec<_> = v.errors().collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let net = v.network.expect("valid");
        assert_eq!(net.vpcs.len(), 12);
        assert_eq!(net.enis.len(), 120);
        assert_eq!(net.peerings.len(), 12);
    }

    #[test]
    fn deterministic() {
        let p = LargeParams {
            vpcs: 5,
            ..LargeParams::BENCH
        };
        assert_eq!(large_network(p, 1), large_network(p, 1));
        assert_ne!(large_network(p, 1), large_network(p, 2));
    }
}
