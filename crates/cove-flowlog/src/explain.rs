//! Why an accepted record was accepted (`cove-rule`, `cove-reason`): the
//! analyzer's verdict for the record's connection, cut to the hops at the
//! record's interface — leaving: the sender's security group, its subnet's
//! network ACL, the route; arriving: the ACL, then the receiver's security
//! group — of the original direction, or of the replies for reply records.

use cove_analyze::{Analyzer, Endpoint, Flow, Hop, Step};

use crate::directory::{Direction, Seen};

/// The steps that decide at an interface, for traffic leaving or arriving.
fn steps(direction: Direction) -> &'static [Step] {
    match direction {
        Direction::Egress => &[
            Step::SecurityGroupEgress,
            Step::NetworkAclEgress,
            Step::RouteTable,
        ],
        Direction::Ingress => &[Step::NetworkAclIngress, Step::SecurityGroupIngress],
    }
}

/// Why a record's traffic was let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The deciding rules at the interface (`None`: nothing decides there, as for
    /// a reply within a subnet).
    pub rule: Option<String>,
    /// Why, in words.
    pub reason: String,
}

/// The rules (`step: component — detail`, joined by ` | `; `None` where nothing
/// decides at this interface: a reply within a subnet) and the reason for an
/// accepted record of `seen`; `None` when the analyzer cannot say (the
/// connection is not one it models as reachable).
pub fn accepted_by(an: &Analyzer<'_>, seen: &Seen) -> Option<Explanation> {
    let c = &seen.connection;
    let endpoint = |eni: Option<cove_model::EniId>, addr: std::net::SocketAddrV4| {
        eni.map_or(Endpoint::External(*addr.ip()), Endpoint::Eni)
    };
    let flow = Flow {
        src: endpoint(c.initiator, c.orig.0),
        dst: endpoint(c.responder, c.orig.1),
        protocol: seen.proto,
        port: c.orig.1.port(),
        src_port: Some(c.orig.0.port()),
        icmp: (8, 0),
    };
    let verdict = an.check(&flow);
    if !verdict.reachable {
        return None;
    }
    let hops: &[Hop] = if seen.reply {
        &verdict.ret
    } else {
        &verdict.forward
    };
    let wanted = steps(seen.direction);
    let rule: Vec<String> = hops
        .iter()
        .filter(|h| wanted.contains(&h.step))
        .map(|h| format!("{}: {} — {}", h.step.as_str(), h.component, h.detail))
        .collect();
    let reason = if seen.reply {
        "reply of an accepted connection (security groups are stateful; ACLs are checked)"
    } else {
        "allowed"
    };
    Some(Explanation {
        rule: (!rule.is_empty()).then(|| rule.join(" | ")),
        reason: reason.to_owned(),
    })
}
