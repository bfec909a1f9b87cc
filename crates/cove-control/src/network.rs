//! Secure Compute networks: create (standard layout, a free range when no CIDR is
//! given, static IPs from the pool), patch (the name), delete (refused while in use).

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use cove_model::spec::TenantSpec;

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::{Env, Fresh, NetworkId};
use crate::pool::allocate;
use crate::state::{Change, ControlState, Object, Outcome, network_not_found};
use crate::tenants::check_name;
use crate::types::{
    NatFailoverMode, NatGateway, Network, NetworkStatus, NetworkSubnet, PeeringStatus, SubnetTier,
};

/// Availability zones of a network when none are given.
pub const DEFAULT_AZS: usize = 2;
/// Most availability zones of a network.
pub const MAX_AZS: usize = 6;
/// Smallest subnet of the layout (AWS's smallest subnet).
const SMALLEST_SUBNET: u8 = 28;
/// The private ranges a network's block must lie in (and where free ones are
/// picked, in this order).
pub const PRIVATE_RANGES: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

/// `POST /v1/connect/networks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreateNetwork {
    /// Name, unique in the tenant.
    pub name: Option<String>,
    /// The VPC block, /16–/28 inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16; a
    /// free /16 (down to /20) that overlaps none of the tenant's networks when omitted.
    pub cidr: Option<String>,
    /// Region (`us-east-1`).
    pub region: Option<String>,
    /// Availability zones (`us-east-1a`, …; 1–6); `<region>a` and `<region>b` when
    /// omitted.
    pub availability_zones: Option<Vec<String>>,
    /// `pair` (default with an even number of zones: the NAT gateways take over
    /// each other's static IP and open connections) or `independent` (default with
    /// an odd number: AWS's per-zone gateways).
    pub nat_failover: Option<String>,
}

/// `PATCH /v1/connect/networks/{id}`: only the name changes. The other fields may be
/// sent with their current values (a full document back); different values are
/// refused, naming the field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PatchNetwork {
    /// New name.
    pub name: Option<String>,
    /// Must equal the current block.
    pub cidr: Option<String>,
    /// Must equal the current region.
    pub region: Option<String>,
    /// Must equal the current zones.
    pub availability_zones: Option<Vec<String>>,
    /// `pair` or `independent` (see [`CreateNetwork::nat_failover`]); may change.
    pub nat_failover: Option<String>,
}

/// The failover mode asked for in `field` with `zones` NAT gateways (one per
/// zone), or the default: a pair with an even number, independent otherwise.
fn check_failover(field: &str, text: Option<&str>, zones: usize) -> Result<NatFailoverMode> {
    let even = zones > 0 && zones.is_multiple_of(2);
    match text.map(str::trim) {
        None => Ok(if even {
            NatFailoverMode::Pair
        } else {
            NatFailoverMode::Independent
        }),
        Some("independent") => Ok(NatFailoverMode::Independent),
        Some("pair") if even => Ok(NatFailoverMode::Pair),
        Some("pair") => Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            field,
            format!(
                "a NAT pair needs an even number of availability zones (one NAT gateway each); this network has {zones}"
            ),
            "use 2, 4 or 6 availability zones, or `independent`",
        )),
        Some(other) => Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            field,
            format!("`{other}` is not a NAT failover mode"),
            "use `pair` (the gateways take over each other's static IP and open connections) or `independent` (AWS's per-zone gateways)",
        )),
    }
}

/// Checks a region name: `xx-name-N` (`us-east-1`, `eu-central-2`, `us-gov-west-1`).
fn check_region(region: Option<&str>) -> Result<String> {
    let Some(r) = region.map(str::trim).filter(|r| !r.is_empty()) else {
        return Err(ControlError::field(
            ErrorCode::MissingParameter,
            "region",
            "the network needs a `region`",
            "give a region such as `us-east-1`",
        ));
    };
    let parts: Vec<&str> = r.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "region",
            format!("`{r}` is not a region name"),
            "write a region such as `us-east-1` or `eu-central-1`",
        ));
    }
    Ok(r.to_owned())
}

