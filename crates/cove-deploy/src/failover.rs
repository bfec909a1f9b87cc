//! NAT gateway pairs' failover decisions (pure; issue 11).
//!
//! `cove serve`'s reconciler watches the router's end of each paired gateway's link
//! (it exists and its carrier is up: the gateway's namespace is alive and its link
//! is up) and asks [`decide`] whether the recorded takeovers should change:
//!
//! * a gateway that is down, whose partner is up and carries nothing, is taken
//!   over: the partner carries its addresses (and public IPs) from now on;
//! * a taken-over gateway that has been up for `failback_after` gets its addresses
//!   back (fail-back, so nothing flaps) — at once when its carrier goes down;
//! * records of gateways that are no longer paired are dropped.
//!
//! The records are the store's `nat_failover` document; validation reads them as
//! [`cove_model::spec::NatTakeover`]s, and the planner then gives the partner the
//! failed gateway's addresses and routes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cove_model::{NatId, Network};
use serde::{Deserialize, Serialize};

/// How long a taken-over gateway must be healthy before it gets its addresses
/// back, by default.
pub const FAILBACK_AFTER: Duration = Duration::from_secs(60);

/// A recorded takeover: `carrier` carries `gateway`'s addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TakeoverRecord {
    /// The VPC, `<tenant>/<vpc>`.
    pub vpc: String,
    /// The failed gateway.
    pub gateway: String,
    /// Its partner, which carries its addresses.
    pub carrier: String,
    /// When the takeover was decided (Unix seconds).
    pub since: u64,
    /// Why (`link gone: the gateway's namespace or link was deleted`, …).
    pub reason: String,
}

impl TakeoverRecord {
    /// What validation needs of it.
    pub fn takeover(&self) -> cove_model::spec::NatTakeover {
        cove_model::spec::NatTakeover {
            vpc: self.vpc.clone(),
            gateway: self.gateway.clone(),
        }
    }
}

/// One paired gateway as the monitor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// `<tenant>/<vpc>`.
    pub vpc: String,
    /// The gateway's name.
    pub gateway: String,
    /// Its partner's name.
    pub partner: String,
    /// The router's end of its link.
    pub link: String,
    /// Its namespace.
    pub ns: String,
}

/// The paired gateways of `net`, their namespaces (`ns`) and the router links that
/// show their health (`link` names the router's end of a gateway's ENI link).
pub fn watched(
    net: &Network,
    link: impl Fn(NatId) -> String,
    ns: impl Fn(NatId) -> String,
) -> Vec<Watched> {
    net.nat_gateways
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let partner = g.partner?;
            let id = NatId(cove_model::lookup::index_u32(i));
            Some(Watched {
                vpc: net.vpc_path(g.vpc),
                gateway: g.name.clone(),
                partner: net.nat_gateways[partner.index()].name.clone(),
                link: link(id),
                ns: ns(id),
            })
        })
        .collect()
}

/// A link's health as last seen: `None` when it does not exist.
pub type LinkStates = BTreeMap<String, bool>;

/// Since when each gateway (`vpc/gateway`) has been continuously up, kept by the
/// caller across calls.
pub type UpSince = BTreeMap<String, Instant>;

fn key(vpc: &str, gateway: &str) -> String {
    format!("{vpc}/{gateway}")
}

/// Why a gateway is down, or `None` when it is up.
fn down(links: &LinkStates, drifted: &BTreeSet<String>, w: &Watched) -> Option<&'static str> {
    if drifted.contains(&w.ns) {
        return Some(
            "its namespace drifted (forwarding, table, addresses or routes changed), so its forwarding cannot be trusted; the reconciler repairs it",
        );
    }
    match links.get(&w.link) {
        None => Some("its link is gone (the gateway's namespace or link was deleted)"),
        Some(false) => Some("its link is down"),
        Some(true) => None,
    }
}

/// What [`decide`] knows besides the links.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// Now.
    pub now: Instant,
    /// Now in Unix seconds (stamps new records).
    pub unix_now: u64,
    /// How long a gateway must be up before it gets its addresses back.
    pub failback_after: Duration,
    /// Whether the kernel matched the desired state at the last look (a fail-back
    /// waits for it: a gateway whose link came back may still miss its routes
    /// until the reconciler has repaired them).
    pub settled: bool,
}

