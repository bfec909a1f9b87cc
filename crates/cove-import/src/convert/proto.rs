//! Protocol, port and ICMP mapping shared by security-group rules and ACL entries.

use cove_model::spec::Scalar;

/// The protocol part of a rule, in spec form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proto {
    /// `all`, `tcp`, `udp`, `icmp` or a protocol number.
    pub protocol: Scalar,
    /// Ports for tcp and udp.
    pub ports: Option<Scalar>,
    /// ICMP type (`None`: all).
    pub icmp_type: Option<i64>,
    /// ICMP code (`None`: all).
    pub icmp_code: Option<i64>,
}

/// An AWS protocol, by name or number.
enum Kind {
    All,
    Tcp,
    Udp,
    Icmp,
    Number(i64),
}

/// Reads `-1`, `tcp`, `6`, … ; IPv6-only and unknown protocols are errors.
fn kind(p: &str) -> Result<Kind, String> {
    Ok(match p.to_ascii_lowercase().as_str() {
        "-1" | "all" => Kind::All,
        "tcp" | "6" => Kind::Tcp,
        "udp" | "17" => Kind::Udp,
        "icmp" | "1" => Kind::Icmp,
        "icmpv6" | "58" => return Err("ICMPv6 (IPv6) is not modeled".to_owned()),
        other => match other.parse::<i64>() {
            Ok(n) if (0..=255).contains(&n) => Kind::Number(n),
            _ => return Err(format!("unknown protocol `{p}`")),
        },
    })
}

/// A port range in spec form: `22` or `"1024-65535"`.
fn ports(from: Option<i64>, to: Option<i64>) -> Result<Scalar, String> {
    match (from, to) {
        (Some(f), Some(t)) if 0 <= f && f <= t && t <= 65535 => Ok(if f == t {
            Scalar::Int(f)
        } else {
            Scalar::Str(format!("{f}-{t}"))
        }),
        _ => Err(format!(
            "invalid port range {}..{}",
            from.map_or("?".to_owned(), |f| f.to_string()),
            to.map_or("?".to_owned(), |t| t.to_string())
        )),
    }
}

/// ICMP type and code, `-1` meaning all.
fn icmp(kind: Option<i64>, code: Option<i64>) -> Result<(Option<i64>, Option<i64>), String> {
    let k = kind.filter(|&k| k != -1);
    let c = code.filter(|&c| c != -1);
    for v in [k, c].into_iter().flatten() {
        if !(0..=255).contains(&v) {
            return Err(format!("invalid ICMP type or code {v}"));
        }
    }
    if k.is_none() && c.is_some() {
        return Err("an ICMP code without an ICMP type".to_owned());
    }
    Ok((k, c))
}

/// Builds the protocol part from a protocol and its port/ICMP fields.
fn build(
    p: &str,
    from: Option<i64>,
    to: Option<i64>,
    icmp_type: Option<i64>,
    icmp_code: Option<i64>,
) -> Result<Proto, String> {
    let mut out = Proto {
        protocol: Scalar::Str(String::new()),
        ports: None,
        icmp_type: None,
        icmp_code: None,
    };
    match kind(p)? {
        Kind::All => out.protocol = Scalar::from("all"),
        Kind::Tcp => {
            out.protocol = Scalar::from("tcp");
            out.ports = Some(ports(from, to)?);
        }
        Kind::Udp => {
            out.protocol = Scalar::from("udp");
            out.ports = Some(ports(from, to)?);
        }
        Kind::Icmp => {
            out.protocol = Scalar::from("icmp");
            (out.icmp_type, out.icmp_code) = icmp(icmp_type, icmp_code)?;
        }
        Kind::Number(n) => out.protocol = Scalar::Int(n),
    }
    Ok(out)
}

/// A security-group permission: `FromPort`/`ToPort` are the ports, or for ICMP the
/// type and code.
pub(crate) fn sg_proto(p: &str, from: Option<i64>, to: Option<i64>) -> Result<Proto, String> {
    build(p, from, to, from, to)
}

/// A network-ACL entry: `PortRange` and `IcmpTypeCode`.
pub(crate) fn nacl_proto(
    p: &str,
    range: Option<(Option<i64>, Option<i64>)>,
    icmp: Option<(Option<i64>, Option<i64>)>,
) -> Result<Proto, String> {
    let (from, to) = range.unwrap_or((None, None));
    let (t, c) = icmp.unwrap_or((None, None));
    build(p, from, to, t, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: Result<Proto, String>) -> Proto {
        p.expect("converts")
    }

    #[test]
    fn all_has_no_ports() {
        let p = ok(sg_proto("-1", None, None));
        assert_eq!(p.protocol, Scalar::from("all"));
        assert_eq!(p.ports, None);
    }

    #[test]
    fn tcp_udp_ports() {
        assert_eq!(
            ok(sg_proto("tcp", Some(22), Some(22))).ports,
            Some(Scalar::Int(22))
        );
        assert_eq!(
            ok(sg_proto("udp", Some(33434), Some(33534))).ports,
            Some(Scalar::from("33434-33534"))
        );
        assert_eq!(
            ok(sg_proto("6", Some(0), Some(65535))).protocol,
            Scalar::from("tcp")
        );
        assert_eq!(
            ok(sg_proto("17", Some(53), Some(53))).protocol,
            Scalar::from("udp")
        );
        assert!(sg_proto("tcp", Some(-1), Some(50)).is_err());
        assert!(sg_proto("tcp", Some(30), Some(-1)).is_err());
        assert!(sg_proto("tcp", Some(50), Some(40)).is_err());
        assert!(sg_proto("tcp", None, None).is_err());
    }

    #[test]
    fn icmp_type_and_code() {
        let p = ok(sg_proto("icmp", Some(8), Some(-1)));
        assert_eq!((p.icmp_type, p.icmp_code), (Some(8), None));
        let p = ok(sg_proto("icmp", Some(8), Some(0)));
        assert_eq!((p.icmp_type, p.icmp_code), (Some(8), Some(0)));
        let p = ok(sg_proto("1", Some(-1), Some(-1)));
        assert_eq!((p.icmp_type, p.icmp_code, p.ports), (None, None, None));
        assert!(sg_proto("icmp", Some(-1), Some(9)).is_err());
        assert!(sg_proto("icmp", Some(300), Some(0)).is_err());
    }

    #[test]
    fn numbers_and_ipv6() {
        assert_eq!(ok(sg_proto("47", None, None)).protocol, Scalar::Int(47));
        assert!(sg_proto("icmpv6", None, None).is_err());
        assert!(sg_proto("58", None, None).is_err());
        assert!(sg_proto("bogus", None, None).is_err());
        assert!(sg_proto("256", None, None).is_err());
    }

    #[test]
    fn nacl_fields() {
        let p = ok(nacl_proto("6", Some((Some(3306), Some(3306))), None));
        assert_eq!(
            (p.protocol, p.ports),
            (Scalar::from("tcp"), Some(Scalar::Int(3306)))
        );
        let p = ok(nacl_proto("1", None, Some((Some(0), Some(1)))));
        assert_eq!((p.icmp_type, p.icmp_code), (Some(0), Some(1)));
        let p = ok(nacl_proto("-1", None, None));
        assert_eq!(p.protocol, Scalar::from("all"));
        assert!(nacl_proto("17", None, None).is_err());
    }
}
