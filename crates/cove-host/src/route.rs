//! Routes and policy-routing rules: [`Route`]/[`Rule`] ⇄ netlink messages (pure
//! functions, unit-tested) and the requests that add and remove them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use cove_plan::plan::{RouteText, RuleText};
use cove_plan::{DevName, LOCAL_RULE_LAST, Route, RouteKind, Rule, RuleSelector};
use ipnet::Ipv4Net;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
    RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use nix::errno::Errno;
use rtnetlink::Handle;

use crate::error::{HostError, nl_io};
use crate::link::{index, is_errno, require_index};

/// The local routing table (never observed: the kernel fills it).
pub(crate) const TABLE_LOCAL: u32 = 255;

/// Priorities of the rules every namespace starts with (never observed).
pub(crate) const DEFAULT_RULE_PRIORITIES: [u32; 3] = [0, 32766, 32767];

/// The `lookup local` rule at `priority`.
fn local_rule(priority: u32) -> Rule {
    Rule {
        priority,
        selector: RuleSelector::To(Ipv4Net::default()),
        table: TABLE_LOCAL,
    }
}

/// The priority of a rule message if it is a plain IPv4 `lookup local` rule (no
/// selector), the one every namespace starts with at priority 0.
pub(crate) fn local_rule_priority(msg: &RuleMessage) -> Option<u32> {
    let rule = rule_message_fields(msg)?;
    (rule.table == TABLE_LOCAL && rule.selector == RuleSelector::To(Ipv4Net::default()))
        .then_some(rule.priority)
}

/// Moves the `lookup local` rule to [`LOCAL_RULE_LAST`] (`last`) or back to
/// priority 0: the new place is added before the old one is removed, so the
/// namespace never lacks it; either step already done is not an error.
pub(crate) async fn set_local_rule_last(
    handle: &Handle,
    ns: &str,
    last: bool,
) -> Result<(), HostError> {
    let (to, from) = if last {
        (LOCAL_RULE_LAST, 0)
    } else {
        (0, LOCAL_RULE_LAST)
    };
    let add = local_rule(to);
    let mut req = handle.rule().add();
    *req.message_mut() = rule_message(&add);
    match req.execute().await.map_err(nl_io) {
        Ok(()) => {}
        Err(e) if is_errno(&e, Errno::EEXIST) => {}
        Err(source) => {
            return Err(HostError::RuleAdd {
                ns: ns.to_owned(),
                rule: RuleText(&add).to_string(),
                source,
            });
        }
    }
    delete_rule(handle, ns, &local_rule(from)).await
}

/// The header byte and `RTA_TABLE`/`FRA_TABLE` attribute for a table id, as
/// iproute2 sends them (ids above 255 only fit in the attribute).
fn table_header(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC)
}

/// The netlink message for `route`; `oif` is the index of its device (`Dev`/`Via`).
pub(crate) fn route_message(route: &Route, oif: Option<u32>) -> RouteMessage {
    let mut msg = RouteMessage::default();
    let h = &mut msg.header;
    h.address_family = AddressFamily::Inet;
    h.destination_prefix_length = route.dst.prefix_len();
    h.table = table_header(route.table);
    h.protocol = RouteProtocol::from(route.proto);
    h.scope = RouteScope::Universe;
    h.kind = RouteType::Unicast;
    let attrs = &mut msg.attributes;
    attrs.push(RouteAttribute::Table(route.table));
    if route.dst.prefix_len() > 0 {
        attrs.push(RouteAttribute::Destination(RouteAddress::Inet(
            route.dst.addr(),
        )));
    }
    match route.kind {
        RouteKind::Dev { .. } => h.scope = RouteScope::Link,
        RouteKind::Via { gateway, .. } => {
            h.flags |= RouteFlags::Onlink;
            attrs.push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        }
        RouteKind::Blackhole => h.kind = RouteType::BlackHole,
        RouteKind::Unreachable => h.kind = RouteType::Unreachable,
        RouteKind::Local { .. } => {
            h.kind = RouteType::Local;
            h.scope = RouteScope::Host;
        }
    }
    if let Some(oif) = oif {
        attrs.push(RouteAttribute::Oif(oif));
    }
    msg
}

