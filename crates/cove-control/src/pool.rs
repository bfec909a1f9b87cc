//! The operator's public IP pool: configuration, and handing out static IPs
//! (unique across tenants; never-used addresses first, then the one released
//! longest ago).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::UnixTime;
use crate::state::{Actor, Change, ControlState, Object, Outcome};
use crate::types::IpPool;

/// Most addresses the pool may hold (all blocks together).
pub const MAX_POOL_ADDRESSES: u64 = 1 << 16;

/// Replaces the pool's blocks (admin only). Entries are addresses (`203.0.113.7`)
/// or blocks (`203.0.113.0/28`), public unicast; an address some network holds must
/// stay in the pool.
pub fn set_ip_pool(
    state: &ControlState,
    actor: &Actor,
    entries: &[String],
) -> Result<Outcome<IpPool>> {
    actor.require_admin("configuring the public IP pool")?;
    let mut blocks: Vec<Ipv4Net> = Vec::new();
    let mut total: u64 = 0;
    for (i, text) in entries.iter().enumerate() {
        let field = format!("blocks[{i}]");
        let t = text.trim();
        let net = match (t.parse::<Ipv4Net>(), t.parse::<Ipv4Addr>()) {
            (Ok(n), _) => n,
            (_, Ok(a)) => Ipv4Net::from(a),
            _ => {
                return Err(ControlError::field(
                    ErrorCode::InvalidParameterValue,
                    field,
                    format!("`{t}` is not an IPv4 address or CIDR block"),
                    "write an address such as 203.0.113.7 or a block such as 203.0.113.0/28",
                ));
            }
        };
        if net.trunc() != net {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterValue,
                field,
                format!("`{t}` has host bits set"),
                format!("use the network address: `{}`", net.trunc()),
            ));
        }
        total += 1u64 << (32 - u32::from(net.prefix_len()));
        if total > MAX_POOL_ADDRESSES {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterValue,
                field,
                format!("the pool would hold more than {MAX_POOL_ADDRESSES} addresses"),
                "use smaller blocks (a pool this size is never used up)",
            ));
        }
        if let Some(bad) = addresses(net).find_map(|a| {
            cove_model::validate::public_ip_problem(a).map(|why| format!("{a} {why}"))
        }) {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterValue,
                field,
                format!("`{t}` is not all public: {bad}"),
                "give public unicast addresses the operator owns (NAT gateways translate to them)",
            ));
        }
        if let Some(prev) = blocks
            .iter()
            .find(|b| b.contains(&net.network()) || net.contains(&b.network()))
        {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterValue,
                field,
                format!("`{net}` overlaps `{prev}`, already in the pool"),
                "list every address once",
            ));
        }
        blocks.push(net);
    }
    for (ip, network) in state.ips_in_use() {
        if !blocks.iter().any(|b| b.contains(&ip)) {
            return Err(ControlError::field(
                ErrorCode::DependencyViolation,
                "blocks",
                format!("{ip} is a static IP of network `{network}`"),
                "keep the addresses networks hold in the pool; they are released when their network is deleted",
            ));
        }
    }
    let mut pool = state.ip_pool.clone();
    pool.blocks = blocks;
    // Forget release times of addresses no longer in the pool.
    pool.released_at
        .retain(|ip, _| pool.blocks.iter().any(|b| b.contains(ip)));
    let changes = if pool == state.ip_pool {
        Vec::new()
    } else {
        vec![Change::Put(Object::IpPool(pool.clone()))]
    };
    Ok(Outcome {
        value: pool,
        changes,
    })
}

/// Every address of a block, in order.
fn addresses(net: Ipv4Net) -> impl Iterator<Item = Ipv4Addr> {
    let first = u32::from(net.network());
    let last = u32::from(net.broadcast());
    (first..=last).map(Ipv4Addr::from)
}

/// Picks `n` free addresses: never-used ones first (pool order), then the ones
/// released longest ago. `InsufficientAddressCapacity` if fewer are free. Stops at
/// the `n`th never-used address, so a large pool costs little while it lasts.
pub(crate) fn allocate(state: &ControlState, n: usize) -> Result<Vec<Ipv4Addr>> {
    let used: BTreeSet<Ipv4Addr> = state.ips_in_use().into_keys().collect();
    let pool = &state.ip_pool;
    let in_pool = |a: &Ipv4Addr| pool.blocks.iter().any(|b| b.contains(a));
    let mut out: Vec<Ipv4Addr> = pool
        .blocks
        .iter()
        .flat_map(|b| addresses(*b))
        .filter(|a| !used.contains(a) && !pool.released_at.contains_key(a))
        .take(n)
        .collect();
    if out.len() < n {
        let mut released: Vec<(UnixTime, Ipv4Addr)> = pool
            .released_at
            .iter()
            .filter(|(a, _)| !used.contains(*a) && in_pool(a))
            .map(|(a, t)| (*t, *a))
            .collect();
        released.sort_by_key(|(t, a)| (*t, position(pool, *a)));
        out.extend(released.into_iter().map(|(_, a)| a).take(n - out.len()));
    }
    if out.len() < n {
        return Err(ControlError::general(
            ErrorCode::InsufficientAddressCapacity,
            format!("the public IP pool has no free address for {n} static IP(s)"),
            "ask the operator to add addresses to the public IP pool",
        ));
    }
    Ok(out)
}

/// An address's place in the pool (blocks in order, addresses in order).
fn position(pool: &IpPool, a: Ipv4Addr) -> u64 {
    let mut before = 0u64;
    for b in &pool.blocks {
        if b.contains(&a) {
            return before + u64::from(u32::from(a) - u32::from(b.network()));
        }
        before += 1u64 << (32 - u32::from(b.prefix_len()));
    }
    before
}