/// The namespaces the last look at the kernel found drifted from the desired
/// state (their gateways count as down: a gateway whose forwarding, table or
/// routes were changed may not forward).
pub type Drifted = BTreeSet<String>;

/// The takeover records that should hold now, or `None` when `current` is right.
/// `up_since` is updated with what `links` say.
pub fn decide(
    watched: &[Watched],
    current: &[TakeoverRecord],
    links: &LinkStates,
    drifted: &Drifted,
    up_since: &mut UpSince,
    at: Moment,
) -> Option<Vec<TakeoverRecord>> {
    let Moment {
        now,
        unix_now,
        failback_after,
        settled,
    } = at;
    for w in watched {
        let k = key(&w.vpc, &w.gateway);
        if down(links, drifted, w).is_some() {
            up_since.remove(&k);
        } else {
            up_since.entry(k).or_insert(now);
        }
    }
    let find = |vpc: &str, g: &str| watched.iter().find(|w| w.vpc == vpc && w.gateway == g);
    let is_up = |w: &Watched| down(links, drifted, w).is_none();
    // Keep the records of paired gateways that should stay taken over.
    let mut want: Vec<TakeoverRecord> = current
        .iter()
        .filter(|r| {
            let (Some(g), Some(carrier)) = (find(&r.vpc, &r.gateway), find(&r.vpc, &r.carrier))
            else {
                return false;
            };
            if g.partner != r.carrier {
                return false;
            }
            if !is_up(g) {
                return true;
            }
            // Up again: back at once if its carrier is down, else after
            // `failback_after` of continuous health, once the kernel has settled.
            let healthy_for = up_since
                .get(&key(&g.vpc, &g.gateway))
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(*t));
            is_up(carrier) && (healthy_for < failback_after || !settled)
        })
        .cloned()
        .collect();
    for w in watched {
        let Some(reason) = down(links, drifted, w) else {
            continue;
        };
        let Some(partner) = find(&w.vpc, &w.partner) else {
            continue;
        };
        let involved = want.iter().any(|r| {
            r.vpc == w.vpc
                && [&r.gateway, &r.carrier]
                    .iter()
                    .any(|n| **n == w.gateway || **n == w.partner)
        });
        if involved || !is_up(partner) {
            continue;
        }
        want.push(TakeoverRecord {
            vpc: w.vpc.clone(),
            gateway: w.gateway.clone(),
            carrier: w.partner.clone(),
            since: unix_now,
            reason: reason.to_owned(),
        });
    }
    (want != current).then_some(want)
}

/// The records without `gateway`'s (`<tenant>/<vpc>/<name>`): an explicit
/// fail-back. `None` when no record names it (the gateway carries its own
/// addresses). If the gateway is still down, the next look takes it over again.
pub fn fail_back(records: &[TakeoverRecord], gateway: &str) -> Option<Vec<TakeoverRecord>> {
    let named = |r: &TakeoverRecord| format!("{}/{}", r.vpc, r.gateway) == gateway;
    records
        .iter()
        .any(named)
        .then(|| records.iter().filter(|r| !named(r)).cloned().collect())
}

/// One continuous conntrack replication the pairs need: the source-NATed
/// connections of `from_ns` translated to one of `translated`, copied into `to_ns`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Replication {
    /// The gateway whose connections are copied.
    pub from_ns: String,
    /// Its partner, which receives the copies.
    pub to_ns: String,
    /// The translated addresses whose connections are copied.
    pub translated: Vec<std::net::Ipv4Addr>,
    /// Addresses whose entries in the target are stale and are deleted before the
    /// first copy: the failed gateway's own, when its carrier copies back into it
    /// (a gateway whose link went down keeps entries from before the failure,
    /// which the connections have since outrun).
    pub stale: Vec<std::net::Ipv4Addr>,
}