/// The route a kernel message describes, if cove owns and can express it: IPv4, not
/// in the local table, not added by the kernel, a single next hop.
pub(crate) fn route_from_message(
    msg: &RouteMessage,
    names: &HashMap<u32, String>,
) -> Option<Route> {
    let h = &msg.header;
    if h.address_family != AddressFamily::Inet || h.protocol == RouteProtocol::Kernel {
        return None;
    }
    let mut table = u32::from(h.table);
    let mut dst = Ipv4Addr::UNSPECIFIED;
    let mut gateway = None;
    let mut oif = None;
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(RouteAddress::Inet(a)) => dst = *a,
            RouteAttribute::Gateway(RouteAddress::Inet(a)) => gateway = Some(*a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::MultiPath(_) => return None,
            _ => {}
        }
    }
    if table == TABLE_LOCAL {
        return None;
    }
    let dst = Ipv4Net::new(dst, h.destination_prefix_length).ok()?;
    let dev = || {
        oif.and_then(|i| names.get(&i))
            .and_then(|n| DevName::new(n))
    };
    let kind = match h.kind {
        RouteType::BlackHole => RouteKind::Blackhole,
        RouteType::Unreachable => RouteKind::Unreachable,
        RouteType::Local => RouteKind::Local { dev: dev()? },
        RouteType::Unicast => match gateway {
            Some(gateway) => RouteKind::Via {
                gateway,
                dev: dev()?,
            },
            None => RouteKind::Dev { dev: dev()? },
        },
        _ => return None,
    };
    Some(Route {
        table,
        dst,
        kind,
        proto: u8::from(h.protocol),
    })
}

/// The netlink message for `rule` (action "lookup table").
pub(crate) fn rule_message(rule: &Rule) -> RuleMessage {
    let mut msg = RuleMessage::default();
    msg.header.family = AddressFamily::Inet;
    msg.header.action = RuleAction::ToTable;
    msg.header.table = table_header(rule.table);
    msg.attributes.push(RuleAttribute::Table(rule.table));
    msg.attributes.push(RuleAttribute::Priority(rule.priority));
    match rule.selector {
        RuleSelector::To(dst) => {
            msg.header.dst_len = dst.prefix_len();
            if dst.prefix_len() > 0 {
                msg.attributes
                    .push(RuleAttribute::Destination(IpAddr::V4(dst.addr())));
            }
        }
        RuleSelector::Iif(dev) => {
            msg.attributes
                .push(RuleAttribute::Iifname(dev.as_str().to_owned()));
        }
        RuleSelector::Fwmark(mark) => {
            msg.attributes.push(RuleAttribute::FwMark(mark));
            msg.attributes.push(RuleAttribute::FwMask(u32::MAX));
        }
        RuleSelector::ToMarked { to, mark, mask } => {
            msg.header.dst_len = to.prefix_len();
            if to.prefix_len() > 0 {
                msg.attributes
                    .push(RuleAttribute::Destination(IpAddr::V4(to.addr())));
            }
            msg.attributes.push(RuleAttribute::FwMark(mark));
            msg.attributes.push(RuleAttribute::FwMask(mask));
        }
    }
    msg
}

/// The rule a kernel message describes, if cove can express it (IPv4, "lookup", at
/// most one selector, not one of the default rules).
pub(crate) fn rule_from_message(msg: &RuleMessage) -> Option<Rule> {
    let rule = rule_message_fields(msg)?;
    let moved_local = rule.priority == LOCAL_RULE_LAST && local_rule_priority(msg).is_some();
    if DEFAULT_RULE_PRIORITIES.contains(&rule.priority) || moved_local {
        return None;
    }
    Some(rule)
}

