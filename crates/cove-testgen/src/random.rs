//! Small random valid networks with every feature the analyzer follows: several VPCs,
//! peerings in every state, route tables with peering / NAT / internet-gateway /
//! blackhole routes (whole peer VPCs or single subnets of them), security groups with
//! CIDR and group-reference rules, network ACLs with allow and deny entries, public
//! IPs, routes propagated by a virtual private gateway beside static ones; and
//! ([`add_functions`]) functions behind shared ENIs. Used by the randomized tests (indexed vs naive analyzer, and later the kernel).

use cove_model::spec::*;

use crate::rng::SplitMix64;

/// Ports the generated rules and flows draw from, so that rules and flows meet often.
pub const RANDOM_PORTS: [u16; 6] = [22, 80, 443, 5432, 8080, 33000];

const STATUSES: [&str; 8] = [
    "active",
    "active",
    "active",
    "active",
    "active",
    "pending-acceptance",
    "rejected",
    "deleted",
];

fn pick<'a>(rng: &mut SplitMix64, items: &[&'a str]) -> &'a str {
    items[rng.index(items.len())]
}

/// A random valid spec, deterministic in `seed`: 2–4 VPCs of one or two tenants, each
/// `10.<v+1>.0.0/16` with 2–3 subnets.
pub fn random_network(seed: u64) -> Spec {
    generate(seed, false)
}

/// [`random_network`] where the last VPC (of three or four) reuses the first one's
/// block, `10.1.0.0/16`: the same draws otherwise, so two VPCs overlap (their ENIs
/// get the same addresses, and a peering between them is `failed`), while routes,
/// ACL and security-group rules that name `10.1.…` now mean either of them.
pub fn random_network_overlapping(seed: u64) -> Spec {
    generate(seed, true)
}

