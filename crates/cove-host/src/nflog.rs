//! Refused packets over NFLOG (`linux/netfilter/nfnetlink_log.h`), for REJECT
//! flow-log records: the host router's `rejected` chain logs each refused
//! packet's first bytes to group [`cove_plan::reject::NFLOG_GROUP`], with its
//! mark naming the refusing component. [`RejectReader`] binds that group in the
//! router's namespace and drains what arrived since the last read; no work per
//! accepted packet, and the kernel rate-limits the refused ones.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use cove_flowlog::{Refused, parse_ipv4};
use netlink_sys::{Socket, SocketAddr};

use crate::conntrack::{NFGENMSG_LEN, NLMSG_ERROR, align, attr, attrs, error_code};
use crate::ctflows::drain;
use crate::ctsync_msg::frames;
use crate::ctsync_target::{ct_socket, here, socket_error, still};
use crate::error::HostError;
use crate::netns::{self, NsId};

const NFNL_SUBSYS_ULOG: u16 = 4;
const NFULNL_MSG_PACKET: u16 = 0;
const NFULNL_MSG_CONFIG: u16 = 1;
const NFULA_CFG_CMD: u16 = 1;
const NFULA_CFG_MODE: u16 = 2;
const NFULA_CFG_TIMEOUT: u16 = 4;
const NFULNL_CFG_CMD_BIND: u8 = 1;
const NFULNL_COPY_PACKET: u8 = 2;
const NFULA_MARK: u16 = 2;
const NFULA_IFINDEX_INDEV: u16 = 4;
const NFULA_IFINDEX_OUTDEV: u16 = 5;
const NFULA_PAYLOAD: u16 = 9;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
/// How long the kernel holds logged packets before sending them (1/100 s).
const FLUSH_TIMEOUT_CS: u32 = 10;

/// A configuration message for `group`: `nlmsghdr`, `nfgenmsg` (resource id:
/// the group, big-endian), one attribute.
fn config(group: u16, seq: u32, ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(32);
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&group.to_be_bytes());
    let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(align(m.len()), 0);
    let total = u32::try_from(m.len()).unwrap_or(u32::MAX);
    m[..4].copy_from_slice(&total.to_ne_bytes());
    m
}

/// One logged packet as NFLOG sends it; links are ifindexes here (the reader
/// names them).
#[derive(Debug, PartialEq, Eq)]
struct Logged<'a> {
    mark: u32,
    indev: Option<u32>,
    outdev: Option<u32>,
    payload: &'a [u8],
}

/// The packet of one NFLOG message (`None`: no payload).
fn parse_packet(payload: &[u8]) -> Option<Logged<'_>> {
    let list = attrs(payload.get(NFGENMSG_LEN..)?);
    let u32_of = |ty| {
        attr(&list, ty)
            .and_then(|(_, p)| <[u8; 4]>::try_from(p).ok())
            .map(u32::from_be_bytes)
    };
    let mark = u32_of(NFULA_MARK).unwrap_or(0);
    Some(Logged {
        mark,
        indev: u32_of(NFULA_IFINDEX_INDEV),
        outdev: u32_of(NFULA_IFINDEX_OUTDEV),
        payload: attr(&list, NFULA_PAYLOAD)?.1,
    })
}

/// What a read gave.
#[derive(Debug, Default)]
pub struct Rejects {
    /// The refused packets logged since the last read.
    pub packets: Vec<Refused>,
    /// Times the socket's buffer overflowed (logged packets were lost).
    pub lost: u64,
}

/// The router's refused packets, read on demand.
pub struct RejectReader {
    ns: String,
    id: NsId,
    socket: Socket,
    buf: Vec<u8>,
    /// Link names by ifindex (looked up on a miss).
    names: HashMap<u32, String>,
}

impl std::fmt::Debug for RejectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RejectReader")
            .field("ns", &self.ns)
            .finish_non_exhaustive()
    }
}

/// The kernel's answer to one configuration message (0 or a negative errno).
fn acked(socket: &Socket, buf: &mut [u8], seq: u32) -> io::Result<()> {
    loop {
        let n = socket.recv(&mut &mut buf[..], 0)?;
        for f in frames(&buf[..n]) {
            if f.ty == NLMSG_ERROR && f.seq == seq {
                let code = error_code(f.payload);
                return if code == 0 {
                    Ok(())
                } else {
                    Err(io::Error::from_raw_os_error(-code))
                };
            }
        }
    }
}

