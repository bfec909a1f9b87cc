//! Security-group rules between EC2's shape (`IpPermissions`: protocol, port
//! range, CIDRs, groups, prefix lists; one rule id per peer) and cove's (the
//! spec's `SgRuleSpec`, the model's `SgRule`), pure.

use cove_model::ids::resource_id;
use cove_model::model::{Network, SgPeer, SgRule};
use cove_model::spec::{Scalar, SgRuleSpec};
use cove_model::traffic::Protocol;

use super::error::Ec2Error;
use super::params::Params;

/// The remote side of a rule, by EC2 id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    /// `CidrIp`.
    Cidr(String),
    /// `UserIdGroupPairs.GroupId` (`sg-…`).
    Group(String),
    /// `PrefixListIds.PrefixListId` (`pl-…`).
    PrefixList(String),
}

/// One rule as EC2 shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp`, `-1` or a protocol number.
    pub protocol: String,
    /// `FromPort` (ICMP: the type; -1 any), none for every protocol.
    pub from: Option<i32>,
    /// `ToPort` (ICMP: the code; -1 any).
    pub to: Option<i32>,
    /// The peer.
    pub peer: Peer,
    /// Its description (not part of its identity).
    pub description: Option<String>,
}

impl Rule {
    /// What makes two rules the same rule (the description aside).
    pub fn key(&self) -> (String, Option<i32>, Option<i32>, Peer) {
        (self.protocol.clone(), self.from, self.to, self.peer.clone())
    }

    /// Its id (`sgr-…`): derived from the group, the direction and what it allows.
    pub fn id(&self, group_id: &str, egress: bool) -> String {
        resource_id(
            "sgr",
            None,
            &format!("{group_id}/{egress}/{:?}", self.key()),
        )
    }
}

/// A group's id (`sg-…`) in `net`.
pub fn group_id(net: &Network, g: cove_model::model::SgId) -> String {
    let sg = &net.security_groups[g.index()];
    resource_id(
        "sg",
        sg.aws_id.as_deref(),
        &format!("{}/{}", net.vpc_path(sg.vpc), sg.name),
    )
}

/// A prefix list's id (`pl-…`) in `net`.
pub fn prefix_list_id(net: &Network, p: cove_model::model::PrefixListId) -> String {
    let pl = &net.prefix_lists[p.index()];
    resource_id(
        "pl",
        pl.aws_id.as_deref(),
        &format!("{}/{}", net.tenants[pl.tenant.index()].name, pl.name),
    )
}

/// A model rule in EC2's shape.
pub fn from_model(net: &Network, r: &SgRule, description: Option<String>) -> Rule {
    let t = &r.traffic;
    let (protocol, from, to) = match t.protocol {
        Protocol::All => ("-1".to_owned(), None, None),
        Protocol::Tcp => (
            "tcp".to_owned(),
            Some(i32::from(t.ports.from)),
            Some(i32::from(t.ports.to)),
        ),
        Protocol::Udp => (
            "udp".to_owned(),
            Some(i32::from(t.ports.from)),
            Some(i32::from(t.ports.to)),
        ),
        Protocol::Icmp => (
            "icmp".to_owned(),
            Some(t.icmp_type.map_or(-1, i32::from)),
            Some(t.icmp_code.map_or(-1, i32::from)),
        ),
        Protocol::Other(n) => (n.to_string(), None, None),
    };
    Rule {
        protocol,
        from,
        to,
        peer: match r.peer {
            SgPeer::Cidr(c) => Peer::Cidr(c.to_string()),
            SgPeer::Group(g) => Peer::Group(group_id(net, g)),
            SgPeer::PrefixList(p) => Peer::PrefixList(prefix_list_id(net, p)),
        },
        description,
    }
}

/// An EC2 rule as the spec writes it; `group_name` and `list_name` name a group
/// of the same VPC and a prefix list of the tenant by id.
pub fn to_spec(
    r: &Rule,
    group_name: impl Fn(&str) -> Option<String>,
    list_name: impl Fn(&str) -> Option<String>,
) -> Result<SgRuleSpec, Ec2Error> {
    let mut s = SgRuleSpec {
        description: r.description.clone(),
        ..SgRuleSpec::default()
    };
    match r.protocol.as_str() {
        "-1" => s.protocol = Scalar::Str("all".to_owned()),
        "tcp" | "udp" => {
            s.protocol = Scalar::Str(r.protocol.clone());
            let (Some(from), Some(to)) = (r.from, r.to) else {
                return Err(Ec2Error::invalid_parameter(
                    "Invalid value for portRange. Must specify both from and to ports with TCP/UDP."
                        .to_owned(),
                ));
            };
            s.ports = Some(Scalar::Str(if from == to {
                from.to_string()
            } else {
                format!("{from}-{to}")
            }));
        }
        "icmp" => {
            s.protocol = Scalar::Str("icmp".to_owned());
            s.icmp_type = r.from.filter(|t| *t >= 0).map(i64::from);
            s.icmp_code = r.to.filter(|c| *c >= 0).map(i64::from);
        }
        other => s.protocol = Scalar::Str(other.to_owned()),
    }
    match &r.peer {
        Peer::Cidr(c) => s.cidr = Some(c.clone()),
        Peer::Group(g) => {
            s.security_group = Some(group_name(g).ok_or_else(|| {
                Ec2Error::new(
                    "InvalidGroup.NotFound",
                    format!("The security group '{g}' does not exist in this VPC"),
                )
            })?);
        }
        Peer::PrefixList(p) => {
            s.prefix_list = Some(list_name(p).ok_or_else(|| {
                Ec2Error::not_found("InvalidPrefixListID.NotFound", "prefix list", p)
            })?);
        }
    }
    Ok(s)
}