/// Checks the zones (or picks the default ones): `<region><letter>`, distinct.
fn check_azs(region: &str, azs: Option<&[String]>) -> Result<Vec<String>> {
    let Some(azs) = azs else {
        return Ok(["a", "b"][..DEFAULT_AZS]
            .iter()
            .map(|s| format!("{region}{s}"))
            .collect());
    };
    if azs.is_empty() || azs.len() > MAX_AZS {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "availability_zones",
            format!("{} availability zones given", azs.len()),
            format!("give 1 to {MAX_AZS} zones, or omit the field for two"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, az) in azs.iter().enumerate() {
        let field = format!("availability_zones[{i}]");
        let az = az.trim();
        let letter = az.strip_prefix(region).unwrap_or("");
        if letter.len() != 1 || !letter.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterValue,
                field,
                format!("`{az}` is not an availability zone of region `{region}`"),
                format!("write the region and a letter, e.g. `{region}a`"),
            ));
        }
        if out.iter().any(|o| o == az) {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterValue,
                field,
                format!("`{az}` is listed twice"),
                "list each zone once",
            ));
        }
        out.push(az.to_owned());
    }
    Ok(out)
}

/// Log2 of the number of equal parts the layout cuts a block into (2 subnets per
/// AZ, rounded up to a power of two).
fn layout_bits(azs: usize) -> u8 {
    let parts = (2 * azs).next_power_of_two();
    u8::try_from(parts.trailing_zeros()).unwrap_or(u8::MAX)
}

fn private_ranges() -> impl Iterator<Item = Ipv4Net> {
    PRIVATE_RANGES.iter().filter_map(|r| r.parse().ok())
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Parses and checks a given block.
fn check_cidr(text: &str, azs: usize) -> Result<Ipv4Net> {
    let t = text.trim();
    let Ok(net) = t.parse::<Ipv4Net>() else {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "cidr",
            format!("`{t}` is not an IPv4 CIDR block"),
            "write a block such as 10.20.0.0/16, or omit `cidr` to get a free one",
        ));
    };
    if net.trunc() != net {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "cidr",
            format!("`{t}` has host bits set"),
            format!("use the network address: `{}`", net.trunc()),
        ));
    }
    if !(16..=SMALLEST_SUBNET).contains(&net.prefix_len()) {
        return Err(ControlError::field(
            ErrorCode::InvalidVpcRange,
            "cidr",
            format!("the CIDR `{net}` is invalid: a VPC block must be between /16 and /28"),
            "choose a block from /16 to /28, e.g. 10.20.0.0/16",
        ));
    }
    if !private_ranges().any(|r| r.contains(&net)) {
        return Err(ControlError::field(
            ErrorCode::InvalidVpcRange,
            "cidr",
            format!("`{net}` is not inside a private range"),
            "choose a block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16",
        ));
    }
    let need = layout_bits(azs);
    if net.prefix_len() + need > SMALLEST_SUBNET {
        let largest = SMALLEST_SUBNET - need;
        return Err(ControlError::field(
            ErrorCode::InvalidVpcRange,
            "cidr",
            format!(
                "`{net}` is too small for {azs} availability zone(s): the layout needs {} subnets of at least /{SMALLEST_SUBNET}",
                2 * azs
            ),
            format!("use a /{largest} or larger block, or fewer zones"),
        ));
    }
    Ok(net)
}

/// The first free block for the tenant: a /16, else a /17, … down to a /20, in
/// [`PRIVATE_RANGES`] order, overlapping none of the tenant's networks.
fn pick_cidr(state: &ControlState, network_of: &crate::ids::TenantId) -> Result<Ipv4Net> {
    let mine: Vec<Ipv4Net> = state
        .networks_of(network_of)
        .iter()
        .map(|n| n.cidr)
        .collect();
    for len in 16..=20u8 {
        for range in private_ranges() {
            let Ok(subs) = range.subnets(len) else {
                continue;
            };
            for candidate in subs {
                if !mine.iter().any(|m| overlaps(*m, candidate)) {
                    return Ok(candidate);
                }
            }
        }
    }
    Err(ControlError::field(
        ErrorCode::InsufficientCidrBlocks,
        "cidr",
        "no free private /16 to /20 block is left that overlaps none of your networks",
        "give a `cidr` yourself (networks may overlap), or delete networks you no longer use",
    ))
}

/// The VPCs of the tenant's spec that are not networks (a spec VPC named like a
/// network, or by its network id, or with its VPC id as `id`, extends it).
pub(crate) fn standalone_vpcs<'a>(
    state: &ControlState,
    tenant: &crate::ids::TenantId,
    spec: &'a TenantSpec,
) -> Vec<&'a cove_model::spec::VpcSpec> {
    let nets = state.networks_of(tenant);
    spec.vpcs
        .iter()
        .filter(|v| !nets.iter().any(|n| extends(v, n)))
        .collect()
}