/// Any rule cove can express, the default ones included.
fn rule_message_fields(msg: &RuleMessage) -> Option<Rule> {
    let h = &msg.header;
    if h.family != AddressFamily::Inet || h.action != RuleAction::ToTable || h.src_len != 0 {
        return None;
    }
    let mut table = u32::from(h.table);
    let mut priority = 0;
    let mut dst = Ipv4Addr::UNSPECIFIED;
    let mut iif = None;
    let mut fwmark = None;
    let mut fwmask = u32::MAX;
    for attr in &msg.attributes {
        match attr {
            RuleAttribute::Table(t) => table = *t,
            RuleAttribute::Priority(p) => priority = *p,
            RuleAttribute::Destination(IpAddr::V4(a)) => dst = *a,
            RuleAttribute::Iifname(n) => iif = Some(DevName::new(n)?),
            RuleAttribute::FwMark(m) => fwmark = Some(*m),
            RuleAttribute::FwMask(m) => fwmask = *m,
            RuleAttribute::Source(_)
            | RuleAttribute::Oifname(_)
            | RuleAttribute::Goto(_)
            | RuleAttribute::UidRange(_)
            | RuleAttribute::IpProtocol(_)
            | RuleAttribute::SourcePortRange(_)
            | RuleAttribute::DestinationPortRange(_) => return None,
            _ => {}
        }
    }
    let selector = match (iif, fwmark) {
        (Some(dev), None) if h.dst_len == 0 => RuleSelector::Iif(dev),
        (None, Some(m)) if h.dst_len == 0 && fwmask == u32::MAX => RuleSelector::Fwmark(m),
        (None, Some(mark)) => RuleSelector::ToMarked {
            to: Ipv4Net::new(dst, h.dst_len).ok()?,
            mark,
            mask: fwmask,
        },
        (None, None) => RuleSelector::To(Ipv4Net::new(dst, h.dst_len).ok()?),
        _ => return None,
    };
    Some(Rule {
        priority,
        selector,
        table,
    })
}

/// The device a route goes out of, if any.
fn route_dev(route: &Route) -> Option<&str> {
    match &route.kind {
        RouteKind::Dev { dev } | RouteKind::Via { dev, .. } | RouteKind::Local { dev } => {
            Some(dev.as_str())
        }
        RouteKind::Blackhole | RouteKind::Unreachable => None,
    }
}

/// Adds a route.
pub(crate) async fn add_route(handle: &Handle, ns: &str, route: &Route) -> Result<(), HostError> {
    let oif = match route_dev(route) {
        Some(dev) => Some(require_index(handle, ns, dev).await?),
        None => None,
    };
    handle
        .route()
        .add(route_message(route, oif))
        .execute()
        .await
        .map_err(|e| HostError::RouteAdd {
            ns: ns.to_owned(),
            route: RouteText(route).to_string(),
            source: nl_io(e),
        })
}

/// Removes a route; absent (or its device gone) is not an error.
pub(crate) async fn delete_route(
    handle: &Handle,
    ns: &str,
    route: &Route,
) -> Result<(), HostError> {
    let oif = match route_dev(route) {
        Some(dev) => match index(handle, ns, dev).await? {
            Some(i) => Some(i),
            None => return Ok(()),
        },
        None => None,
    };
    match handle
        .route()
        .del(route_message(route, oif))
        .execute()
        .await
        .map_err(nl_io)
    {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, Errno::ESRCH) => Ok(()),
        Err(source) => Err(HostError::RouteDelete {
            ns: ns.to_owned(),
            route: RouteText(route).to_string(),
            source,
        }),
    }
}

/// Adds a policy-routing rule.
pub(crate) async fn add_rule(handle: &Handle, ns: &str, rule: &Rule) -> Result<(), HostError> {
    let mut req = handle.rule().add();
    *req.message_mut() = rule_message(rule);
    req.execute().await.map_err(|e| HostError::RuleAdd {
        ns: ns.to_owned(),
        rule: RuleText(rule).to_string(),
        source: nl_io(e),
    })
}

