//! What is answered: REACHABLE or BLOCKED, the hops on the way, and the exact component
//! that blocked the flow.

use serde::{Deserialize, Serialize};

/// One stage of AWS's evaluation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// A function's environment sending through its shared ENI (translated to the
    /// ENI's address).
    SharedEni,
    /// The sender's security groups, outbound rules.
    SecurityGroupEgress,
    /// A subnet's network ACL, outbound entries.
    NetworkAclEgress,
    /// A route-table lookup.
    RouteTable,
    /// Crossing a VPC peering connection.
    Peering,
    /// Source translation by a NAT gateway.
    NatGateway,
    /// Crossing an internet gateway (to or from the internet).
    InternetGateway,
    /// Handing traffic to a gateway endpoint's service.
    GatewayEndpoint,
    /// A subnet's network ACL, inbound entries.
    NetworkAclIngress,
    /// The receiver's security groups, inbound rules.
    SecurityGroupIngress,
    /// Arrival at the destination (an ENI, an internet host, a service).
    Delivery,
    /// An interface endpoint linked to another tenant's endpoint service
    /// (PrivateLink): acceptance, the service's ports, the translation to a
    /// target; the provider's leg follows.
    EndpointService,
    /// The policy of the service behind an interface endpoint (a bucket's, a
    /// private API's resource policy), for a request named by its DNS name.
    EndpointPolicy,
}

impl Step {
    /// The kebab-case name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::SharedEni => "shared-eni",
            Step::SecurityGroupEgress => "security-group-egress",
            Step::NetworkAclEgress => "network-acl-egress",
            Step::RouteTable => "route-table",
            Step::Peering => "peering",
            Step::NatGateway => "nat-gateway",
            Step::InternetGateway => "internet-gateway",
            Step::GatewayEndpoint => "gateway-endpoint",
            Step::NetworkAclIngress => "network-acl-ingress",
            Step::SecurityGroupIngress => "security-group-ingress",
            Step::Delivery => "delivery",
            Step::EndpointService => "endpoint-service",
            Step::EndpointPolicy => "endpoint-policy",
        }
    }
}

/// Which way the packets of a hop travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the client towards the server.
    Forward,
    /// Replies from the server back to the client.
    Return,
}

/// What a hop did with the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A rule or route let it through.
    Allow,
    /// It was dropped here.
    Deny,
    /// Nothing to evaluate (e.g. an ENI without security groups).
    Pass,
}

/// One evaluated hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// The stage.
    pub step: Step,
    /// Forward or return.
    pub direction: Direction,
    /// What happened.
    pub outcome: Outcome,
    /// The component evaluated, by its qualified name (`tenant/vpc/name (aws-id)`).
    pub component: String,
    /// Which rule, entry or route decided, in words.
    pub detail: String,
}

/// Where and why a flow is blocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    /// The stage.
    pub step: Step,
    /// Forward or return.
    pub direction: Direction,
    /// The blocking component.
    pub component: String,
    /// Why, naming the rule, entry number or route.
    pub reason: String,
}

/// The analyzer's answer for one flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Whether the flow works end to end (including replies).
    pub reachable: bool,
    /// Hops from the client to the server.
    pub forward: Vec<Hop>,
    /// Hops of the replies back to the client.
    #[serde(rename = "return")]
    pub ret: Vec<Hop>,
    /// The first hop that dropped the traffic, if any.
    pub blocked: Option<Blocked>,
}

/// Receives hops as the evaluation walks the path. The evaluation is generic over it so
/// that a bulk query pays nothing for explanations.
pub(crate) trait Trace {
    /// Records a hop; `describe` builds `(component, detail)` and is only called when
    /// the trace keeps text.
    fn hop(
        &mut self,
        step: Step,
        direction: Direction,
        outcome: Outcome,
        describe: impl FnOnce() -> (String, String),
    );
}

/// Discards everything (for `reachable` and `matrix`).
pub(crate) struct NoTrace;

impl Trace for NoTrace {
    #[inline]
    fn hop(&mut self, _: Step, _: Direction, _: Outcome, _: impl FnOnce() -> (String, String)) {}
}

/// Builds a [`Verdict`].
#[derive(Default)]
pub(crate) struct Recorder {
    forward: Vec<Hop>,
    ret: Vec<Hop>,
    blocked: Option<Blocked>,
}

impl Trace for Recorder {
    fn hop(
        &mut self,
        step: Step,
        direction: Direction,
        outcome: Outcome,
        describe: impl FnOnce() -> (String, String),
    ) {
        let (component, detail) = describe();
        if outcome == Outcome::Deny && self.blocked.is_none() {
            self.blocked = Some(Blocked {
                step,
                direction,
                component: component.clone(),
                reason: detail.clone(),
            });
        }
        let hop = Hop {
            step,
            direction,
            outcome,
            component,
            detail,
        };
        match direction {
            Direction::Forward => self.forward.push(hop),
            Direction::Return => self.ret.push(hop),
        }
    }
}

impl Recorder {
    /// The verdict; `reachable` is what the walk concluded.
    pub(crate) fn finish(self, reachable: bool) -> Verdict {
        Verdict {
            reachable,
            forward: self.forward,
            ret: self.ret,
            blocked: self.blocked,
        }
    }
}
