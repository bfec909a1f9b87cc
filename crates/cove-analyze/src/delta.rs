//! Reachability delta between two versions of a network: which flows a change opens
//! and which it closes.

use std::collections::{BTreeMap, BTreeSet};

use cove_model::{Network, PortRange, Protocol, TrafficMatch};
use serde::Serialize;

use crate::analyzer::Analyzer;
use crate::flow::{Endpoint, Flow};

/// Whether a flow became reachable or stopped being reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Blocked before, reachable now.
    Opened,
    /// Reachable before, blocked now.
    Closed,
}

/// One changed flow, by qualified names (`tenant/vpc/eni` or `internet`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FlowChange {
    /// Opened or closed.
    pub change: Change,
    /// Source.
    pub from: String,
    /// Destination.
    pub to: String,
    /// `tcp`, `udp`, `icmp` or a protocol number.
    pub protocol: String,
    /// Destination port (0 where the protocol has none).
    pub port: u16,
}

/// The probes worth asking: TCP and UDP on every port bound that a rule of either
/// network mentions (the first and last port of each range), and ICMP echo.
fn probes(nets: &[&Network]) -> Vec<(u8, u16)> {
    let mut ports: BTreeSet<(u8, u16)> = BTreeSet::new();
    let mut add = |t: &TrafficMatch| {
        let protos: &[u8] = match t.protocol {
            Protocol::Tcp => &[Protocol::TCP],
            Protocol::Udp => &[Protocol::UDP],
            _ => &[],
        };
        if t.ports == PortRange::ALL {
            return;
        }
        for p in protos {
            ports.insert((*p, t.ports.from));
            ports.insert((*p, t.ports.to));
        }
    };
    for net in nets {
        for g in &net.security_groups {
            g.ingress
                .iter()
                .chain(&g.egress)
                .for_each(|r| add(&r.traffic));
        }
        for a in &net.network_acls {
            a.ingress
                .iter()
                .chain(&a.egress)
                .for_each(|e| add(&e.traffic));
        }
    }
    if ports.is_empty() {
        ports.insert((Protocol::TCP, 443));
    }
    ports.insert((Protocol::ICMP, 0));
    ports.into_iter().collect()
}

fn endpoints(net: &Network) -> BTreeMap<String, Endpoint> {
    let mut out: BTreeMap<String, Endpoint> = net
        .workload_enis()
        .into_iter()
        .map(|id| {
            let e = &net.enis[id.index()];
            (
                format!("{}/{}", net.vpc_path(e.vpc), e.name),
                Endpoint::Eni(id),
            )
        })
        .collect();
    out.insert(
        "internet".to_owned(),
        Endpoint::External(net.internet_stand_in()),
    );
    out
}

fn reachable(
    an: &Analyzer<'_>,
    ends: &BTreeMap<String, Endpoint>,
    f: &str,
    t: &str,
    p: (u8, u16),
) -> bool {
    match (ends.get(f), ends.get(t)) {
        (Some(src), Some(dst)) => an.reachable(&Flow {
            src: *src,
            dst: *dst,
            protocol: p.0,
            port: p.1,
            src_port: None,
            icmp: (8, 0),
        }),
        _ => false,
    }
}

/// Every (source, destination, protocol, port) whose verdict differs between `old`
/// and `new` (`old` = `None`: nothing was reachable before). ENIs are matched by
/// qualified name; one that exists only on one side counts as unreachable on the
/// other.
pub fn reachability_delta(old: Option<&Network>, new: &Network) -> Vec<FlowChange> {
    let empty = Network::default();
    let old = old.unwrap_or(&empty);
    let a_old = Analyzer::new(old);
    let a_new = Analyzer::new(new);
    let e_old = endpoints(old);
    let e_new = endpoints(new);
    let names: BTreeSet<&String> = e_old.keys().chain(e_new.keys()).collect();
    let probes = probes(&[old, new]);
    let mut out = Vec::new();
    for f in &names {
        for t in &names {
            if f == t || (f.as_str() == "internet" && t.as_str() == "internet") {
                continue;
            }
            for p in &probes {
                let before = reachable(&a_old, &e_old, f, t, *p);
                let after = reachable(&a_new, &e_new, f, t, *p);
                if before != after {
                    out.push(FlowChange {
                        change: if after {
                            Change::Opened
                        } else {
                            Change::Closed
                        },
                        from: (*f).clone(),
                        to: (*t).clone(),
                        protocol: Protocol::from_number(p.0).to_string(),
                        port: p.1,
                    });
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use cove_model::validate::validate_text;

    use super::*;

    fn example(replace: Option<(&str, &str)>) -> Network {
        let mut text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/secure-compute.yaml"
        ))
        .expect("example");
        if let Some((a, b)) = replace {
            assert!(text.contains(a), "{a}");
            text = text.replace(a, b);
        }
        validate_text(&text).network.expect("valid")
    }

    #[test]
    fn no_change_no_delta() {
        let net = example(None);
        assert!(reachability_delta(Some(&net), &net).is_empty());
    }

    #[test]
    fn moving_the_database_port_closes_5432_and_opens_5433() {
        let old = example(None);
        let new = example(Some((
            "- { rule: 100, action: allow, protocol: tcp, ports: 5432, cidr: 10.20.0.0/16 }",
            "- { rule: 100, action: allow, protocol: tcp, ports: 5432-5433, cidr: 10.20.0.0/16 }",
        )));
        let delta = reachability_delta(Some(&old), &new);
        // Widening the ACL alone opens nothing: the security group still allows only
        // 5432.
        assert!(delta.is_empty(), "{delta:#?}");
        let newer = example(Some((
            "- { protocol: tcp, ports: 5432, security_group: platform/functions/fn }",
            "- { protocol: tcp, ports: 5433, security_group: platform/functions/fn }",
        )));
        let delta = reachability_delta(Some(&old), &newer);
        assert!(
            delta.iter().any(|c| c.change == Change::Closed
                && c.from == "platform/functions/fn-a"
                && c.to == "customer/prod/db-1"
                && c.port == 5432),
            "{delta:#?}"
        );
        // 5433 is still blocked by the database subnet's ACL: nothing opens.
        assert!(
            delta.iter().all(|c| c.change == Change::Closed),
            "{delta:#?}"
        );
    }

    #[test]
    fn first_apply_opens_everything_reachable() {
        let net = example(None);
        let delta = reachability_delta(None, &net);
        assert!(delta.iter().all(|c| c.change == Change::Opened));
        assert!(delta.iter().any(|c| c.from == "platform/functions/fn-a"
            && c.to == "customer/prod/db-1"
            && c.protocol == "tcp"
            && c.port == 5432));
    }
}