/// The replications the pairs of `net` need now (`ns` names a gateway's
/// namespace): each gateway copies the connections it translates to its own
/// addresses into its partner, so that the partner can carry them the moment it
/// fails; a gateway that carries its failed partner copies those it translates
/// to the partner's addresses too, back into the partner's (recreated)
/// namespace, so that the fail-back keeps them; a failed gateway copies nothing
/// (fenced: its entries are stale, and their expiry must not delete its
/// carrier's live copies).
pub fn replications(net: &Network, ns: impl Fn(NatId) -> String) -> Vec<Replication> {
    let mut out = Vec::new();
    for (i, g) in net.nat_gateways.iter().enumerate() {
        let Some(p) = g.partner else { continue };
        if g.carried_by.is_some() {
            continue;
        }
        let id = NatId(cove_model::lookup::index_u32(i));
        let mut translated = g.private_ips(net.enis[g.eni.index()].private_ip);
        let partner = &net.nat_gateways[p.index()];
        let mut stale = Vec::new();
        if partner.carried_by == Some(id) {
            stale = partner.private_ips(net.enis[partner.eni.index()].private_ip);
            translated.extend(stale.iter().copied());
        }
        out.push(Replication {
            from_ns: ns(id),
            to_ns: ns(p),
            translated,
            stale,
        });
    }
    out
}

/// One paired NAT gateway as `cove status` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayStatus {
    /// `<tenant>/<vpc>`.
    pub vpc: String,
    /// Its name.
    pub gateway: String,
    /// Its partner.
    pub partner: String,
    /// Its private addresses, primary first.
    pub addresses: Vec<std::net::Ipv4Addr>,
    /// Its public IPs (same order).
    pub public_ips: Vec<std::net::Ipv4Addr>,
    /// The subnets whose traffic it translates (their route tables send to it).
    pub subnets: Vec<String>,
    /// Who carries its addresses now: itself, or its partner after a failure.
    pub carried_by: String,
    /// Since when its partner carries them (Unix seconds).
    pub since: Option<u64>,
    /// Why its partner carries them.
    pub reason: Option<String>,
}