/// `IpProtocol` as the rule keeps it: names for tcp/udp/icmp, `-1` for all.
fn protocol(text: &str) -> Result<String, Ec2Error> {
    match text.to_ascii_lowercase().as_str() {
        "-1" | "all" => Ok("-1".to_owned()),
        "tcp" | "6" => Ok("tcp".to_owned()),
        "udp" | "17" => Ok("udp".to_owned()),
        "icmp" | "1" => Ok("icmp".to_owned()),
        n => match n.parse::<u8>() {
            Ok(v) => Ok(v.to_string()),
            Err(_) => Err(Ec2Error::invalid_parameter(format!(
                "Invalid value '{text}' for IP protocol. Unknown protocol."
            ))),
        },
    }
}

fn port(p: &Params, name: &str) -> Result<Option<i32>, Ec2Error> {
    p.get(name)
        .map(|v| {
            v.parse::<i32>()
                .ok()
                .filter(|n| (-1..=65535).contains(n))
                .ok_or_else(|| {
                    Ec2Error::invalid_parameter(format!("Invalid value '{v}' for {name}"))
                })
        })
        .transpose()
}

/// The rules of `IpPermissions.N` (one per CIDR, group and prefix list).
pub fn permissions(p: &Params) -> Result<Vec<Rule>, Ec2Error> {
    let mut out = Vec::new();
    for n in 1.. {
        let base = format!("IpPermissions.{n}");
        let Some(proto) = p.get(&format!("{base}.IpProtocol")) else {
            break;
        };
        let protocol = protocol(proto)?;
        let (mut from, mut to) = (
            port(p, &format!("{base}.FromPort"))?,
            port(p, &format!("{base}.ToPort"))?,
        );
        if protocol == "-1" || !matches!(protocol.as_str(), "tcp" | "udp" | "icmp") {
            (from, to) = (None, None);
        }
        if let (Some(f), Some(t)) = (from, to) {
            if matches!(protocol.as_str(), "tcp" | "udp") && (f < 0 || t < f) {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Invalid port range {f}-{t}: FromPort must be 0-65535 and not above ToPort"
                )));
            }
        }
        let mut peers: Vec<(Peer, Option<String>)> = Vec::new();
        for m in 1.. {
            let Some(c) = p.get(&format!("{base}.IpRanges.{m}.CidrIp")) else {
                break;
            };
            let net: ipnet::Ipv4Net = c
                .parse()
                .map_err(|_| Ec2Error::invalid_parameter(format!("CIDR block {c} is malformed")))?;
            peers.push((
                Peer::Cidr(net.trunc().to_string()),
                p.get(&format!("{base}.IpRanges.{m}.Description"))
                    .map(str::to_owned),
            ));
        }
        for m in 1.. {
            let Some(g) = p.get(&format!("{base}.Groups.{m}.GroupId")) else {
                break;
            };
            peers.push((
                Peer::Group(g.to_owned()),
                p.get(&format!("{base}.Groups.{m}.Description"))
                    .map(str::to_owned),
            ));
        }
        for m in 1.. {
            let Some(l) = p.get(&format!("{base}.PrefixListIds.{m}.PrefixListId")) else {
                break;
            };
            peers.push((
                Peer::PrefixList(l.to_owned()),
                p.get(&format!("{base}.PrefixListIds.{m}.Description"))
                    .map(str::to_owned),
            ));
        }
        if peers.is_empty() {
            return Err(Ec2Error::missing(&format!("{base}.IpRanges")));
        }
        for (peer, description) in peers {
            out.push(Rule {
                protocol: protocol.clone(),
                from,
                to,
                peer,
                description,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_expand_to_one_rule_per_peer() {
        let p = Params::parse(&[
            "IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=5432&IpPermissions.1.ToPort=5432\
             &IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F16&IpPermissions.1.IpRanges.1.Description=app\
             &IpPermissions.1.Groups.1.GroupId=sg-1\
             &IpPermissions.2.IpProtocol=-1&IpPermissions.2.IpRanges.1.CidrIp=0.0.0.0%2F0",
        ]);
        let rules = permissions(&p).expect("rules");
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].peer, Peer::Cidr("10.0.0.0/16".into()));
        assert_eq!(rules[0].description.as_deref(), Some("app"));
        assert_eq!(rules[1].peer, Peer::Group("sg-1".into()));
        assert_eq!((rules[2].protocol.as_str(), rules[2].from), ("-1", None));
        let spec = to_spec(&rules[0], |_| None, |_| None).expect("spec");
        assert_eq!(spec.ports, Some(Scalar::Str("5432".into())));
        assert_eq!(spec.cidr.as_deref(), Some("10.0.0.0/16"));
        assert_eq!(
            to_spec(&rules[1], |_| None, |_| None)
                .expect_err("unknown group")
                .code,
            "InvalidGroup.NotFound"
        );
        assert_ne!(rules[0].id("sg-a", false), rules[0].id("sg-a", true));
    }

    #[test]
    fn bad_permissions_are_refused() {
        for (form, code) in [
            (
                "IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=90&IpPermissions.1.ToPort=80&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8",
                "InvalidParameterValue",
            ),
            (
                "IpPermissions.1.IpProtocol=bogus&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8",
                "InvalidParameterValue",
            ),
            (
                "IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80",
                "MissingParameter",
            ),
            (
                "IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80&IpPermissions.1.IpRanges.1.CidrIp=x",
                "InvalidParameterValue",
            ),
        ] {
            assert_eq!(
                permissions(&Params::parse(&[form])).expect_err(form).code,
                code,
                "{form}"
            );
        }
    }
}
