//! Parsing of the scalar fields that every pass needs: names, CIDRs, addresses and the
//! protocol/ports/ICMP part of rules. Each function reports its own error.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::{Ctx, Path};
use crate::diag::ErrorCode;
use crate::spec::Scalar;
use crate::traffic::{PortRange, Protocol, TrafficMatch};

/// Whether `name` is a valid cove name: 1–255 characters of `A-Z a-z 0-9 . _ -`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Checks a name field; returns whether it is usable.
pub(crate) fn name(cx: &mut Ctx, path: &Path, value: &str) -> bool {
    if is_valid_name(value) {
        return true;
    }
    let (message, hint) = if value.is_empty() {
        (
            "`name` is missing or empty".to_owned(),
            "give the object a name of letters, digits, `.`, `_` or `-`",
        )
    } else {
        (
            format!("`{value}` is not a valid name"),
            "use only letters, digits, `.`, `_` and `-` (at most 255); `/` separates names in references",
        )
    };
    let code = if value.is_empty() {
        ErrorCode::MissingParameter
    } else {
        ErrorCode::InvalidParameterValue
    };
    cx.error(code, &path.key("name"), message, hint);
    false
}

/// Parses a canonical IPv4 CIDR. A malformed value (or one with host bits set) is
/// `InvalidParameterValue`, as EC2 reports it for VPC, subnet and route CIDRs alike;
/// the range codes (`InvalidVpc.Range`, `InvalidSubnet.Range`) are for well-formed
/// blocks of the wrong size, checked by the callers.
pub(crate) fn cidr(cx: &mut Ctx, path: &Path, text: &str) -> Option<Ipv4Net> {
    let code = ErrorCode::InvalidParameterValue;
    let t = text.trim();
    let Ok(net) = t.parse::<Ipv4Net>() else {
        let hint = if t.parse::<Ipv4Addr>().is_ok() {
            format!("add a prefix length, e.g. `{t}/32` for a single address")
        } else {
            "write an IPv4 CIDR such as `10.0.0.0/16`".to_owned()
        };
        cx.error(code, path, format!("`{t}` is not an IPv4 CIDR block"), hint);
        return None;
    };
    if net.trunc() != net {
        cx.error(
            code,
            path,
            format!("`{t}` has host bits set"),
            format!("use the network address: `{}`", net.trunc()),
        );
        return None;
    }
    Some(net)
}

/// Parses an IPv4 address.
pub(crate) fn ip(cx: &mut Ctx, path: &Path, text: &str) -> Option<Ipv4Addr> {
    match text.trim().parse::<Ipv4Addr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            cx.error(
                ErrorCode::InvalidParameterValue,
                path,
                format!("`{}` is not an IPv4 address", text.trim()),
                "write a dotted-quad address such as `10.0.1.10`",
            );
            None
        }
    }
}

/// The protocol/ports/ICMP fields of an SG rule or NACL entry.
pub(crate) struct TrafficFields<'a> {
    pub(crate) protocol: &'a Scalar,
    pub(crate) ports: Option<&'a Scalar>,
    pub(crate) icmp_type: Option<i64>,
    pub(crate) icmp_code: Option<i64>,
}

