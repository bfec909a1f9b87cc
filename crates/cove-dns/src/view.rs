//! One VPC's view of DNS (pure): the names its resolver answers itself — its ENIs'
//! hostnames and their reverse names (when the VPC has DNS hostnames), and the
//! private hosted zones associated with it — and how a question is answered.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use cove_model::dns::{
    RecordData, canonical_name, eni_hostname, in_zone, reverse_name, vpc_region,
};
use cove_model::{Network, VpcId};

/// Seconds the synthesized ENI names are cached (AWS answers them with 60).
pub const HOSTNAME_TTL: u32 = 60;

/// A record as the view keeps it: its TTL and its data (the owner is the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(std::net::Ipv6Addr),
    /// An alias (canonical name).
    Cname(String),
    /// Text strings.
    Txt(Vec<String>),
    /// Priority, weight, port, target.
    Srv(u16, u16, u16, String),
    /// Preference, exchange.
    Mx(u16, String),
    /// The name of an address (reverse lookup).
    Ptr(String),
}

/// The record types the view answers, as DNS numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// 1.
    A,
    /// 28.
    Aaaa,
    /// 5.
    Cname,
    /// 16.
    Txt,
    /// 33.
    Srv,
    /// 15.
    Mx,
    /// 12.
    Ptr,
}

impl Data {
    /// Its type.
    pub fn kind(&self) -> Kind {
        match self {
            Data::A(_) => Kind::A,
            Data::Aaaa(_) => Kind::Aaaa,
            Data::Cname(_) => Kind::Cname,
            Data::Txt(_) => Kind::Txt,
            Data::Srv(..) => Kind::Srv,
            Data::Mx(..) => Kind::Mx,
            Data::Ptr(_) => Kind::Ptr,
        }
    }
}

/// One answer record: owner, TTL, data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The owner name (canonical).
    pub name: String,
    /// Seconds.
    pub ttl: u32,
    /// The data.
    pub data: Data,
}

/// What the view makes of one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Answered here (the answers may be empty: the name exists without that
    /// type — NODATA). `zone` is the authoritative zone (for the SOA).
    Answer {
        /// The records, CNAMEs first in the order they were followed.
        answers: Vec<Answer>,
        /// The zone that answered.
        zone: String,
    },
    /// The name is in a zone of this view and does not exist (NXDOMAIN); any
    /// CNAMEs followed to it come first.
    NoSuchName {
        /// CNAMEs followed before the missing name.
        answers: Vec<Answer>,
        /// The zone.
        zone: String,
    },
    /// Not in any zone of this view: for the upstream resolvers. After CNAMEs
    /// that led out of the view, `name` is where they led.
    Forward {
        /// CNAMEs followed before leaving the view.
        answers: Vec<Answer>,
        /// The name to ask upstream.
        name: String,
    },
}

/// The names a VPC's resolver answers itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Zones this view is authoritative for (canonical), most specific first when
    /// searched.
    zones: BTreeSet<String>,
    /// Records by owner name.
    records: BTreeMap<String, Vec<(u32, Data)>>,
    /// Names that exist without records (empty non-terminals of a zone).
    branches: BTreeSet<String>,
}

/// The most CNAMEs followed for one question (a loop is cut there).
const MAX_CHAIN: usize = 8;

