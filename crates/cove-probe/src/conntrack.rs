//! Emptying a namespace's connection-tracking table (ctnetlink flush), so that the
//! next probes are new flows.

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use crate::netns::{ProbeError, in_namespace};

/// nfnetlink subsystem of conntrack.
const NFNL_SUBSYS_CTNETLINK: u16 = 1;
/// ctnetlink's delete message; without a tuple it deletes every entry.
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 2;
const AF_INET: u8 = 2;

/// The flush request: netlink header, then `nfgenmsg` (IPv4, version 0).
fn flush_request() -> Vec<u8> {
    let mut m = Vec::with_capacity(20);
    m.extend_from_slice(&20u32.to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    m.extend_from_slice(&[AF_INET, 0, 0, 0]);
    m
}

/// The error code of the kernel's acknowledgement (0: done), if `answer` is one.
fn ack_error(answer: &[u8]) -> Option<i32> {
    let ty = u16::from_ne_bytes(answer.get(4..6)?.try_into().ok()?);
    if ty != NLMSG_ERROR {
        return None;
    }
    Some(i32::from_ne_bytes(answer.get(16..20)?.try_into().ok()?))
}

/// Deletes every IPv4 connection-tracking entry of namespace `ns` (every zone).
pub fn flush_conntrack(ns: &str) -> Result<(), ProbeError> {
    let err = |source| ProbeError::Socket {
        ns: ns.to_owned(),
        what: "conntrack flush".to_owned(),
        source,
    };
    let socket = in_namespace(ns, || Socket::new(NETLINK_NETFILTER))?.map_err(err)?;
    socket
        .send_to(&flush_request(), &SocketAddr::new(0, 0), 0)
        .map_err(err)?;
    let mut buf = vec![0u8; 8192];
    let n = socket.recv(&mut &mut buf[..], 0).map_err(err)?;
    match ack_error(&buf[..n]) {
        Some(0) => Ok(()),
        Some(e) => Err(err(std::io::Error::from_raw_os_error(-e))),
        None => Err(err(std::io::Error::other(
            "the kernel did not acknowledge the conntrack flush",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_ctnetlink_delete_without_a_tuple() {
        let m = flush_request();
        assert_eq!(m.len(), 20);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().expect("bytes")), 20);
        assert_eq!(
            u16::from_ne_bytes(m[4..6].try_into().expect("bytes")),
            0x0102
        );
        assert_eq!(m[16], AF_INET);
    }

    #[test]
    fn an_acknowledgement_carries_its_error_code() {
        let mut a = vec![0u8; 36];
        a[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        a[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        assert_eq!(ack_error(&a), Some(-1));
        a[4..6].copy_from_slice(&3u16.to_ne_bytes());
        assert_eq!(ack_error(&a), None);
    }
}
