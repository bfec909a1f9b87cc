//! Private DNS for generated networks ([`add_hosted_zones`]): VPCs with the
//! resolver or hostnames off, private hosted zones associated with some of their
//! tenant's VPCs (and, by authorization, with another tenant's), whose records
//! point at the network's ENIs directly or through CNAMEs; and
//! [`names_to_ask`], the names a test resolves from a VPC: every record, a name
//! missing from each zone, ENI hostnames, and a public name.

use std::net::Ipv4Addr;

use cove_model::dns::{eni_hostname, vpc_region};
use cove_model::spec::{HostedZoneSpec, RecordSpec, Scalar, Spec};
use cove_model::{EniOwner, Network, VpcId};

use crate::rng::SplitMix64;

/// Adds private DNS to `spec`, whose validated form is `net` (the records need
/// the addresses validation assigned; zones change none). Deterministic in
/// `seed`. Each tenant gets its own `corp.internal` (the same name, different
/// answers: a VPC sees only its tenant's) and a zone of its own name; each zone is
/// associated with a random subset of the tenant's VPCs, and a tenant's own zone
/// now and then with a VPC of the other tenant (authorized, as Route 53 requires).
/// One VPC in six has its resolver off, one in two its hostnames on.
pub fn add_hosted_zones(spec: &mut Spec, net: &Network, seed: u64) {
    let mut rng = SplitMix64::new(seed ^ 0x0D15_EA5E_D0D0_CAFE);
    for t in &mut spec.tenants {
        for v in &mut t.vpcs {
            v.dns_support = Some(!rng.chance(17));
            v.dns_hostnames = Some(rng.chance(50));
        }
    }
    let ntenants = spec.tenants.len();
    for ti in 0..ntenants {
        let tenant = spec.tenants[ti].name.clone();
        // The addresses of the tenant's ENIs (user ENIs: those a record would name),
        // with their VPCs.
        let addresses: Vec<(Ipv4Addr, VpcId)> = net
            .enis
            .iter()
            .filter(|e| {
                e.owner == EniOwner::User
                    && net.tenants[net.vpcs[e.vpc.index()].tenant.index()].name == tenant
            })
            .map(|e| (e.private_ip, e.vpc))
            .collect();
        if addresses.is_empty() {
            continue;
        }
        let vpcs: Vec<String> = spec.tenants[ti]
            .vpcs
            .iter()
            .map(|v| v.name.clone())
            .collect();
        for zone in ["corp.internal".to_owned(), format!("{tenant}.internal")] {
            let associated: Vec<String> = vpcs.iter().filter(|_| rng.chance(60)).cloned().collect();
            let mut records = Vec::new();
            let n = 1 + rng.index(3);
            for r in 0..n {
                let (ip, _) = addresses[rng.index(addresses.len())];
                records.push(record(&format!("a{r}.{zone}"), "A", &ip.to_string()));
            }
            // CNAMEs: to a record of the zone, or to an ENI's hostname (answered
            // only where that VPC's hostnames are on).
            let target = if rng.chance(50) {
                format!("a{}.{zone}", rng.index(n))
            } else {
                let (ip, vpc) = addresses[rng.index(addresses.len())];
                eni_hostname(ip, &vpc_region(net, vpc))
            };
            records.push(record(&format!("c0.{zone}"), "CNAME", &target));
            let mut authorizations = Vec::new();
            if zone != "corp.internal" && ntenants > 1 && rng.chance(40) {
                let other = (ti + 1) % ntenants;
                if let Some(v) = pick_vpc(&mut rng, spec, other) {
                    let me = format!("{}/{}", spec.tenants[other].name, v);
                    authorizations.push(me);
                    let ov = spec.tenants[other]
                        .vpcs
                        .iter_mut()
                        .find(|x| x.name == v)
                        .expect("picked from the list");
                    ov.associate_zones.push(format!("{tenant}/{zone}"));
                }
            }
            spec.tenants[ti].hosted_zones.push(HostedZoneSpec {
                name: zone,
                vpcs: associated,
                records,
                authorizations,
            });
        }
    }
}

fn pick_vpc(rng: &mut SplitMix64, spec: &Spec, tenant: usize) -> Option<String> {
    let vpcs = &spec.tenants[tenant].vpcs;
    (!vpcs.is_empty()).then(|| vpcs[rng.index(vpcs.len())].name.clone())
}

