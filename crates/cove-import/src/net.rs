//! Address checks shared by the converters (the rules cove's validation applies).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Parses a canonical IPv4 CIDR (`10.0.0.0/16`, not `10.0.0.1/16`).
pub(crate) fn parse_cidr(text: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = text
        .parse()
        .map_err(|_| format!("`{text}` is not an IPv4 CIDR"))?;
    if net.trunc() != net {
        return Err(format!("`{text}` is not canonical (host bits set)"));
    }
    Ok(net)
}

/// Parses a VPC or subnet CIDR: canonical and /16 to /28.
pub(crate) fn parse_block(text: &str) -> Result<Ipv4Net, String> {
    let net = parse_cidr(text)?;
    if !(16..=28).contains(&net.prefix_len()) {
        return Err(format!("`{text}` is not a /16 to /28 block"));
    }
    Ok(net)
}

/// Parses an interface address and checks that it is usable in `subnet`: inside it
/// and not one of the five addresses AWS reserves (network, +1, +2, +3, broadcast).
pub(crate) fn usable_ip(text: &str, subnet: Ipv4Net) -> Result<Ipv4Addr, String> {
    let ip: Ipv4Addr = text
        .parse()
        .map_err(|_| format!("`{text}` is not an IPv4 address"))?;
    if !subnet.contains(&ip) {
        return Err(format!("{ip} is outside its subnet {subnet}"));
    }
    let offset = u32::from(ip) - u32::from(subnet.network());
    if offset <= 3 || ip == subnet.broadcast() {
        return Err(format!(
            "{ip} is one of the addresses AWS reserves in {subnet}"
        ));
    }
    Ok(ip)
}

/// Whether `id` can be used as a spec name (cove's own rule: 1–255 characters of
/// `A-Za-z0-9._-`).
pub(crate) fn valid_name(id: &str) -> bool {
    cove_model::validate::is_valid_name(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_checks() {
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("10.0.0.1/8").is_err());
        assert!(parse_block("10.0.0.0/8").is_err());
        assert!(parse_block("10.0.0.0/28").is_ok());
        assert!(parse_block("10.0.0.0/29").is_err());
    }

    #[test]
    fn reserved_addresses() {
        let net = parse_cidr("10.0.1.0/24").expect("cidr");
        for bad in [
            "10.0.1.0",
            "10.0.1.1",
            "10.0.1.3",
            "10.0.1.255",
            "10.0.2.4",
            "x",
        ] {
            assert!(usable_ip(bad, net).is_err(), "{bad}");
        }
        assert!(usable_ip("10.0.1.4", net).is_ok());
        assert!(usable_ip("10.0.1.254", net).is_ok());
    }

    #[test]
    fn names() {
        assert!(valid_name("sg-0a1.b_c"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("Single port "));
        assert!(!valid_name(""));
    }
}