impl View {
    /// The view of VPC `v` of `net`; `None` when its resolver is off
    /// (`dns_support: false`).
    pub fn of(net: &Network, v: VpcId) -> Option<View> {
        let vpc = &net.vpcs[v.index()];
        if !vpc.dns_support {
            return None;
        }
        let mut view = View::default();
        if vpc.dns_hostnames {
            let region = vpc_region(net, v);
            let forward = eni_hostname(Ipv4Addr::UNSPECIFIED, &region);
            // `ip-0-0-0-0.<domain>` → `<domain>`.
            if let Some((_, domain)) = forward.split_once('.') {
                view.zones.insert(domain.to_owned());
            }
            for cidr in &vpc.cidrs {
                for zone in reverse_zones(*cidr) {
                    view.zones.insert(zone);
                }
            }
            for e in &vpc.enis {
                let ip = net.enis[e.index()].private_ip;
                let name = eni_hostname(ip, &region);
                view.add(&name, HOSTNAME_TTL, Data::A(ip));
                view.add(&reverse_name(ip), HOSTNAME_TTL, Data::Ptr(name));
            }
        }
        // Interface endpoints with private DNS: the name answers the endpoint's ENI
        // addresses in this VPC.
        for e in &vpc.endpoints {
            let ep = &net.endpoints[e.index()];
            let cove_model::EndpointKind::Interface {
                enis,
                private_dns_name: Some(n),
            } = &ep.kind
            else {
                continue;
            };
            let Ok(name) = canonical_name(n, false) else {
                continue;
            };
            view.zones.insert(name.clone());
            // S3's name also answers every bucket's virtual-hosted name, and
            // execute-api's every API's name (`<api-id>.execute-api.…`).
            let wildcard = cove_model::dns::s3_region(&ep.service)
                .is_some_and(|r| cove_model::dns::s3_name(r) == name)
                || cove_model::dns::execute_api_region(&ep.service)
                    .is_some_and(|r| format!("execute-api.{r}.amazonaws.com.") == name);
            for eni in enis {
                let ip = Data::A(net.enis[eni.index()].private_ip);
                view.add(&name, HOSTNAME_TTL, ip.clone());
                if wildcard {
                    view.add(&format!("*.{name}"), HOSTNAME_TTL, ip);
                }
            }
        }
        view.s3_gateways(net, v);
        for z in net.hosted_zones.iter().filter(|z| z.vpcs.contains(&v)) {
            view.zones.insert(z.name.clone());
            for r in &z.records {
                for data in data_of(&r.data) {
                    view.add(&r.name, r.ttl, data);
                }
            }
            view.branches_of(&z.name);
        }
        Some(view)
    }

    /// S3 through a gateway endpoint (issue 15): S3's regional name and the
    /// buckets' names under it answer the first address of the endpoint's prefix
    /// list (cove's store listens on all of them), unless an interface endpoint
    /// with private DNS already answers the name (it takes S3's traffic then,
    /// as in AWS).
    fn s3_gateways(&mut self, net: &Network, v: VpcId) {
        for e in &net.vpcs[v.index()].endpoints {
            let ep = &net.endpoints[e.index()];
            let (Some(region), cove_model::EndpointKind::Gateway { prefix_list, .. }) =
                (cove_model::dns::s3_region(&ep.service), &ep.kind)
            else {
                continue;
            };
            let name = cove_model::dns::s3_name(region);
            let Some(cidr) = net.prefix_lists[prefix_list.index()].cidrs.first() else {
                continue;
            };
            if self.zones.contains(&name) {
                continue;
            }
            let first = if cidr.prefix_len() >= 31 {
                cidr.network()
            } else {
                Ipv4Addr::from(u32::from(cidr.network()).saturating_add(1))
            };
            self.zones.insert(name.clone());
            self.add(&name, HOSTNAME_TTL, Data::A(first));
            self.add(&format!("*.{name}"), HOSTNAME_TTL, Data::A(first));
        }
    }

    fn add(&mut self, name: &str, ttl: u32, data: Data) {
        self.records
            .entry(name.to_owned())
            .or_default()
            .push((ttl, data));
    }

    /// Records every ancestor of an owner inside `zone` as an existing branch.
    fn branches_of(&mut self, zone: &str) {
        let owners: Vec<String> = self
            .records
            .keys()
            .filter(|n| in_zone(n, zone))
            .cloned()
            .collect();
        for owner in owners {
            let mut name = owner.as_str();
            while let Some((_, parent)) = name.split_once('.') {
                if !in_zone(parent, zone) || parent.is_empty() {
                    break;
                }
                self.branches.insert(parent.to_owned());
                name = parent;
            }
        }
    }