/// Removes a policy-routing rule; absent is not an error.
pub(crate) async fn delete_rule(handle: &Handle, ns: &str, rule: &Rule) -> Result<(), HostError> {
    match handle
        .rule()
        .del(rule_message(rule))
        .execute()
        .await
        .map_err(nl_io)
    {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, Errno::ENOENT) => Ok(()),
        Err(source) => Err(HostError::RuleDelete {
            ns: ns.to_owned(),
            rule: RuleText(rule).to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use cove_plan::ROUTE_PROTO_STATIC;

    use super::*;

    fn dev(n: &str) -> DevName {
        DevName::new(n).expect("valid name")
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("valid prefix")
    }

    #[test]
    fn routes_round_trip_through_messages() {
        let names: HashMap<u32, String> = [(7, "eth0".to_owned())].into();
        let routes = [
            Route {
                table: 254,
                dst: net("10.0.0.0/24"),
                kind: RouteKind::Dev { dev: dev("eth0") },
                proto: ROUTE_PROTO_STATIC,
            },
            Route {
                table: 1000,
                dst: net("0.0.0.0/0"),
                kind: RouteKind::Via {
                    gateway: "10.0.0.1".parse().expect("ip"),
                    dev: dev("eth0"),
                },
                proto: ROUTE_PROTO_STATIC,
            },
            Route {
                table: 100,
                dst: net("10.9.0.0/16"),
                kind: RouteKind::Blackhole,
                proto: ROUTE_PROTO_STATIC,
            },
            Route {
                table: 70000,
                dst: net("10.8.0.0/16"),
                kind: RouteKind::Unreachable,
                // Someone else's (`proto boot`): deleting it must name it.
                proto: 3,
            },
        ];
        for r in routes {
            let oif = route_dev(&r).map(|_| 7);
            let msg = route_message(&r, oif);
            assert_eq!(route_from_message(&msg, &names), Some(r));
        }
    }

    #[test]
    fn kernel_and_local_routes_are_not_observed() {
        let r = Route {
            table: 254,
            dst: net("10.0.0.0/24"),
            kind: RouteKind::Blackhole,
            proto: ROUTE_PROTO_STATIC,
        };
        let mut msg = route_message(&r, None);
        msg.header.protocol = RouteProtocol::Kernel;
        assert_eq!(route_from_message(&msg, &HashMap::new()), None);
        let local = Route { table: 255, ..r };
        assert_eq!(
            route_from_message(&route_message(&local, None), &HashMap::new()),
            None
        );
    }

    #[test]
    fn rules_round_trip_through_messages() {
        let rules = [
            Rule {
                priority: 100,
                selector: RuleSelector::To(net("10.0.0.0/8")),
                table: 1000,
            },
            Rule {
                priority: 101,
                selector: RuleSelector::Iif(dev("r1")),
                table: 200,
            },
            Rule {
                priority: 102,
                selector: RuleSelector::To(net("0.0.0.0/0")),
                table: 254,
            },
            Rule {
                priority: 103,
                selector: RuleSelector::Fwmark(0x0010_0002),
                table: 0x0010_0002,
            },
            Rule {
                priority: 104,
                selector: RuleSelector::ToMarked {
                    to: net("10.1.0.0/16"),
                    mark: 0x0030_0000,
                    mask: 0xfff0_0000,
                },
                table: 0x0030_0000,
            },
        ];
        for r in rules {
            assert_eq!(rule_from_message(&rule_message(&r)), Some(r));
        }
        let default = Rule {
            priority: 32766,
            selector: RuleSelector::To(net("0.0.0.0/0")),
            table: 254,
        };
        assert_eq!(rule_from_message(&rule_message(&default)), None);
    }
}
