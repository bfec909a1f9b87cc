//! The listeners of a service behind an interface endpoint, shared by the object
//! store ([`crate::objects`]) and the private APIs ([`crate::apis`]): one on each
//! port of [`PORTS`] at every ENI of the endpoint, in the ENI's namespace, whose
//! connections all come through that endpoint of that VPC.

use cove_listeners::{ListenerConfig, Origin};
use cove_model::{EndpointId, EndpointKind, Network};
use cove_plan::names::Names;

/// The ports the services answer on (plain HTTP on both, as the stand-ins).
pub const PORTS: [u16; 2] = [80, 443];

/// The listeners of interface endpoint `id` (none for a gateway endpoint).
pub fn interface_listeners(
    net: &Network,
    names: &Names<'_>,
    id: EndpointId,
) -> Vec<ListenerConfig> {
    let e = &net.endpoints[id.index()];
    let EndpointKind::Interface { enis, .. } = &e.kind else {
        return Vec::new();
    };
    let origin = Origin::Interface {
        vpc: cove_model::ids::vpc_id(net, e.vpc),
        vpce: cove_model::ids::endpoint_id(net, id),
    };
    enis.iter()
        .flat_map(|eni| {
            PORTS.map(|port| ListenerConfig {
                ns: names.eni_ns(*eni),
                address: net.enis[eni.index()].private_ip,
                port,
                origin: origin.clone(),
            })
        })
        .collect()
}