/// Whether a spec VPC adds to network `n` (its name, its network id, or `id` = its
/// VPC id).
pub(crate) fn extends(v: &cove_model::spec::VpcSpec, n: &Network) -> bool {
    v.name == n.name || v.name == n.id.as_str() || v.id.as_deref() == Some(n.vpc_id.as_str())
}

fn check_unique_name(
    state: &ControlState,
    tenant: &crate::ids::TenantId,
    spec: &TenantSpec,
    name: &str,
    except: Option<&NetworkId>,
) -> Result<()> {
    if let Some(other) = state
        .networks_of(tenant)
        .into_iter()
        .find(|n| n.name == name && Some(&n.id) != except)
    {
        let what = if other.status == NetworkStatus::Deleting {
            " (it is being deleted)"
        } else {
            ""
        };
        return Err(ControlError::field(
            ErrorCode::DuplicateName,
            "name",
            format!("you already have a network named `{name}`{what}"),
            "choose another name",
        ));
    }
    // A spec VPC of that name adds to another network (by its id or VPC id): under
    // this name it would add to both, and the desired spec would hold its ENIs and
    // functions twice (invalid for every tenant).
    let extends_other = |v: &cove_model::spec::VpcSpec| {
        state
            .networks_of(tenant)
            .iter()
            .any(|n| Some(&n.id) != except && extends(v, n))
    };
    if spec.vpcs.iter().any(|v| v.name == name && extends_other(v)) {
        return Err(ControlError::field(
            ErrorCode::DuplicateName,
            "name",
            format!("your spec's VPC `{name}` adds to another network"),
            "choose another name, or rename that VPC in your spec (name it by its network's id)",
        ));
    }
    if standalone_vpcs(state, tenant, spec)
        .iter()
        .any(|v| v.name == name)
    {
        return Err(ControlError::field(
            ErrorCode::DuplicateName,
            "name",
            format!("your spec already declares a VPC named `{name}`"),
            "choose another name, or rename the VPC in your spec",
        ));
    }
    Ok(())
}

/// Creates a network for `tenant` in status `creating`. `spec` is the tenant's
/// stored spec (its VPCs count toward the VPC quota and keep their names).
pub fn create_network(
    state: &ControlState,
    tenant: &crate::ids::TenantId,
    env: &Env,
    req: CreateNetwork,
    spec: &TenantSpec,
) -> Result<Outcome<Network>> {
    let quotas = state.tenant(tenant)?.quotas;
    let name = check_name("name", req.name.as_deref(), "network")?;
    check_unique_name(state, tenant, spec, &name, None)?;
    let count = state.networks_of(tenant).len();
    if count >= quotas.networks as usize {
        return Err(ControlError::general(
            ErrorCode::NetworkLimitExceeded,
            format!(
                "you have {count} networks; your quota is {}",
                quotas.networks
            ),
            "delete a network, or ask the operator to raise your `networks` quota",
        ));
    }
    let vpcs = count + standalone_vpcs(state, tenant, spec).len();
    if vpcs >= quotas.vpcs as usize {
        return Err(ControlError::general(
            ErrorCode::VpcLimitExceeded,
            format!(
                "you have {vpcs} VPCs (networks and your spec's VPCs); your quota is {}",
                quotas.vpcs
            ),
            "delete a network or a VPC of your spec, or ask the operator to raise your `vpcs` quota",
        ));
    }
    let region = check_region(req.region.as_deref())?;
    let azs = check_azs(&region, req.availability_zones.as_deref())?;
    let nat_failover = check_failover("nat_failover", req.nat_failover.as_deref(), azs.len())?;
    let cidr = match &req.cidr {
        Some(text) => check_cidr(text, azs.len())?,
        None => pick_cidr(state, tenant)?,
    };
    let held = crate::addresses::addresses_held(state, tenant);
    if held + azs.len() > quotas.static_ips as usize {
        return Err(ControlError::general(
            ErrorCode::AddressLimitExceeded,
            format!(
                "your networks and Elastic IPs hold {held} addresses; one in {} zone(s) needs {} more; your quota is {}",
                azs.len(),
                azs.len(),
                quotas.static_ips
            ),
            "delete a network or release an Elastic IP, use fewer zones, or ask the operator to raise your `static_ips` quota",
        ));
    }
    let ips = allocate(state, azs.len())?;
    let taken = state.taken_ids();
    let mut fresh = Fresh::new(env, &taken);
    let sub_len = cidr.prefix_len() + layout_bits(azs.len());
    let blocks: Vec<Ipv4Net> = cidr
        .subnets(sub_len)
        .map_err(|_| {
            ControlError::field(
                ErrorCode::InvalidVpcRange,
                "cidr",
                format!("`{cidr}` cannot be cut into /{sub_len} subnets"),
                "use a larger block or fewer zones",
            )
        })?
        .collect();
    let public_rtb = fresh.id("rtb");
    let mut subnets = Vec::new();
    for (tier, offset) in [(SubnetTier::Public, 0), (SubnetTier::Private, azs.len())] {
        for (i, az) in azs.iter().enumerate() {
            let letter = az.strip_prefix(&region).unwrap_or(az);
            let (name, route_table, route_table_id) = match tier {
                SubnetTier::Public => (
                    format!("public-{letter}"),
                    "public".to_owned(),
                    public_rtb.clone(),
                ),
                SubnetTier::Private => (
                    format!("private-{letter}"),
                    format!("private-{letter}"),
                    fresh.id("rtb"),
                ),
            };
            subnets.push(NetworkSubnet {
                id: fresh.id("subnet"),
                name,
                tier,
                availability_zone: az.clone(),
                cidr: blocks[offset + i],
                route_table,
                route_table_id,
            });
        }
    }
    let nat_gateways: Vec<NatGateway> = azs
        .iter()
        .zip(&ips)
        .map(|(az, ip)| {
            let letter = az.strip_prefix(&region).unwrap_or(az);
            NatGateway {
                id: fresh.id("nat"),
                name: format!("nat-{letter}"),
                availability_zone: az.clone(),
                subnet: format!("public-{letter}"),
                public_ip: *ip,
            }
        })
        .collect();
    let network = Network {
        id: NetworkId(fresh.id(NetworkId::PREFIX)),
        tenant: tenant.clone(),
        name,
        cidr,
        region,
        availability_zones: azs,
        status: NetworkStatus::Creating,
        vpc_id: fresh.id("vpc"),
        internet_gateway_id: fresh.id("igw"),
        subnets,
        nat_gateways,
        nat_failover,
        static_ips: ips,
        created_at: env.now,
        updated_at: env.now,
    };
    Ok(Outcome {
        changes: vec![Change::Put(Object::Network(network.clone()))],
        value: network,
    })
}