impl RejectReader {
    /// Binds the router's NFLOG group in namespace `ns`, copying each logged
    /// packet's first bytes.
    pub fn open(ns: &str) -> Result<RejectReader, HostError> {
        let name = ns.to_owned();
        let group = cove_plan::reject::NFLOG_GROUP;
        let (id, socket) = netns::run_in(ns, move || {
            let id = here(&name)?;
            let socket = ct_socket(&name, Duration::from_secs(2), 4 << 20)?;
            let kernel = SocketAddr::new(0, 0);
            let mut buf = vec![0u8; 8192];
            let mut mode = cove_plan::reject::SNAPLEN.to_be_bytes().to_vec();
            mode.extend_from_slice(&[NFULNL_COPY_PACKET, 0]);
            let steps: [(u16, Vec<u8>, &'static str); 3] = [
                (
                    NFULA_CFG_CMD,
                    vec![NFULNL_CFG_CMD_BIND],
                    "bind the NFLOG group of refused packets",
                ),
                (NFULA_CFG_MODE, mode, "set NFLOG's copy mode"),
                (
                    NFULA_CFG_TIMEOUT,
                    FLUSH_TIMEOUT_CS.to_be_bytes().to_vec(),
                    "set NFLOG's flush timeout",
                ),
            ];
            for (seq, (ty, payload, what)) in (1u32..).zip(steps) {
                socket
                    .send_to(&config(group, seq, ty, &payload), &kernel, 0)
                    .map_err(socket_error(&name, what))?;
                acked(&socket, &mut buf, seq).map_err(socket_error(&name, what))?;
            }
            socket
                .set_non_blocking(true)
                .map_err(socket_error(&name, "make the NFLOG socket non-blocking"))?;
            Ok((id, socket))
        })?;
        Ok(RejectReader {
            ns: ns.to_owned(),
            id,
            socket,
            buf: vec![0; 1 << 20],
            names: HashMap::new(),
        })
    }

    /// Whether `/run/netns/<ns>` is still the namespace this reader was opened in.
    pub fn current(&self) -> bool {
        still(&self.ns, self.id)
    }

    /// The refused packets logged since the last read, stamped `time_s`.
    pub fn read(&mut self, time_s: u64) -> Result<Rejects, HostError> {
        let mut out = Rejects::default();
        let mut raw: Vec<(u32, Option<u32>, Option<u32>, cove_flowlog::PacketHeader)> = Vec::new();
        out.lost = drain(
            &self.socket,
            &mut self.buf,
            &self.ns,
            "read refused packets from NFLOG",
            |ty, payload| {
                if ty != (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET {
                    return;
                }
                if let Some(l) = parse_packet(payload) {
                    if let Some(h) = parse_ipv4(l.payload) {
                        raw.push((l.mark, l.indev, l.outdev, h));
                    }
                }
            },
        )?;
        let missing = raw
            .iter()
            .flat_map(|(_, i, o, _)| [*i, *o])
            .flatten()
            .any(|x| !self.names.contains_key(&x));
        if missing {
            self.names = link_names(&self.ns)?;
        }
        let name = |x: Option<u32>| x.and_then(|x| self.names.get(&x).cloned());
        out.packets = raw
            .into_iter()
            .map(|(mark, i, o, packet)| Refused {
                mark,
                in_link: name(i),
                out_link: name(o),
                packet,
                time_s,
            })
            .collect();
        Ok(out)
    }
}

/// Every link of namespace `ns`, by ifindex.
fn link_names(ns: &str) -> Result<HashMap<u32, String>, HostError> {
    let name = ns.to_owned();
    netns::run_in(ns, move || {
        let list = nix::net::if_::if_nameindex()
            .map_err(|e| socket_error(&name, "list the router's links")(e.into()))?;
        Ok(list
            .iter()
            .map(|i| (i.index(), i.name().to_string_lossy().into_owned()))
            .collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_message_layout() {
        let m = config(7, 1, NFULA_CFG_CMD, &[NFULNL_CFG_CMD_BIND]);
        assert_eq!(m.len(), 16 + 4 + 8);
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 28);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 0x0401);
        // nfgenmsg: AF_UNSPEC, version 0, group 7 big-endian.
        assert_eq!(&m[16..20], &[0, 0, 0, 7]);
        // The attribute: length 5, type 1, the command.
        assert_eq!(u16::from_ne_bytes([m[20], m[21]]), 5);
        assert_eq!(u16::from_ne_bytes([m[22], m[23]]), NFULA_CFG_CMD);
        assert_eq!(m[24], NFULNL_CFG_CMD_BIND);
    }

    #[test]
    fn a_logged_packet() {
        let mut p = vec![0, 0, 0, 7];
        let mut put = |ty: u16, v: &[u8]| {
            let len = u16::try_from(4 + v.len()).expect("short");
            p.extend_from_slice(&len.to_ne_bytes());
            p.extend_from_slice(&ty.to_ne_bytes());
            p.extend_from_slice(v);
            p.resize(align(p.len()), 0);
        };
        put(NFULA_MARK, &0x4000_0003u32.to_be_bytes());
        put(NFULA_IFINDEX_INDEV, &12u32.to_be_bytes());
        put(NFULA_PAYLOAD, &[0x45, 0, 0, 20]);
        let l = parse_packet(&p).expect("packet");
        assert_eq!((l.mark, l.indev, l.outdev), (0x4000_0003, Some(12), None));
        assert_eq!(l.payload, &[0x45, 0, 0, 20]);
        assert_eq!(parse_packet(&[0, 0, 0, 7]), None, "no payload");
    }
}
