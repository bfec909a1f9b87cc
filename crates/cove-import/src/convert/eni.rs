//! Elastic network interfaces, from `NetworkInterfaces` and from the instances in
//! `Reservations` (each interface once).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;

use cove_model::spec::EniSpec;

use super::Builder;
use crate::aws;
use crate::files::Rec;
use crate::net;

/// Most security groups an interface can have (AWS's ceiling of the adjustable
/// quota; above the default of 5, the spec's `quotas:` says so).
const MAX_GROUPS: usize = cove_model::validate::Quotas::AWS_CEILING.security_groups_per_interface;

/// Interface types that belong to objects cove imports separately.
const SERVICE_TYPES: &[&str] = &["nat_gateway", "vpc_endpoint"];

/// Imports interfaces: first those of `NetworkInterfaces`, then the instances'
/// interfaces that file does not list.
pub(super) fn import(
    b: &mut Builder,
    enis: Vec<Rec<aws::NetworkInterface>>,
    instances: Vec<Rec<aws::Instance>>,
) {
    let mut done: BTreeSet<String> = BTreeSet::new();
    for Rec { file, item, .. } in &enis {
        done.insert(item.network_interface_id.clone());
        import_one(b, item, None, None, file);
    }
    for Rec { file, item, .. } in &instances {
        if item.network_interfaces.is_empty() {
            b.report.add(
                "instance",
                &item.instance_id,
                "it has no network interface in the export (stopped or terminated?)",
                file,
            );
        }
        for eni in &item.network_interfaces {
            if !done.insert(eni.network_interface_id.clone()) {
                continue;
            }
            let primary = eni.attachment.as_ref().and_then(|a| a.device_index) == Some(0);
            let public = if primary {
                item.public_ip_address.as_deref()
            } else {
                None
            };
            import_one(b, eni, Some(&item.instance_id), public, file);
        }
    }
}

/// Imports one interface, reporting why when it cannot be.
fn import_one(
    b: &mut Builder,
    e: &aws::NetworkInterface,
    instance: Option<&str>,
    public_fallback: Option<&str>,
    file: &Path,
) {
    let id = e.network_interface_id.clone();
    if !b.name_ok("network-interface", &id, file) {
        return;
    }
    let itype = e.interface_type.as_deref().unwrap_or("interface");
    if SERVICE_TYPES.contains(&itype) {
        if !b.service_enis.contains(&id) {
            b.report.add(
                "network-interface",
                &id,
                format!("interface of a {itype} that was not imported"),
                file,
            );
        }
        return;
    }
    let subnet_vpc = e
        .subnet_id
        .as_ref()
        .and_then(|s| b.subnets.get(s))
        .map(|s| s.vpc.clone());
    let vpc_ref = e.vpc_id.clone().or(subnet_vpc);
    let Some(vpc_id) = b.vpc_of(vpc_ref.as_ref(), "network-interface", &id, file) else {
        return;
    };
    let subnet = e
        .subnet_id
        .as_ref()
        .and_then(|s| {
            b.subnets
                .get(s)
                .map(|st| (s.clone(), st.net, st.vpc.clone()))
        })
        .filter(|(_, _, v)| *v == vpc_id);
    let Some((subnet_id, subnet_net, _)) = subnet else {
        b.report.add(
            "network-interface",
            &id,
            format!(
                "its subnet {} was not imported in {vpc_id}",
                super::text(&e.subnet_id)
            ),
            file,
        );
        return;
    };
    let primary = e.private_ip_address.clone().or_else(|| {
        e.private_ip_addresses
            .iter()
            .find(|p| p.primary)
            .and_then(|p| p.private_ip_address.clone())
    });
    let Some(primary) = primary else {
        b.report
            .add("network-interface", &id, "it has no private IP", file);
        return;
    };
    let ip = match net::usable_ip(&primary, subnet_net) {
        Ok(ip) => ip,
        Err(err) => {
            b.report.add("network-interface", &id, err, file);
            return;
        }
    };
    if b.vpcs
        .get(&vpc_id)
        .is_some_and(|v| v.used_ips.contains(&ip))
    {
        b.report.add(
            "network-interface",
            &id,
            format!("private IP {ip} is already used in {vpc_id}"),
            file,
        );
        return;
    }
    let mut groups = Vec::new();
    for g in &e.groups {
        let g = g.group_id.clone().unwrap_or_default();
        if b.security_groups.get(&g) == Some(&vpc_id) {
            groups.push(g);
        } else {
            b.report.add(
                "network-interface",
                &id,
                format!("security group {g} was not imported in {vpc_id}; reference dropped"),
                file,
            );
        }
    }
    if groups.len() > MAX_GROUPS {
        b.report.add(
            "network-interface",
            &id,
            format!(
                "it has {} security groups, more than AWS allows ({MAX_GROUPS})",
                groups.len()
            ),
            file,
        );
        return;
    }
    for p in &e.private_ip_addresses {
        if let Some(a) = &p.private_ip_address
            && a != &primary
        {
            b.report.add(
                "network-interface",
                &id,
                format!("secondary private IP {a} is not modeled"),
                file,
            );
        }
    }
    if !e.ipv6_addresses.is_empty() {
        b.report.add(
            "network-interface",
            &id,
            "IPv6 is not modeled: its IPv6 addresses are not imported",
            file,
        );
    }
    let public = e
        .association
        .as_ref()
        .and_then(|a| a.public_ip.as_deref())
        .or(public_fallback);
    let public_ip = match public.map(str::parse::<Ipv4Addr>) {
        Some(Ok(p)) => Some(p.to_string()),
        Some(Err(_)) => {
            b.report.add(
                "network-interface",
                &id,
                format!(
                    "public IP `{}` is not an IPv4 address; dropped",
                    public.unwrap_or("")
                ),
                file,
            );
            None
        }
        None => None,
    };
    let instance = e
        .attachment
        .as_ref()
        .and_then(|a| a.instance_id.clone())
        .or_else(|| instance.map(str::to_owned));
    let description = if itype == "interface" {
        e.description.clone().filter(|d| !d.is_empty())
    } else {
        Some(format!("{itype} interface"))
    };
    if let Some(vpc) = b.vpcs.get_mut(&vpc_id) {
        vpc.used_ips.insert(ip);
        vpc.spec.enis.push(EniSpec {
            name: id.clone(),
            id: Some(id),
            subnet: subnet_id,
            private_ip: Some(ip.to_string()),
            security_groups: groups,
            public_ip,
            instance,
            description,
        });
    }
}