/// Parses and cross-checks the protocol, ports and ICMP fields.
pub(crate) fn traffic(cx: &mut Ctx, path: &Path, f: TrafficFields<'_>) -> Option<TrafficMatch> {
    let ptext = f.protocol.text();
    let Some(protocol) = Protocol::parse(&ptext) else {
        cx.error(
            ErrorCode::InvalidParameterValue,
            &path.key("protocol"),
            format!("`{ptext}` is not a protocol"),
            "use tcp, udp, icmp, all (or -1), or an IP protocol number 0-255",
        );
        return None;
    };
    let mut ok = true;
    let ports = match (protocol.has_ports(), f.ports) {
        (true, None) => {
            cx.error(
                ErrorCode::MissingParameter,
                &path.key("ports"),
                format!("a {protocol} rule needs `ports`"),
                "add `ports: 5432` or a range such as `ports: 1024-65535` (`ports: all` for every port)",
            );
            ok = false;
            PortRange::ALL
        }
        (true, Some(p)) => match PortRange::parse(&p.text()) {
            Some(r) => r,
            None => {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path.key("ports"),
                    format!("`{}` is not a port or port range", p.text()),
                    "write a port 0-65535 or a range `from-to` with from <= to",
                );
                ok = false;
                PortRange::ALL
            }
        },
        (false, Some(_)) => {
            cx.error(
                ErrorCode::InvalidParameterCombination,
                &path.key("ports"),
                format!("`ports` only applies to tcp and udp, not to {protocol}"),
                "remove `ports`, or change `protocol` to tcp or udp",
            );
            ok = false;
            PortRange::ALL
        }
        (false, None) => PortRange::ALL,
    };
    let mut icmp = |cx: &mut Ctx, field: &str, v: Option<i64>| -> Option<u8> {
        let v = v?;
        if protocol != Protocol::Icmp {
            cx.error(
                ErrorCode::InvalidParameterCombination,
                &path.key(field),
                format!("`{field}` only applies to icmp"),
                format!("remove `{field}`, or change `protocol` to icmp"),
            );
            ok = false;
            return None;
        }
        if v == -1 {
            return None;
        }
        match u8::try_from(v) {
            Ok(x) => Some(x),
            Err(_) => {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path.key(field),
                    format!("{field} {v} is out of range"),
                    "use 0-255, or -1 for all",
                );
                ok = false;
                None
            }
        }
    };
    let icmp_type = icmp(cx, "icmp_type", f.icmp_type);
    let icmp_code = icmp(cx, "icmp_code", f.icmp_code);
    ok.then_some(TrafficMatch {
        protocol,
        ports,
        icmp_type,
        icmp_code,
    })
}

/// Why `ip` cannot be a public IPv4 address (an ENI's public IP, a NAT gateway's
/// Elastic IP), or `None` if it can: it must be unicast and routable on the
/// internet — exactly the addresses [`crate::lookup::is_special_purpose`] does not
/// hold, so the analyzer treats every valid public IP as an internet address. The
/// documentation ranges (192.0.2.0/24, 198.51.100.0/24,
/// 203.0.113.0/24) are accepted: cove's examples and tests use them as public
/// addresses, as AWS's documentation does.
pub fn public_ip_problem(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(if ip.is_unspecified() || o[0] == 0 {
        "is in 0.0.0.0/8 (\"this network\")"
    } else if ip.is_broadcast() {
        "is the limited broadcast address"
    } else if ip.is_multicast() {
        "is a multicast address (224.0.0.0/4)"
    } else if o[0] >= 240 {
        "is in the reserved range 240.0.0.0/4"
    } else if ip.is_loopback() {
        "is a loopback address (127.0.0.0/8)"
    } else if ip.is_link_local() {
        "is a link-local address (169.254.0.0/16)"
    } else if ip.is_private() {
        "is a private address (RFC 1918)"
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        "is in the shared address space 100.64.0.0/10 (carrier-grade NAT)"
    } else {
        return None;
    })
}

/// Parses a public IPv4 address: well-formed and [`public_ip_problem`]-free
/// (`InvalidParameterValue`, naming the field).
pub(crate) fn public_ip(cx: &mut Ctx, path: &Path, text: &str) -> Option<Ipv4Addr> {
    let ip = ip(cx, path, text)?;
    if let Some(why) = public_ip_problem(ip) {
        cx.error(
            ErrorCode::InvalidParameterValue,
            path,
            format!("`{ip}` {why}: it cannot be a public IP"),
            "use a public unicast address (an Elastic IP), e.g. 203.0.113.10",
        );
        return None;
    }
    Some(ip)
}

/// Why `name` is not a valid DNS host name, or `None` if it is: labels of 1–63
/// letters, digits and hyphens, not starting or ending with a hyphen, separated by
/// dots, at most 253 characters (one trailing dot allowed); the first label may be
/// `*` (a wildcard name, as interface endpoints' private DNS names use).
pub fn hostname_problem(name: &str) -> Option<String> {
    let n = name.strip_suffix('.').unwrap_or(name);
    if n.is_empty() {
        return Some("is empty".to_owned());
    }
    if n.len() > 253 {
        return Some(format!(
            "is {} characters long; at most 253 are allowed",
            n.len()
        ));
    }
    for (i, label) in n.split('.').enumerate() {
        if i == 0 && label == "*" {
            continue;
        }
        if label.is_empty() {
            return Some("has an empty label (two dots in a row, or a leading dot)".to_owned());
        }
        if label.len() > 63 {
            return Some(format!(
                "has a label of {} characters; at most 63 are allowed",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Some(format!(
                "contains {c:?}; a label may hold only letters, digits and `-`"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!(
                "has the label `{label}`, which starts or ends with `-`"
            ));
        }
    }
    None
}