fn generate(seed: u64, overlap: bool) -> Spec {
    let mut rng = SplitMix64::new(seed);
    // Draws for features added later come from their own generator, so that the
    // networks of a seed stay what they were otherwise.
    let mut extra = SplitMix64::new(seed ^ 0x9E37_79B9_7F4A_7C15);
    let nvpcs = 2 + rng.index(3);
    // The second octet of each VPC's block.
    let block = |v: usize| {
        if overlap && nvpcs >= 3 && v == nvpcs - 1 {
            1
        } else {
            v + 1
        }
    };
    let mut spec = Spec::default();
    for t in 0..2 {
        spec.tenants.push(TenantSpec {
            name: format!("t{t}"),
            ..Default::default()
        });
    }
    let tenant_of = |v: usize| v % 2;
    let vpc_ref = |v: usize| format!("t{}/v{v}", tenant_of(v));
    let nsubnets: Vec<usize> = (0..nvpcs).map(|_| 2 + rng.index(2)).collect();

    // Peerings between random distinct pairs.
    let mut pairs: Vec<(usize, usize, String)> = Vec::new();
    for a in 0..nvpcs {
        for b in a + 1..nvpcs {
            if rng.chance(60) {
                let status = pick(&mut rng, &STATUSES).to_owned();
                pairs.push((a, b, status));
            }
        }
    }
    for (a, b, status) in &pairs {
        spec.peerings.push(PeeringSpec {
            name: format!("p{a}-{b}"),
            requester: vpc_ref(*a),
            accepter: vpc_ref(*b),
            status: Some(status.clone()),
            ..Default::default()
        });
    }

    for (v, &nsub) in nsubnets.iter().enumerate() {
        let base = format!("10.{}", block(v));
        let mut vpc = VpcSpec {
            name: format!("v{v}"),
            cidr: format!("{base}.0.0/16"),
            ..Default::default()
        };
        let has_igw = rng.chance(60);
        if has_igw {
            vpc.internet_gateway = Some(InternetGatewaySpec {
                name: "igw".into(),
                ..Default::default()
            });
        }
        let peers: Vec<(usize, String)> = pairs
            .iter()
            .filter_map(|(a, b, _)| {
                let name = format!("p{a}-{b}");
                if *a == v {
                    Some((*b, name))
                } else if *b == v {
                    Some((*a, name))
                } else {
                    None
                }
            })
            .collect();
        // Subnet 0 is public when there is an internet gateway; it hosts a NAT gateway.
        let has_nat = has_igw && rng.chance(70);
        if has_nat {
            // Half of them with a second public IP (its secondary address comes
            // after every interface, so the rest of the network stays the same).
            let mut public_ips = vec![format!("203.0.113.{}", 10 + v)];
            if extra.chance(50) {
                public_ips.push(format!("203.0.113.{}", 110 + v));
            }
            vpc.nat_gateways.push(NatGatewaySpec {
                name: "nat".into(),
                subnet: "s0".into(),
                public_ips,
                ..Default::default()
            });
        }
        let ntables = 1 + rng.index(3);
        for t in 0..ntables {
            let mut routes = Vec::new();
            for (peer, name) in &peers {
                let peer_base = format!("10.{}", block(*peer));
                let route = match rng.below(4) {
                    0 => None,
                    1 => Some(RouteSpec {
                        destination: Some(format!("{peer_base}.{}.0/24", rng.below(3))),
                        peering: Some(name.clone()),
                        ..Default::default()
                    }),
                    _ => Some(RouteSpec {
                        destination: Some(format!("{peer_base}.0.0/16")),
                        peering: Some(name.clone()),
                        ..Default::default()
                    }),
                };
                // A route into the VPC's own block is invalid (the local route), and
                // two overlapping peers may draw the same destination.
                let taken = |r: &RouteSpec| {
                    routes
                        .iter()
                        .any(|x: &RouteSpec| x.destination == r.destination)
                };
                if let Some(r) = route.filter(|r| block(*peer) != block(v) && !taken(r)) {
                    routes.push(r);
                }
            }
            if t == 0 && has_igw {
                routes.push(RouteSpec {
                    destination: Some("0.0.0.0/0".into()),
                    internet_gateway: Some("igw".into()),
                    ..Default::default()
                });
            } else if has_nat && rng.chance(70) {
                routes.push(RouteSpec {
                    destination: Some("0.0.0.0/0".into()),
                    nat_gateway: Some("nat".into()),
                    ..Default::default()
                });
            } else if has_igw && rng.chance(30) {
                routes.push(RouteSpec {
                    destination: Some("0.0.0.0/0".into()),
                    internet_gateway: Some("igw".into()),
                    ..Default::default()
                });
            }
            if rng.chance(20) {
                let other = (v + 1 + rng.index(nvpcs - 1)) % nvpcs;
                let dest = format!("10.{}.{}.0/24", block(other), rng.below(3));
                if block(other) != block(v)
                    && !routes
                        .iter()
                        .any(|r| r.destination.as_deref() == Some(dest.as_str()))
                {
                    routes.push(RouteSpec {
                        destination: Some(dest),
                        blackhole: true,
                        ..Default::default()
                    });
                }
            }
            // A route a virtual private gateway propagated, with the destination of
            // a static route and listed first: the static route must still win.
            if !routes.is_empty() && extra.chance(30) {
                let i = extra.index(routes.len());
                let destination = routes[i].destination.clone();
                routes.insert(
                    0,
                    RouteSpec {
                        destination,
                        unmodeled: Some(format!("vgw-{v}")),
                        propagated: true,
                        ..Default::default()
                    },
                );
            }
            vpc.route_tables.push(RouteTableSpec {
                name: format!("rt{t}"),
                main: t == ntables - 1 && rng.chance(50),
                routes,
                ..Default::default()
            });
        }
        let nacls = rng.index(3);
        for a in 0..nacls {
            vpc.network_acls.push(random_acl(&mut rng, a, &base, nvpcs));
        }
        let ngroups = 1 + rng.index(3);
        for g in 0..ngroups {
            vpc.security_groups
                .push(random_group(&mut rng, g, ngroups, &base, nvpcs));
        }
        for s in 0..nsub {
            let route_table = if s == 0 && has_igw {
                Some("rt0".to_owned())
            } else if rng.chance(70) {
                Some(format!("rt{}", rng.index(ntables)))
            } else {
                None
            };
            vpc.subnets.push(SubnetSpec {
                name: format!("s{s}"),
                cidr: format!("{base}.{s}.0/24"),
                az: format!("az{}", s % 2),
                route_table,
                network_acl: (nacls > 0 && rng.chance(60))
                    .then(|| format!("acl{}", rng.index(nacls))),
                ..Default::default()
            });
        }
        let nenis = 2 + rng.index(4);
        for e in 0..nenis {
            let s = rng.index(nsub);
            let mut groups = vec![format!("g{}", rng.index(ngroups))];
            if rng.chance(30) {
                let g = format!("g{}", rng.index(ngroups));
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
            if rng.chance(10) {
                groups.push("default".into());
            }
            vpc.enis.push(EniSpec {
                name: format!("e{e}"),
                subnet: format!("s{s}"),
                security_groups: groups,
                public_ip: (s == 0 && has_igw && rng.chance(60))
                    .then(|| format!("198.18.{v}.{}", 10 + e)),
                ..Default::default()
            });
        }
        spec.tenants[tenant_of(v)].vpcs.push(vpc);
    }
    spec
}

/// Adds 0–2 functions to each VPC of a generated spec (deterministic in `seed`):
/// random subnets and security groups of the VPC, concurrency 2, so their
/// environments send through shared ENIs (one per subnet and group set, numbered
/// after every other interface). Their `code` is `./code`, which does not exist:
/// for tests that plan and apply the network, not for ones that deploy functions.
pub fn add_functions(spec: &mut Spec, seed: u64) {
    let mut rng = SplitMix64::new(seed ^ 0x00F0_0C0D_E5EE_D000);
    for t in &mut spec.tenants {
        for vpc in &mut t.vpcs {
            let nsub = vpc.subnets.len();
            let groups: Vec<String> = vpc.security_groups.iter().map(|g| g.name.clone()).collect();
            if nsub == 0 || groups.is_empty() {
                continue;
            }
            for f in 0..rng.index(3) {
                let mut subnets = vec![vpc.subnets[rng.index(nsub)].name.clone()];
                if rng.chance(40) {
                    let s = vpc.subnets[rng.index(nsub)].name.clone();
                    if !subnets.contains(&s) {
                        subnets.push(s);
                    }
                }
                let mut sgs = vec![groups[rng.index(groups.len())].clone()];
                if rng.chance(30) {
                    let g = groups[rng.index(groups.len())].clone();
                    if !sgs.contains(&g) {
                        sgs.push(g);
                    }
                }
                vpc.functions.push(FunctionSpec {
                    name: format!("{}x{f}", vpc.name),
                    runtime: "python3.11".into(),
                    handler: "app.handler".into(),
                    code: "./code".into(),
                    subnets,
                    security_groups: sgs,
                    concurrency: Some(Scalar::Int(2)),
                    ..Default::default()
                });
            }
        }
    }
}

fn random_cidr(rng: &mut SplitMix64, base: &str, nvpcs: usize) -> String {
    match rng.below(5) {
        0 => "0.0.0.0/0".into(),
        1 => format!("{base}.0.0/16"),
        2 => format!("10.{}.0.0/16", 1 + rng.index(nvpcs)),
        3 => format!("10.{}.{}.0/24", 1 + rng.index(nvpcs), rng.below(3)),
        _ => "10.0.0.0/8".into(),
    }
}

fn random_traffic(rng: &mut SplitMix64) -> (Scalar, Option<Scalar>, Option<i64>) {
    let port = i64::from(RANDOM_PORTS[rng.index(RANDOM_PORTS.len())]);
    match rng.below(6) {
        0 => ("all".into(), None, None),
        1 => ("icmp".into(), None, rng.chance(50).then_some(8)),
        2 => ("udp".into(), Some(Scalar::Int(port)), None),
        3 => (
            "tcp".into(),
            Some(Scalar::Str(format!("{port}-{}", port + 100))),
            None,
        ),
        _ => ("tcp".into(), Some(Scalar::Int(port)), None),
    }
}

fn random_group(
    rng: &mut SplitMix64,
    g: usize,
    ngroups: usize,
    base: &str,
    nvpcs: usize,
) -> SecurityGroupSpec {
    let rule = |rng: &mut SplitMix64| {
        let (protocol, ports, icmp_type) = random_traffic(rng);
        let by_group = rng.chance(30);
        SgRuleSpec {
            protocol,
            ports,
            icmp_type,
            cidr: (!by_group).then(|| random_cidr(rng, base, nvpcs)),
            security_group: by_group.then(|| format!("g{}", rng.index(ngroups))),
            ..Default::default()
        }
    };
    let mut ingress: Vec<SgRuleSpec> = (0..1 + rng.index(4)).map(|_| rule(rng)).collect();
    if rng.chance(35) {
        // A broad rule, as many real groups have: everything from the private range.
        ingress.push(SgRuleSpec {
            protocol: "all".into(),
            cidr: Some("10.0.0.0/8".into()),
            ..Default::default()
        });
    }
    let egress = if rng.chance(50) {
        None
    } else {
        Some((0..1 + rng.index(3)).map(|_| rule(rng)).collect::<Vec<_>>())
    };
    dedup(&mut ingress);
    SecurityGroupSpec {
        name: format!("g{g}"),
        ingress,
        egress: egress.map(|mut e| {
            dedup(&mut e);
            e
        }),
        ..Default::default()
    }
}

fn dedup(rules: &mut Vec<SgRuleSpec>) {
    let mut seen: Vec<SgRuleSpec> = Vec::new();
    rules.retain(|r| {
        if seen.contains(r) {
            false
        } else {
            seen.push(r.clone());
            true
        }
    });
}

fn random_acl(rng: &mut SplitMix64, a: usize, base: &str, nvpcs: usize) -> NetworkAclSpec {
    let entries = |rng: &mut SplitMix64| -> Vec<NaclEntrySpec> {
        let n = rng.index(5);
        let mut out: Vec<NaclEntrySpec> = (0..n)
            .map(|i| {
                let (protocol, ports, icmp_type) = random_traffic(rng);
                let ports = if rng.chance(30) {
                    Some(Scalar::Str(
                        if rng.chance(50) {
                            "1024-65535"
                        } else {
                            "32768-65535"
                        }
                        .into(),
                    ))
                } else {
                    ports
                };
                let ports_ok = ports.is_none() || matches!(protocol.text().as_str(), "tcp" | "udp");
                let (protocol, icmp_type) = if ports_ok {
                    (protocol, icmp_type)
                } else {
                    (Scalar::from("tcp"), None)
                };
                NaclEntrySpec {
                    rule: Scalar::Int(i64::try_from(10 * (i + 1)).unwrap_or(10)),
                    action: if rng.chance(30) { "deny" } else { "allow" }.into(),
                    protocol,
                    ports,
                    icmp_type,
                    cidr: random_cidr(rng, base, nvpcs),
                    ..Default::default()
                }
            })
            .collect();
        if rng.chance(60) {
            out.push(NaclEntrySpec {
                rule: Scalar::Int(200),
                action: "allow".into(),
                protocol: "all".into(),
                cidr: "0.0.0.0/0".into(),
                ..Default::default()
            });
        }
        out
    };
    NetworkAclSpec {
        name: format!("acl{a}"),
        ingress: entries(rng),
        egress: entries(rng),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use cove_model::validate::validate;

    use super::*;

    #[test]
    fn many_seeds_validate() {
        for seed in 0..300 {
            let spec = random_network(seed);
            let v = validate(&spec);
            let errors: Vec<_> = v.errors().collect();
            assert!(errors.is_empty(), "seed {seed}: {errors:#?}");
            let net = v.network.expect("valid");
            assert!(net.vpcs.len() >= 2, "seed {seed}");
        }
    }

    #[test]
    fn seeds_with_functions_validate_and_share_enis() {
        let mut shared = 0;
        for seed in 0..100 {
            let mut spec = random_network_overlapping(seed);
            add_functions(&mut spec, seed);
            let v = validate(&spec);
            let errors: Vec<_> = v.errors().collect();
            assert!(errors.is_empty(), "seed {seed}: {errors:#?}");
            let net = v.network.expect("valid");
            shared += net
                .enis
                .iter()
                .filter(|e| e.owner == cove_model::EniOwner::Shared)
                .count();
        }
        assert!(shared > 50, "{shared} shared ENIs in 100 networks");
    }

    #[test]
    fn covers_every_feature_over_seeds() {
        let nets: Vec<_> = (0..100)
            .filter_map(|s| validate(&random_network(s)).network)
            .collect();
        assert!(nets.iter().any(|n| !n.nat_gateways.is_empty()));
        assert!(
            nets.iter()
                .any(|n| n.enis.iter().any(|e| e.public_ip.is_some()))
        );
        assert!(nets.iter().any(|n| {
            n.peerings
                .iter()
                .any(|p| p.status != cove_model::PeeringStatus::Active)
        }));
        assert!(nets.iter().any(|n| n.route_tables.iter().any(|t| {
            t.routes
                .iter()
                .any(|r| r.target == cove_model::RouteTarget::Blackhole)
        })));
        // A propagated route beside a static one of the same destination.
        assert!(nets.iter().any(|n| n.route_tables.iter().any(|t| {
            t.routes.iter().any(|p| {
                matches!(p.origin, cove_model::RouteOrigin::Propagated(_))
                    && t.routes.iter().any(|r| {
                        matches!(r.origin, cove_model::RouteOrigin::Spec(_))
                            && r.destination == p.destination
                    })
            })
        })));
    }
}
