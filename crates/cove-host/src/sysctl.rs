//! Network sysctls. `/proc/sys/net` shows the namespace of the thread that opens the
//! file, so these functions must run on a thread inside the namespace.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::HostError;

/// `net.ipv4.ip_forward`.
const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// `net.ipv4.fwmark_reflect`.
const FWMARK_REFLECT: &str = "/proc/sys/net/ipv4/fwmark_reflect";

/// `net.ipv4.tcp_fwmark_accept`.
const TCP_FWMARK_ACCEPT: &str = "/proc/sys/net/ipv4/tcp_fwmark_accept";

/// Per-interface IPv4 settings (`all`, `default`, and one directory per interface).
const CONF: &str = "/proc/sys/net/ipv4/conf";

/// Turned off when forwarding is turned on: a router or NAT gateway sends traffic
/// back out of the interface it came in on (no ICMP redirects), and cove checks
/// source addresses in nftables instead of with `rp_filter`.
const OFF_WHEN_FORWARDING: [&str; 2] = ["send_redirects", "rp_filter"];

fn write(ns: &str, path: PathBuf, value: &str) -> Result<(), HostError> {
    fs::write(&path, value).map_err(|source| HostError::Sysctl {
        ns: ns.to_owned(),
        path,
        source,
    })
}

/// Sets `net.ipv4.ip_forward`. When enabling, first sets `accept_local` in
/// `conf/all`, `fwmark_reflect` and `tcp_fwmark_accept` to 1, and `send_redirects` and
/// `rp_filter` to 0 in `conf/all`, `conf/default` and every existing interface: the
/// kernel sends redirects if `all` OR the interface says so and uses the larger
/// `rp_filter`, so `all` alone is not enough, and `default` covers interfaces created
/// later.
pub(crate) fn set_forwarding(ns: &str, enabled: bool) -> Result<(), HostError> {
    if enabled {
        // A forwarded packet may come from an address that is also one of this
        // namespace's own: the host router holds every VPC's subnet router
        // addresses, and a VPC may use another VPC's `.1` for an ENI. The kernel
        // would drop such a packet as a martian; cove checks sources in nftables.
        // (`all` is enough: the kernel ORs it with the interface's setting.)
        write(ns, Path::new(CONF).join("all/accept_local"), "1\n")?;
        // ICMP errors the namespace sends (time exceeded, unreachable) carry the mark
        // of the packet that caused them, so the host router routes them back into
        // that packet's VPC (its own packets have no mark, and no VPC route).
        write(ns, FWMARK_REFLECT.into(), "1\n")?;
        // A TCP connection the namespace accepts carries its SYN's mark, so the
        // answers of the VPCs' resolver (in the host router) are routed back into
        // the VPC the query came from.
        write(ns, TCP_FWMARK_ACCEPT.into(), "1\n")?;
        let dir = Path::new(CONF);
        let entries = fs::read_dir(dir).map_err(|source| HostError::Sysctl {
            ns: ns.to_owned(),
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries.flatten() {
            for key in OFF_WHEN_FORWARDING {
                write(ns, entry.path().join(key), "0\n")?;
            }
        }
    }
    write(ns, IP_FORWARD.into(), if enabled { "1\n" } else { "0\n" })
}

/// Reads `net.ipv4.ip_forward`.
pub(crate) fn forwarding(ns: &str) -> Result<bool, HostError> {
    let v = fs::read_to_string(IP_FORWARD).map_err(|source| HostError::Sysctl {
        ns: ns.to_owned(),
        path: IP_FORWARD.into(),
        source,
    })?;
    Ok(v.trim() != "0")
}
