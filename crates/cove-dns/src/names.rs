//! Names for the analyzer (pure): what a name resolves to in one VPC's view, and
//! when it does not, exactly why — the answers `cove check --to NAME` explains.

use std::fmt;
use std::net::Ipv4Addr;

use cove_model::dns::{canonical_name, in_zone};
use cove_model::{Network, VpcId};

use crate::view::{Data, Kind, Outcome, View};

/// Why a name does not resolve to an address in a VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// The VPC's resolver is off (`dns_support: false`): a function gets
    /// `EAI_AGAIN`.
    NoResolver {
        /// `tenant/vpc`.
        vpc: String,
    },
    /// The name is in a zone of the VPC's view, which does not have it.
    NoSuchName {
        /// The name.
        name: String,
        /// The zone that answered NXDOMAIN.
        zone: String,
    },
    /// The name exists in the view without an address (NODATA).
    NoAddress {
        /// The name.
        name: String,
    },
    /// A private zone has it, but that zone is not associated with this VPC.
    NotAssociated {
        /// The name.
        name: String,
        /// The zone, `tenant/zone`.
        zone: String,
        /// The VPCs it is associated with (`tenant/vpc`).
        vpcs: Vec<String>,
    },
    /// The name of an AWS service that this VPC has an interface endpoint for,
    /// whose private DNS is off: it resolves to the service's public addresses,
    /// not to the endpoint.
    PrivateDnsOff {
        /// The name.
        name: String,
        /// The endpoint, `tenant/vpc/name`.
        endpoint: String,
    },
    /// No private zone of any VPC has it: a public name, which the upstream
    /// resolvers answer (the analyzer does not resolve public names).
    Public {
        /// The name.
        name: String,
    },
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unresolved::NoResolver { vpc } => write!(
                f,
                "VPC {vpc} has no resolver (dns_support: false): every lookup fails (EAI_AGAIN); set dns_support: true"
            ),
            Unresolved::NoSuchName { name, zone } => write!(
                f,
                "{name} does not exist (NXDOMAIN) in private zone {zone}, which this VPC resolves; add the record to the zone"
            ),
            Unresolved::NoAddress { name } => write!(
                f,
                "{name} exists in this VPC's view but has no A record (NODATA); add an A record or a CNAME to one"
            ),
            Unresolved::NotAssociated { name, zone, vpcs } => write!(
                f,
                "{name} is in private zone {zone}, which is associated only with {} and not with this VPC: here it is not private (the upstream resolvers answer NXDOMAIN); associate the zone with this VPC",
                if vpcs.is_empty() {
                    "no VPC".to_owned()
                } else {
                    vpcs.join(", ")
                }
            ),
            Unresolved::PrivateDnsOff { name, endpoint } => write!(
                f,
                "{name} is the service of interface endpoint {endpoint}, whose private DNS is off: the name resolves to the service's public addresses, not to the endpoint; set the endpoint's private_dns_name, or connect to the endpoint's ENI addresses"
            ),
            Unresolved::Public { name } => write!(
                f,
                "{name} is in no private zone: a public name, which cove does not resolve in the analyzer; give its address instead"
            ),
        }
    }
}

/// Whether `text` reads as a DNS name (dots, a letter, not an address).
pub fn looks_like_name(text: &str) -> bool {
    text.contains('.')
        && text.parse::<Ipv4Addr>().is_err()
        && text.bytes().any(|b| b.is_ascii_alphabetic())
        && canonical_name(text, false).is_ok()
}

/// What `name` resolves to in VPC `vpc` (the first address, and every record
/// followed to it), or why it does not.
pub fn resolve(
    net: &Network,
    vpc: VpcId,
    name: &str,
) -> Result<(Ipv4Addr, Vec<String>), Unresolved> {
    let canonical = canonical_name(name, false).map_err(|_| Unresolved::Public {
        name: name.to_owned(),
    })?;
    let Some(view) = View::of(net, vpc) else {
        return Err(Unresolved::NoResolver {
            vpc: net.vpc_path(vpc),
        });
    };
    let elsewhere = |n: &str| {
        net.hosted_zones
            .iter()
            .filter(|z| !z.vpcs.contains(&vpc) && in_zone(n, &z.name))
            .max_by_key(|z| z.name.len())
            .map(|z| Unresolved::NotAssociated {
                name: n.to_owned(),
                zone: format!("{}/{}", net.tenants[z.tenant.index()].name, z.name),
                vpcs: z.vpcs.iter().map(|v| net.vpc_path(*v)).collect(),
            })
    };
    match view.answer(&canonical, Kind::A) {
        Outcome::Answer { answers, .. } => {
            let chain: Vec<String> = answers
                .iter()
                .map(|a| match &a.data {
                    Data::Cname(t) => format!("{} CNAME {t}", a.name),
                    Data::A(ip) => format!("{} A {ip}", a.name),
                    other => format!("{} {other:?}", a.name),
                })
                .collect();
            answers
                .iter()
                .find_map(|a| match a.data {
                    Data::A(ip) => Some(ip),
                    _ => None,
                })
                .map(|ip| (ip, chain))
                .ok_or(Unresolved::NoAddress { name: canonical })
        }
        Outcome::NoSuchName { zone, .. } => Err(Unresolved::NoSuchName {
            name: canonical,
            zone,
        }),
        Outcome::Forward { name: out, .. } => Err(elsewhere(&out)
            .or_else(|| endpoint_without_dns(net, vpc, &out))
            .unwrap_or(Unresolved::Public { name: out })),
    }
}

/// The DNS name of an AWS service (`com.amazonaws.us-east-1.s3` →
/// `s3.us-east-1.amazonaws.com.`), if the service is named that way.
pub fn service_dns_name(service: &str) -> Option<String> {
    let rest = service.strip_prefix("com.amazonaws.")?;
    let (region, svc) = rest.split_once('.')?;
    Some(format!("{svc}.{region}.amazonaws.com."))
}

/// An interface endpoint of `vpc` for the service named `name` whose private DNS
/// is off.
fn endpoint_without_dns(net: &Network, vpc: VpcId, name: &str) -> Option<Unresolved> {
    net.vpcs[vpc.index()].endpoints.iter().find_map(|e| {
        let ep = &net.endpoints[e.index()];
        let off = matches!(
            ep.kind,
            cove_model::EndpointKind::Interface {
                private_dns_name: None,
                ..
            }
        );
        (off && service_dns_name(&ep.service).as_deref() == Some(name)).then(|| {
            Unresolved::PrivateDnsOff {
                name: name.to_owned(),
                endpoint: format!("{}/{}", net.vpc_path(vpc), ep.name),
            }
        })
    })
}