/// Changes a network's name (its VPC id, block, subnets and static IPs stay).
pub fn patch_network(
    state: &ControlState,
    tenant: &crate::ids::TenantId,
    env: &Env,
    id: &NetworkId,
    req: PatchNetwork,
    spec: &TenantSpec,
) -> Result<Outcome<Network>> {
    let current = state.network(tenant, id)?;
    if current.status == NetworkStatus::Deleting {
        return Err(ControlError::field(
            ErrorCode::IncorrectState,
            "id",
            format!("network `{id}` is being deleted"),
            "create a new network instead",
        ));
    }
    let fixed = |field: &str, same: bool| -> Result<()> {
        if same {
            return Ok(());
        }
        Err(ControlError::field(
            ErrorCode::InvalidParameterCombination,
            field,
            format!("a network's `{field}` cannot be changed"),
            "send only `name` (or the current value); for another block, region or zones create a new network",
        ))
    };
    if let Some(c) = &req.cidr {
        fixed(
            "cidr",
            c.trim().parse::<Ipv4Net>().ok() == Some(current.cidr),
        )?;
    }
    if let Some(r) = &req.region {
        fixed("region", r.trim() == current.region)?;
    }
    if let Some(z) = &req.availability_zones {
        fixed("availability_zones", *z == current.availability_zones)?;
    }
    let mut network = current.clone();
    if let Some(f) = req.nat_failover.as_deref() {
        network.nat_failover = check_failover("nat_failover", Some(f), current.nat_gateways.len())?;
    }
    if let Some(n) = req.name.as_deref() {
        let name = check_name("name", Some(n), "network")?;
        if name != network.name {
            check_unique_name(state, tenant, spec, &name, Some(id))?;
            // A spec VPC that adds to the network by its name would be orphaned.
            if let Some(v) = spec.vpcs.iter().find(|v| {
                v.name == network.name && v.id.as_deref() != Some(network.vpc_id.as_str())
            }) {
                return Err(ControlError::field(
                    ErrorCode::DependencyViolation,
                    "name",
                    format!(
                        "your spec adds to network `{}` by its name in `vpcs[{}]`",
                        network.name, v.name
                    ),
                    format!(
                        "name it by its id `{}` in your spec first, then rename the network",
                        network.id
                    ),
                ));
            }
            network.name = name;
        }
    }
    if network == *current {
        return Ok(Outcome {
            value: network,
            changes: Vec::new(),
        });
    }
    network.updated_at = env.now;
    Ok(Outcome {
        changes: vec![Change::Put(Object::Network(network.clone()))],
        value: network,
    })
}