fn record(name: &str, kind: &str, value: &str) -> RecordSpec {
    RecordSpec {
        name: Some(name.to_owned()),
        kind: kind.to_owned(),
        ttl: None,
        values: vec![Scalar::Str(value.to_owned())],
    }
}

/// The names a test asks for in `net` (one made by [`add_hosted_zones`]): every
/// record's name, a name missing from each zone, the hostnames of up to `hosts`
/// user ENIs (`rng`'s choice), and a public name.
pub fn names_to_ask(net: &Network, rng: &mut SplitMix64, hosts: usize) -> Vec<String> {
    let mut names = Vec::new();
    for z in &net.hosted_zones {
        for r in &z.records {
            if !names.contains(&r.name) {
                names.push(r.name.clone());
            }
        }
        let missing = format!("missing.{}", z.name);
        if !names.contains(&missing) {
            names.push(missing);
        }
    }
    let users: Vec<(Ipv4Addr, VpcId)> = net
        .enis
        .iter()
        .filter(|e| e.owner == EniOwner::User)
        .map(|e| (e.private_ip, e.vpc))
        .collect();
    for _ in 0..hosts.min(users.len()) {
        let (ip, vpc) = users[rng.index(users.len())];
        let name = eni_hostname(ip, &vpc_region(net, vpc));
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.push("www.example.com.".to_owned());
    names
}

#[cfg(test)]
mod tests {
    use cove_model::validate::validate;

    use super::*;
    use crate::{random_network, random_network_overlapping};

    #[test]
    fn networks_with_zones_validate_and_cover_every_kind_of_zone() {
        let (mut cross, mut off, mut cnames_to_hosts, mut shared_names) = (0, 0, 0, 0);
        for seed in 0..200 {
            let mut spec = if seed % 4 == 3 {
                random_network_overlapping(seed)
            } else {
                random_network(seed)
            };
            let before = validate(&spec).network.expect("valid before zones");
            add_hosted_zones(&mut spec, &before, seed);
            let v = validate(&spec);
            let errors: Vec<_> = v.errors().collect();
            assert!(errors.is_empty(), "seed {seed}: {errors:#?}");
            let net = v.network.expect("valid");
            // Zones change no address: the records name the ENIs.
            assert_eq!(
                net.enis.iter().map(|e| e.private_ip).collect::<Vec<_>>(),
                before.enis.iter().map(|e| e.private_ip).collect::<Vec<_>>(),
                "seed {seed}"
            );
            cross += net
                .hosted_zones
                .iter()
                .filter(|z| {
                    z.vpcs
                        .iter()
                        .any(|v| net.vpcs[v.index()].tenant != z.tenant)
                })
                .count();
            off += net.vpcs.iter().filter(|v| !v.dns_support).count();
            cnames_to_hosts += spec
                .tenants
                .iter()
                .flat_map(|t| &t.hosted_zones)
                .flat_map(|z| &z.records)
                .filter(|r| r.kind == "CNAME" && format!("{:?}", r.values).contains("ip-"))
                .count();
            shared_names += usize::from(
                net.hosted_zones
                    .iter()
                    .filter(|z| z.name == "corp.internal.")
                    .count()
                    > 1,
            );
            let mut rng = SplitMix64::new(seed);
            let names = names_to_ask(&net, &mut rng, 3);
            for z in &net.hosted_zones {
                assert!(
                    names.contains(&format!("missing.{}", z.name)),
                    "seed {seed}"
                );
                assert!(
                    z.records.iter().all(|r| names.contains(&r.name)),
                    "seed {seed}"
                );
            }
            assert!(
                names
                    .iter()
                    .any(|n| n.contains(".compute.internal.") || n.contains(".ec2.internal."))
            );
        }
        assert!(cross > 10, "{cross} zones associated across tenants");
        assert!(off > 10, "{off} VPCs with the resolver off");
        assert!(
            cnames_to_hosts > 10,
            "{cnames_to_hosts} CNAMEs to hostnames"
        );
        assert!(
            shared_names > 10,
            "{shared_names} networks with two `corp.internal`"
        );
    }
}
