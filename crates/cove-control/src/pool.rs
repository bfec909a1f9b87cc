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
        let net = parse_block(
            t,
            &field,
            "write an address such as 203.0.113.7 or a block such as 203.0.113.0/28",
        )?;
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
    for (ip, holder) in state.ips_in_use() {
        if !blocks.iter().any(|b| b.contains(&ip)) {
            let held = if holder.starts_with("eipalloc-") {
                format!("{ip} is Elastic IP `{holder}` of a tenant")
            } else {
                format!("{ip} is a static IP of network `{holder}`")
            };
            return Err(ControlError::field(
                ErrorCode::DependencyViolation,
                "blocks",
                held,
                "keep the addresses networks and Elastic IPs hold in the pool; they are released when their network is deleted or the tenant releases them",
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

/// The pool as it is (admin only): `GET /v1/ip-pool`, `cove ip-pool list`.
pub fn get_ip_pool(state: &ControlState, actor: &Actor) -> Result<IpPool> {
    actor.require_admin("reading the public IP pool")?;
    Ok(state.ip_pool.clone())
}

/// Adds blocks to the pool and removes blocks from it in one decision (admin
/// only): `PATCH /v1/ip-pool`, `cove ip-pool add|remove`. Decided on the current
/// pool, so two operators adding blocks at once both keep theirs (a `PUT` of a
/// list read earlier would drop the other's). A removed entry must be a block of
/// the pool as listed (`InvalidAddress.NotFound` otherwise); the result is checked
/// as [`set_ip_pool`] checks a whole list (an added block overlapping the pool, an
/// address a network holds removed, …), with the field named `add[i]` or
/// `remove[i]`.
pub fn change_ip_pool(
    state: &ControlState,
    actor: &Actor,
    add: &[String],
    remove: &[String],
) -> Result<Outcome<IpPool>> {
    actor.require_admin("configuring the public IP pool")?;
    let mut kept: Vec<Ipv4Net> = state.ip_pool.blocks.clone();
    for (i, text) in remove.iter().enumerate() {
        let field = format!("remove[{i}]");
        let t = text.trim();
        let net = parse_block(
            t,
            &field,
            "write a block of the pool as listed, such as 203.0.113.0/28",
        )?;
        let Some(at) = kept.iter().position(|b| *b == net) else {
            return Err(ControlError::field(
                ErrorCode::InvalidAddressNotFound,
                field,
                format!("`{t}` is not a block of the public IP pool"),
                "list the pool and remove a block exactly as listed",
            ));
        };
        kept.remove(at);
    }
    let mut entries: Vec<String> = kept.iter().map(ToString::to_string).collect();
    let from_pool = entries.len();
    entries.extend(add.iter().cloned());
    set_ip_pool(state, actor, &entries).map_err(|mut e| {
        // `blocks[i]` of the combined list: name the request's own field.
        let index = e
            .field
            .as_deref()
            .and_then(|f| f.strip_prefix("blocks["))
            .and_then(|f| f.strip_suffix(']'))
            .and_then(|n| n.parse::<usize>().ok());
        e.field = match (index, e.field.as_deref()) {
            (Some(n), _) if n >= from_pool => Some(format!("add[{}]", n - from_pool)),
            (None, Some("blocks")) => Some("remove".to_owned()),
            (_, other) => other.map(str::to_owned),
        };
        e
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

/// `t` as a block (an address is its /32), or `InvalidParameterValue` on `field`
/// with `hint`.
fn parse_block(t: &str, field: &str, hint: &str) -> Result<Ipv4Net> {
    match (t.parse::<Ipv4Net>(), t.parse::<Ipv4Addr>()) {
        (Ok(n), _) => Ok(n),
        (_, Ok(a)) => Ok(Ipv4Net::from(a)),
        _ => Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            field.to_owned(),
            format!("`{t}` is not an IPv4 address or CIDR block"),
            hint,
        )),
    }
}