    /// The most specific zone of this view that contains canonical `name`.
    pub fn zone_of(&self, name: &str) -> Option<&str> {
        self.zones
            .iter()
            .filter(|z| in_zone(name, z))
            .max_by_key(|z| z.len())
            .map(String::as_str)
    }

    /// The records of `name` (exact, then the closest wildcard), and whether the
    /// name exists at all.
    fn lookup(&self, name: &str, zone: &str) -> Option<Vec<(u32, Data)>> {
        if let Some(r) = self.records.get(name) {
            return Some(r.clone());
        }
        if self.branches.contains(name) || name == zone {
            return Some(Vec::new());
        }
        // RFC 4592: the closest encloser's `*` child answers a missing name.
        let mut rest = name;
        while let Some((_, parent)) = rest.split_once('.') {
            if !in_zone(parent, zone) {
                break;
            }
            if self.records.contains_key(parent) || self.branches.contains(parent) || parent == zone
            {
                return self.records.get(&format!("*.{parent}")).cloned();
            }
            rest = parent;
        }
        None
    }

    /// Answers `kind` for canonical `name`.
    pub fn answer(&self, name: &str, kind: Kind) -> Outcome {
        let mut answers = Vec::new();
        let mut name = name.to_owned();
        for _ in 0..MAX_CHAIN {
            let Some(zone) = self.zone_of(&name).map(str::to_owned) else {
                return Outcome::Forward { answers, name };
            };
            let Some(records) = self.lookup(&name, &zone) else {
                return Outcome::NoSuchName { answers, zone };
            };
            let cname = records.iter().find_map(|(ttl, d)| match d {
                Data::Cname(t) if kind != Kind::Cname => Some((*ttl, t.clone())),
                _ => None,
            });
            if let Some((ttl, target)) = cname {
                answers.push(Answer {
                    name: name.clone(),
                    ttl,
                    data: Data::Cname(target.clone()),
                });
                name = target;
                continue;
            }
            answers.extend(records.into_iter().filter(|(_, d)| d.kind() == kind).map(
                |(ttl, data)| Answer {
                    name: name.clone(),
                    ttl,
                    data,
                },
            ));
            return Outcome::Answer { answers, zone };
        }
        // A loop: what was followed, no further.
        let zone = self.zone_of(&name).unwrap_or_default().to_owned();
        Outcome::Answer { answers, zone }
    }
}

/// The view's records of one record set.
fn data_of(d: &RecordData) -> Vec<Data> {
    match d {
        RecordData::A(v) => v.iter().map(|a| Data::A(*a)).collect(),
        RecordData::Aaaa(v) => v.iter().map(|a| Data::Aaaa(*a)).collect(),
        RecordData::Cname(t) => vec![Data::Cname(t.clone())],
        RecordData::Txt(v) => vec![Data::Txt(v.clone())],
        RecordData::Srv(v) => v
            .iter()
            .map(|s| Data::Srv(s.priority, s.weight, s.port, s.target.clone()))
            .collect(),
        RecordData::Mx(v) => v
            .iter()
            .map(|m| Data::Mx(m.preference, m.exchange.clone()))
            .collect(),
    }
}

/// The `in-addr.arpa` zones of a VPC block: one per /24 inside it (a block of /24
/// or longer: its /24), at most 256 (a /16; a larger block: its first 256).
fn reverse_zones(cidr: ipnet::Ipv4Net) -> Vec<String> {
    let base = u32::from(cidr.network());
    let count: u32 = if cidr.prefix_len() >= 24 {
        1
    } else {
        (1u32 << (24 - cidr.prefix_len())).min(256)
    };
    (0..count)
        .map(|i| {
            let o = Ipv4Addr::from(base + (i << 8)).octets();
            format!("{}.{}.{}.in-addr.arpa.", o[2], o[1], o[0])
        })
        .collect()
}