/// Starts deleting a network (status `deleting`; it is removed and its static IPs
/// released once the kernel no longer has it, see [`crate::complete`]). Refused
/// while a peering is active (or provisioning), while another tenant's request to
/// it is pending (reject it first, as AWS), or while the tenant's spec still has a
/// VPC that adds to it (functions, ENIs, endpoints, groups…); its own pending
/// requests are deleted with it.
pub fn delete_network(
    state: &ControlState,
    tenant: &crate::ids::TenantId,
    env: &Env,
    id: &NetworkId,
    spec: &TenantSpec,
) -> Result<Outcome<Network>> {
    let current = state.network(tenant, id)?;
    if current.status == NetworkStatus::Deleting {
        return Ok(Outcome {
            value: current.clone(),
            changes: Vec::new(),
        });
    }
    let involved = |p: &&crate::types::Peering| {
        p.requester.network.as_ref() == Some(id) || p.accepter.network.as_ref() == Some(id)
    };
    if let Some(p) = state
        .peerings
        .values()
        .filter(involved)
        .find(|p| p.status.is_up())
    {
        return Err(ControlError::field(
            ErrorCode::DependencyViolation,
            "id",
            format!(
                "network `{}` has the {} peering connection `{}`",
                current.name,
                p.status.as_str(),
                p.id
            ),
            "delete the peering connection first",
        ));
    }
    // As AWS: a request from another account to this VPC must be rejected first.
    if let Some(p) = state.peerings.values().find(|p| {
        p.status == PeeringStatus::PendingAcceptance
            && p.accepter.network.as_ref() == Some(id)
            && &p.requester.tenant != tenant
    }) {
        return Err(ControlError::field(
            ErrorCode::DependencyViolation,
            "id",
            format!(
                "network `{}` has the pending peering request `{}` from another account",
                current.name, p.id
            ),
            "reject the request first",
        ));
    }
    // What the spec adds to the network would outlive it as a VPC without a block
    // (an invalid spec for every tenant): it goes first.
    if let Some(v) = spec.vpcs.iter().find(|v| extends(v, current)) {
        let user = v
            .functions
            .first()
            .map(|f| format!("function `{}`", f.name))
            .or_else(|| v.enis.first().map(|e| format!("ENI `{}`", e.name)))
            .or_else(|| {
                v.endpoints
                    .first()
                    .map(|e| format!("endpoint `{}`", e.name))
            })
            .unwrap_or_else(|| format!("spec's `vpcs[{}]`", v.name));
        return Err(ControlError::field(
            ErrorCode::DependencyViolation,
            "id",
            format!("network `{}` is still used by your {user}", current.name),
            format!(
                "remove `vpcs[{}]` (what it puts in this network: functions, ENIs, endpoints, groups) from your spec first",
                v.name
            ),
        ));
    }
    let mut changes = Vec::new();
    for p in state
        .peerings
        .values()
        .filter(involved)
        .filter(|p| p.status == PeeringStatus::PendingAcceptance)
    {
        let mut p = p.clone();
        p.status = PeeringStatus::Deleted;
        p.status_message = Some("a VPC of the request was deleted".to_owned());
        p.expires_at = None;
        p.updated_at = env.now;
        changes.push(Change::Put(Object::Peering(p)));
    }
    let mut network = current.clone();
    network.status = NetworkStatus::Deleting;
    network.updated_at = env.now;
    changes.push(Change::Put(Object::Network(network.clone())));
    Ok(Outcome {
        value: network,
        changes,
    })
}

/// The tenant's networks, oldest first.
pub fn list_networks<'a>(
    state: &'a ControlState,
    tenant: &crate::ids::TenantId,
) -> Vec<&'a Network> {
    state.networks_of(tenant)
}

/// One of the tenant's networks, by id or name (another tenant's is not found).
pub fn get_network<'a>(
    state: &'a ControlState,
    tenant: &crate::ids::TenantId,
    id_or_name: &str,
) -> Result<&'a Network> {
    let mine = state.networks_of(tenant);
    mine.iter()
        .find(|n| n.id.as_str() == id_or_name)
        .or_else(|| mine.iter().find(|n| n.name == id_or_name))
        .copied()
        .ok_or_else(|| network_not_found(id_or_name))
}
