//! NAT gateways.

use cove_model::spec::NatGatewaySpec;

use super::Builder;
use crate::aws;
use crate::files::Rec;
use crate::net;

/// Imports available NAT gateways in imported subnets.
pub(super) fn import(b: &mut Builder, nats: Vec<Rec<aws::NatGateway>>) {
    for Rec { file, item, .. } in nats {
        let id = item.nat_gateway_id.clone();
        if !b.name_ok("nat-gateway", &id, &file) {
            continue;
        }
        let state = item.state.as_deref().unwrap_or("available");
        if state != "available" {
            b.report.add(
                "nat-gateway",
                &id,
                format!("its state is `{state}`, not available; routes to it become blackholes"),
                &file,
            );
            continue;
        }
        let Some(vpc_id) = b.vpc_of(item.vpc_id.as_ref(), "nat-gateway", &id, &file) else {
            continue;
        };
        let subnet = item
            .subnet_id
            .as_ref()
            .and_then(|s| b.subnets.get(s).map(|st| (s.clone(), st.clone())))
            .filter(|(_, st)| st.vpc == vpc_id);
        let Some((subnet_id, subnet)) = subnet else {
            b.report.add(
                "nat-gateway",
                &id,
                format!(
                    "its subnet {} was not imported in {vpc_id}",
                    super::text(&item.subnet_id)
                ),
                &file,
            );
            continue;
        };
        let primary_idx = item
            .nat_gateway_addresses
            .iter()
            .position(|a| a.is_primary == Some(true))
            .unwrap_or(0);
        let connectivity = item
            .connectivity_type
            .as_deref()
            .unwrap_or("public")
            .to_ascii_lowercase();
        if connectivity != "public" && connectivity != "private" {
            b.report.add(
                "nat-gateway",
                &id,
                format!("unknown connectivity type `{connectivity}`"),
                &file,
            );
            continue;
        }
        let mut private_ip = None;
        let mut public_ips = Vec::new();
        let mut problem = None;
        let mut enis = Vec::new();
        for (i, addr) in item.nat_gateway_addresses.iter().enumerate() {
            if let Some(eni) = &addr.network_interface_id {
                enis.push(eni.clone());
            }
            if i == primary_idx {
                if let Some(ip) = &addr.private_ip {
                    match net::usable_ip(ip, subnet.net) {
                        Ok(ip) => private_ip = Some(ip),
                        Err(e) => problem = Some(format!("private IP: {e}")),
                    }
                }
            } else if let Some(ip) = &addr.private_ip {
                b.report.add(
                    "nat-gateway",
                    &id,
                    format!("secondary private IP {ip} is not modeled"),
                    &file,
                );
            }
            if connectivity == "public"
                && let Some(p) = &addr.public_ip
            {
                match p.parse::<std::net::Ipv4Addr>() {
                    Ok(p) => public_ips.push(p.to_string()),
                    Err(_) => problem = Some(format!("`{p}` is not an IPv4 address")),
                }
            }
        }
        if connectivity == "public" && public_ips.is_empty() && problem.is_none() {
            problem = Some("a public NAT gateway without a public IP".to_owned());
        }
        let Some(vpc) = b.vpcs.get_mut(&vpc_id) else {
            continue;
        };
        if let Some(ip) = private_ip
            && vpc.used_ips.contains(&ip)
        {
            problem = Some(format!("private IP {ip} is already used in {vpc_id}"));
        }
        if let Some(p) = problem {
            b.report.add(
                "nat-gateway",
                &id,
                format!("{p}; routes to it become blackholes"),
                &file,
            );
            continue;
        }
        if let Some(ip) = private_ip {
            vpc.used_ips.insert(ip);
        }
        b.service_enis.extend(enis);
        vpc.spec.nat_gateways.push(NatGatewaySpec {
            name: id.clone(),
            id: Some(id.clone()),
            subnet: subnet_id,
            connectivity: Some(connectivity),
            private_ip: private_ip.map(|ip| ip.to_string()),
            public_ips,
            tags: Default::default(),
        });
        b.nat_gateways.insert(id, vpc_id);
    }
}
