//! When a (subnet, security-group set) combination gets another shared function
//! ENI (pure; issue 17): Lambda's limit is 65,000 connections per shared ENI, and a
//! combination whose ENI carries more gets a second one.
//!
//! The reconciler counts the router's tracked connections per shared ENI address
//! ([`crate::Kernel::shared_eni_connections`]) and asks [`extras_wanted`] whether
//! the recorded extra ENIs ([`cove_model::spec::SharedEniExtra`], the store's
//! `shared_eni_extras` document) should change:
//!
//! * a combination whose `n` ENIs carry more than `n` times the limit together
//!   gets one more ENI, once every extra ENI already recorded for it exists in the
//!   network (one at a time). The environments spread over the combination's ENIs
//!   ([`cove_model::Function::environment_eni`]), so a new one takes their new
//!   connections; open ones keep their address until they end;
//! * entries of combinations no function uses any more are dropped (their ENIs
//!   went with the last function); the extra ENIs of a combination still in use
//!   stay while it is used (Lambda reclaims an idle ENI after weeks; cove keeps
//!   them until the combination is unused — removing one would end the
//!   connections through its address).
//!
//! The validated network leaves out extras past the VPC's quota of shared ENIs or
//! without a free address; such a record holds the combination's next one (at most
//! one record per combination waits).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use cove_model::spec::SharedEniExtra;
use cove_model::{EniId, Network};

/// Lambda's limit of connections through one shared ENI.
pub const SHARED_ENI_CONNECTIONS: u64 = 65_000;

/// One combination's ENIs in `net`: `(vpc path, first ENI's name)` → the ENIs
/// (first one first).
fn combinations(net: &Network) -> BTreeMap<(String, String), Vec<EniId>> {
    let mut out: BTreeMap<(String, String), Vec<EniId>> = BTreeMap::new();
    for f in &net.functions {
        for enis in &f.shared_enis {
            let Some(first) = enis.first() else { continue };
            let eni = &net.enis[first.index()];
            out.entry((net.vpc_path(eni.vpc), eni.name.clone()))
                .or_insert_with(|| enis.clone());
        }
    }
    out
}

/// The extra shared ENIs that should be recorded, given the `current` ones, the
/// network validated with them, and the connections per shared ENI address now;
/// `None` when `current` is right. `limit`: connections one ENI may carry before
/// its combination gets another ([`SHARED_ENI_CONNECTIONS`]).
pub fn extras_wanted(
    net: &Network,
    current: &[SharedEniExtra],
    connections: &BTreeMap<Ipv4Addr, u64>,
    limit: u64,
) -> Option<Vec<SharedEniExtra>> {
    let combos = combinations(net);
    let mut want: Vec<SharedEniExtra> = current
        .iter()
        .filter(|e| combos.contains_key(&(e.vpc.clone(), e.eni.clone())))
        .cloned()
        .collect();
    for ((vpc, name), enis) in &combos {
        let total: u64 = enis
            .iter()
            .filter_map(|e| connections.get(&net.enis[e.index()].private_ip))
            .sum();
        let capacity = limit.saturating_mul(enis.len() as u64);
        if total <= capacity {
            continue;
        }
        let recorded = want
            .iter()
            .filter(|e| e.vpc == *vpc && e.eni == *name)
            .count();
        // Only when every recorded extra exists: one past the quota or without
        // an address is recorded once, and holds the next.
        if enis.len() != recorded + 1 {
            continue;
        }
        want.push(SharedEniExtra {
            vpc: vpc.clone(),
            eni: name.clone(),
        });
    }
    (want != current).then_some(want)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const SPEC: &str = "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.5.0.0/16\n\
        \x20       subnets:\n          - { name: a, cidr: 10.5.1.0/24, az: a }\n          - { name: b, cidr: 10.5.2.0/24, az: b }\n\
        \x20       security_groups:\n          - { name: g }\n\
        \x20       functions:\n";

    fn net(functions: &[&str], quota: Option<u32>, extras: &[SharedEniExtra]) -> Network {
        let mut text = SPEC.to_owned();
        for f in functions {
            text.push_str(&format!(
                "          - {{ runtime: python3.11, handler: a.h, code: ./c, security_groups: [g], {f} }}\n"
            ));
        }
        if let Some(q) = quota {
            text.push_str(&format!("quotas:\n  shared_enis_per_vpc: {q}\n"));
        }
        let platform = crate::desired::PlatformState {
            shared_eni_extras: extras.to_vec(),
            ..Default::default()
        };
        crate::desired::validate_desired(Some(&text), &[], None, &platform)
            .and_then(|v| v.network)
            .expect("valid")
    }

    fn extra(eni: &str) -> SharedEniExtra {
        SharedEniExtra {
            vpc: "t/v".into(),
            eni: eni.into(),
        }
    }

    fn ip(net: &Network, name: &str) -> Ipv4Addr {
        net.enis[net.find_eni(&format!("t/v/{name}")).expect(name).index()].private_ip
    }

    #[test]
    fn a_busy_combination_gets_one_more_eni_and_a_quiet_one_nothing() {
        let n = net(&["name: f, subnets: [a, b]"], None, &[]);
        let mut counts = BTreeMap::new();
        counts.insert(ip(&n, "hpl:a:g"), 20);
        counts.insert(ip(&n, "hpl:b:g"), 5);
        assert_eq!(extras_wanted(&n, &[], &counts, 20), None, "at the limit");
        counts.insert(ip(&n, "hpl:a:g"), 21);
        let want = extras_wanted(&n, &[], &counts, 20).expect("one more");
        assert_eq!(want, [extra("hpl:a:g")]);
        // Once it exists: two ENIs hold 40 together.
        let n2 = net(&["name: f, subnets: [a, b]"], None, &want);
        assert_eq!(n2.functions[0].shared_enis[0].len(), 2);
        assert_eq!(extras_wanted(&n2, &want, &counts, 20), None);
        counts.insert(ip(&n2, "hpl:a:g:2"), 20);
        let more = extras_wanted(&n2, &want, &counts, 20).expect("a third");
        assert_eq!(more, [extra("hpl:a:g"), extra("hpl:a:g")]);
        // Quiet again: nothing changes (extras stay while the combination is used).
        assert_eq!(extras_wanted(&n2, &want, &BTreeMap::new(), 20), None);
    }

    #[test]
    fn a_recorded_extra_that_does_not_exist_yet_holds_the_next_one() {
        // Quota 2: the first ENIs of a and b; the recorded extra is past it.
        let n = net(&["name: f, subnets: [a, b]"], Some(2), &[extra("hpl:a:g")]);
        assert_eq!(n.functions[0].shared_enis[0].len(), 1);
        let mut counts = BTreeMap::new();
        counts.insert(ip(&n, "hpl:a:g"), 1_000);
        assert_eq!(extras_wanted(&n, &[extra("hpl:a:g")], &counts, 20), None);
    }

    #[test]
    fn extras_of_combinations_no_function_uses_are_dropped() {
        let current = [extra("hpl:b:g"), extra("hpl:a:g")];
        let n = net(&["name: f, subnets: [a]"], None, &current);
        assert_eq!(
            extras_wanted(&n, &current, &BTreeMap::new(), 20),
            Some(vec![extra("hpl:a:g")])
        );
    }
}
