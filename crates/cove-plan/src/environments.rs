//! Execution environments behind shared function ENIs ("Hyperplane", issue 17).
//!
//! Every function has `concurrency` environment namespaces, created ahead of any
//! invocation (so a cold start never waits for the network). Environment `k` uses
//! a shared ENI of the function's subnet `k mod subnets`
//! ([`cove_model::Function::environment_eni`]). Its namespace holds one
//! link-local address from [`ENV_RANGE`] and a default route to [`ENV_GATEWAY`]; the
//! link ends in the host router, which carries the shared ENI's firewall elements
//! for it, translates its connections to the shared ENI's address and lets only
//! their replies back (see [`crate::nft`]). No subnet address is used per
//! environment.
//!
//! Link-local addresses are unique in the router (replies are routed to them after
//! translation, whatever VPC they come from). Each environment's address is the
//! first free one from a hash of its namespace name, in the order of those hashes,
//! so adding or removing a function moves another environment only when their
//! hashes collide.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use cove_model::lookup::index_u32;
use cove_model::{EniId, FunctionId, Network};
use ipnet::Ipv4Net;

use crate::names::{Names, short_hash};

/// The link-local block environments are addressed from (16,382 per router).
pub const ENV_RANGE: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(169, 254, 64, 0), 18) {
    Ok(n) => n,
    Err(_) => panic!("ENV_RANGE"),
};

/// The gateway of every environment: the router's end of each environment link.
pub const ENV_GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 64, 1);

/// The router's table of routes to environments (replies, after translation).
/// VPC marks and table numbers have a VPC number ≥ 1 in their high 12 bits, so a
/// number below 2^20 is never one of them.
pub const ENV_TABLE: u32 = 0x000f_fffe;

/// Addresses in [`ENV_RANGE`] an environment can have (all but the network
/// address and [`ENV_GATEWAY`]).
pub const MAX_ENVIRONMENTS: usize = (1 << 14) - 2;

/// One execution environment's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The function.
    pub function: FunctionId,
    /// Its index among the function's environments (`0..concurrency`).
    pub index: u32,
    /// The shared ENI it sends through.
    pub shared_eni: EniId,
    /// Its namespace.
    pub ns: String,
    /// The router's end of its link.
    pub router_link: String,
    /// Its link-local address.
    pub address: Ipv4Addr,
    /// Its MAC (locally administered, from its namespace name).
    pub mac: [u8; 6],
}

impl Environment {
    /// The MAC as nft writes it.
    pub fn mac_text(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// Every environment of the network, in function order, or the number of
/// environments when more than [`MAX_ENVIRONMENTS`] are needed.
pub fn environments(net: &Network, names: &Names<'_>) -> Result<Vec<Environment>, usize> {
    let mut out = Vec::new();
    for (fi, f) in net.functions.iter().enumerate() {
        if f.shared_enis.is_empty() {
            continue;
        }
        let function = FunctionId(index_u32(fi));
        for k in 0..f.concurrency {
            let Some(shared_eni) = f.environment_eni(k) else {
                continue;
            };
            let ns = names.env_ns(function, k);
            let h = short_hash("envmac", &ns);
            let mut mac = [0x02, 0, 0, 0, 0, 0x02];
            for (i, byte) in mac.iter_mut().skip(1).enumerate().take(4) {
                *byte = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            out.push(Environment {
                function,
                index: k,
                shared_eni,
                router_link: names.env_router_link(function, k),
                ns,
                address: Ipv4Addr::UNSPECIFIED,
                mac,
            });
        }
    }
    if out.len() > MAX_ENVIRONMENTS {
        return Err(out.len());
    }
    assign_addresses(&mut out);
    Ok(out)
}

/// Gives each environment the first free address from the hash of its namespace
/// name, taking environments in the order of their hashes (ties by name).
fn assign_addresses(envs: &mut [Environment]) {
    let size = 1u32 << (32 - ENV_RANGE.prefix_len());
    let base = u32::from(ENV_RANGE.network());
    let start = |ns: &str| -> u32 {
        let h = short_hash("envip", ns);
        u32::from_str_radix(&h, 16).unwrap_or(0) % size
    };
    let mut order: Vec<(u32, usize)> = envs
        .iter()
        .enumerate()
        .map(|(i, e)| (start(&e.ns), i))
        .collect();
    order.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| envs[a.1].ns.cmp(&envs[b.1].ns)));
    let reserved: BTreeSet<u32> = [0, u32::from(ENV_GATEWAY) - base].into();
    let mut used: BTreeSet<u32> = BTreeSet::new();
    for (s, i) in order {
        let mut off = s;
        while reserved.contains(&off) || used.contains(&off) {
            off = (off + 1) % size;
        }
        used.insert(off);
        envs[i].address = Ipv4Addr::from(base + off);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(functions: &str) -> Network {
        let text = format!(
            "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.5.0.0/16\n\
             \x20       subnets:\n          - {{ name: a, cidr: 10.5.1.0/24, az: x }}\n\
             \x20         - {{ name: b, cidr: 10.5.2.0/24, az: y }}\n\
             \x20       functions:\n{functions}"
        );
        cove_model::validate::validate_text(&text)
            .network
            .expect("valid")
    }

    const F1: &str = "          - { name: f1, runtime: python3.11, handler: a.h, code: ./c, subnets: [a, b], concurrency: 300 }\n";
    const F2: &str = "          - { name: f2, runtime: python3.11, handler: a.h, code: ./c, subnets: [a], concurrency: 50 }\n";

    #[test]
    fn environments_spread_over_subnets_with_unique_addresses() {
        let n = net(F1);
        let names = Names::new(&n, "t1");
        let envs = environments(&n, &names).expect("fits");
        assert_eq!(envs.len(), 300);
        let f = &n.functions[0];
        for e in &envs {
            assert_eq!(e.shared_eni, f.shared_enis[e.index as usize % 2][0]);
            assert!(ENV_RANGE.contains(&e.address));
            assert_ne!(e.address, ENV_GATEWAY);
            assert_ne!(e.address, ENV_RANGE.network());
        }
        let addrs: BTreeSet<_> = envs.iter().map(|e| e.address).collect();
        assert_eq!(addrs.len(), 300);
        let links: BTreeSet<_> = envs.iter().map(|e| e.router_link.clone()).collect();
        assert_eq!(links.len(), 300);
        assert!(envs.iter().all(|e| e.router_link.len() <= 15));
    }

    #[test]
    fn adding_a_function_moves_no_environment_without_a_collision() {
        let before = net(F1);
        let after = net(&format!("{F1}{F2}"));
        let b = environments(&before, &Names::new(&before, "t1")).expect("fits");
        let a = environments(&after, &Names::new(&after, "t1")).expect("fits");
        let moved = b
            .iter()
            .filter(|e| !a.iter().any(|x| x.ns == e.ns && x.address == e.address))
            .count();
        // Only an environment whose hash collides with a new one's may move.
        assert!(moved <= 5, "{moved} of 300 environments moved");
    }

    #[test]
    fn too_many_environments_is_an_error() {
        let many: String = (0..17)
            .map(|i| format!("          - {{ name: f{i}, runtime: python3.11, handler: a.h, code: ./c, subnets: [a], concurrency: 1000 }}\n"))
            .collect();
        let n = net(&many);
        assert_eq!(environments(&n, &Names::new(&n, "t1")), Err(17_000));
    }
}