/// Every paired gateway of `net` with the takeover `records`, in gateway order.
pub fn pair_status(net: &Network, records: &[TakeoverRecord]) -> Vec<GatewayStatus> {
    let mut out = Vec::new();
    for (i, g) in net.nat_gateways.iter().enumerate() {
        let Some(partner) = g.partner else { continue };
        let id = NatId(cove_model::lookup::index_u32(i));
        let vpc = net.vpc_path(g.vpc);
        let record = records
            .iter()
            .find(|r| r.vpc == vpc && r.gateway == g.name && g.carried_by.is_some());
        let subnets = net
            .subnets
            .iter()
            .filter(|s| {
                net.route_tables[s.route_table.index()]
                    .routes
                    .iter()
                    .any(|r| r.target == cove_model::RouteTarget::NatGateway(id))
            })
            .map(|s| s.name.clone())
            .collect();
        out.push(GatewayStatus {
            vpc,
            gateway: g.name.clone(),
            partner: net.nat_gateways[partner.index()].name.clone(),
            addresses: g.private_ips(net.enis[g.eni.index()].private_ip),
            public_ips: g.public_ips.clone(),
            subnets,
            carried_by: g.carried_by.map_or_else(
                || g.name.clone(),
                |c| net.nat_gateways[c.index()].name.clone(),
            ),
            since: record.map(|r| r.since),
            reason: record.map(|r| r.reason.clone()),
        });
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn pair() -> Vec<Watched> {
        vec![
            Watched {
                vpc: "t/v".into(),
                gateway: "a".into(),
                partner: "b".into(),
                link: "la".into(),
                ns: "na".into(),
            },
            Watched {
                vpc: "t/v".into(),
                gateway: "b".into(),
                partner: "a".into(),
                link: "lb".into(),
                ns: "nb".into(),
            },
        ]
    }

    fn links(a: Option<bool>, b: Option<bool>) -> LinkStates {
        let mut l = LinkStates::new();
        if let Some(x) = a {
            l.insert("la".into(), x);
        }
        if let Some(x) = b {
            l.insert("lb".into(), x);
        }
        l
    }

    const AFTER: Duration = Duration::from_secs(60);

    fn m(now: Instant, unix_now: u64) -> Moment {
        Moment {
            now,
            unix_now,
            failback_after: AFTER,
            settled: true,
        }
    }

    #[test]
    fn a_failed_gateway_is_taken_over_and_given_back_after_a_healthy_minute() {
        let w = pair();
        let mut up = UpSince::new();
        let t0 = Instant::now();
        assert_eq!(
            decide(
                &w,
                &[],
                &links(Some(true), Some(true)),
                &Drifted::new(),
                &mut up,
                m(t0, 100),
            ),
            None
        );
        let taken = decide(
            &w,
            &[],
            &links(None, Some(true)),
            &Drifted::new(),
            &mut up,
            m(t0, 101),
        )
        .expect("takeover");
        assert_eq!(taken.len(), 1);
        assert_eq!(
            (taken[0].gateway.as_str(), taken[0].carrier.as_str()),
            ("a", "b")
        );
        assert_eq!(taken[0].since, 101);
        assert!(taken[0].reason.contains("gone"), "{}", taken[0].reason);
        // Still down, or back but not for long: nothing changes.
        assert_eq!(
            decide(
                &w,
                &taken,
                &links(Some(false), Some(true)),
                &Drifted::new(),
                &mut up,
                m(t0, 102),
            ),
            None
        );
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            decide(
                &w,
                &taken,
                &links(Some(true), Some(true)),
                &Drifted::new(),
                &mut up,
                m(t1, 103),
            ),
            None
        );
        // A flap restarts the clock.
        assert_eq!(
            decide(
                &w,
                &taken,
                &links(Some(false), Some(true)),
                &Drifted::new(),
                &mut up,
                m(t1 + Duration::from_secs(30), 104),
            ),
            None
        );
        let t2 = t1 + Duration::from_secs(31);
        assert_eq!(
            decide(
                &w,
                &taken,
                &links(Some(true), Some(true)),
                &Drifted::new(),
                &mut up,
                m(t2, 105),
            ),
            None
        );
        assert_eq!(
            decide(
                &w,
                &taken,
                &links(Some(true), Some(true)),
                &Drifted::new(),
                &mut up,
                m(t2 + Duration::from_secs(59), 106),
            ),
            None
        );
        let back = decide(
            &w,
            &taken,
            &links(Some(true), Some(true)),
            &Drifted::new(),
            &mut up,
            m(t2 + AFTER, 107),
        );
        assert_eq!(back, Some(Vec::new()));
    }

    #[test]
    fn no_fail_back_until_the_kernel_has_settled() {
        let w = pair();
        let mut up = UpSince::new();
        let t = Instant::now();
        let taken = decide(
            &w,
            &[],
            &links(None, Some(true)),
            &Drifted::new(),
            &mut up,
            m(t, 1),
        )
        .expect("takeover");
        let later = t + AFTER + Duration::from_secs(1);
        assert_eq!(
            decide(
                &w,
                &taken,
                &links(Some(true), Some(true)),
                &Drifted::new(),
                &mut up,
                m(t, 2)
            ),
            None
        );
        let unsettled = Moment {
            settled: false,
            ..m(later, 3)
        };
        assert_eq!(
            decide(
                &w,
                &taken,
                &links(Some(true), Some(true)),
                &Drifted::new(),
                &mut up,
                unsettled
            ),
            None
        );
        assert_eq!(
            decide(
                &w,
                &taken,
                &links(Some(true), Some(true)),
                &Drifted::new(),
                &mut up,
                m(later, 4)
            ),
            Some(Vec::new())
        );
    }

    #[test]
    fn both_down_is_no_takeover_and_a_failed_carrier_hands_back_at_once() {
        let w = pair();
        let mut up = UpSince::new();
        let t = Instant::now();
        assert_eq!(
            decide(
                &w,
                &[],
                &links(None, Some(false)),
                &Drifted::new(),
                &mut up,
                m(t, 1)
            ),
            None
        );
        let taken = decide(
            &w,
            &[],
            &links(Some(false), Some(true)),
            &Drifted::new(),
            &mut up,
            m(t, 2),
        )
        .expect("takeover");
        // a is back, then its carrier b fails: a gets its addresses back at once and
        // carries b's.
        let swapped = decide(
            &w,
            &taken,
            &links(Some(true), None),
            &Drifted::new(),
            &mut up,
            m(t, 3),
        )
        .expect("swap");
        assert_eq!(swapped.len(), 1);
        assert_eq!(
            (swapped[0].gateway.as_str(), swapped[0].carrier.as_str()),
            ("b", "a")
        );
        // Both down while b is carried: b stays carried (its carrier's state is
        // the data plane's problem; nothing better exists).
        assert_eq!(
            decide(
                &w,
                &swapped,
                &links(Some(false), None),
                &Drifted::new(),
                &mut up,
                m(t, 4),
            ),
            None
        );
    }

    #[test]
    fn pairs_replicate_both_ways_and_a_failed_gateway_is_fenced() {
        let text = |takeover: bool| {
            let mut t = "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.9.0.0/16\n        nat_failover: pair\n\
                 \x20       internet_gateway: { name: igw }\n\
                 \x20       subnets:\n          - { name: pub, cidr: 10.9.0.0/24, az: a }\n\
                 \x20       nat_gateways:\n\
                 \x20         - { name: a, subnet: pub, public_ips: [203.0.113.10, 203.0.113.12] }\n\
                 \x20         - { name: b, subnet: pub, public_ips: [203.0.113.11] }\n"
                .to_owned();
            t.push_str("");
            let (mut s, _) = cove_model::decode::decode_spec(&t).unwrap();
            if takeover {
                s.nat_takeovers.push(cove_model::spec::NatTakeover {
                    vpc: "t/v".into(),
                    gateway: "a".into(),
                });
            }
            cove_model::validate::validate(&s).network.unwrap()
        };
        let ns = |n: NatId| format!("ns{}", n.0);
        let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap();
        let normal = replications(&text(false), ns);
        assert_eq!(
            normal,
            [
                Replication {
                    from_ns: "ns0".into(),
                    to_ns: "ns1".into(),
                    translated: vec![ip("10.9.0.4"), ip("10.9.0.6")],
                    stale: vec![],
                },
                Replication {
                    from_ns: "ns1".into(),
                    to_ns: "ns0".into(),
                    translated: vec![ip("10.9.0.5")],
                    stale: vec![],
                },
            ]
        );
        // a failed: b copies its own and a's connections into a; a copies nothing.
        assert_eq!(
            replications(&text(true), ns),
            [Replication {
                from_ns: "ns1".into(),
                to_ns: "ns0".into(),
                translated: vec![ip("10.9.0.5"), ip("10.9.0.4"), ip("10.9.0.6")],
                stale: vec![ip("10.9.0.4"), ip("10.9.0.6")],
            }]
        );
    }

    #[test]
    fn an_explicit_fail_back_removes_only_that_gateways_record() {
        let r = |g: &str| TakeoverRecord {
            vpc: "t/v".into(),
            gateway: g.into(),
            carrier: "x".into(),
            since: 1,
            reason: "r".into(),
        };
        let records = [r("a"), r("c")];
        assert_eq!(fail_back(&records, "t/v/a"), Some(vec![r("c")]));
        assert_eq!(fail_back(&records, "t/v/b"), None);
        assert_eq!(fail_back(&records, "t/w/a"), None);
    }

    #[test]
    fn records_of_gateways_no_longer_paired_are_dropped() {
        let stale = vec![TakeoverRecord {
            vpc: "t/v".into(),
            gateway: "gone".into(),
            carrier: "b".into(),
            since: 1,
            reason: "x".into(),
        }];
        let mut up = UpSince::new();
        assert_eq!(
            decide(
                &pair(),
                &stale,
                &links(Some(true), Some(true)),
                &Drifted::new(),
                &mut up,
                m(Instant::now(), 2),
            ),
            Some(Vec::new())
        );
    }
}
