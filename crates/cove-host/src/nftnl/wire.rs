//! netlink framing for nf_tables: message headers with their `nfgenmsg`, attributes
//! and nested attributes, and the parts of an acknowledgement cove reads. Values
//! from `linux/netlink.h`, `linux/netfilter/nfnetlink.h` and
//! `linux/netfilter/nf_tables.h`.

use std::io;

/// `nlmsghdr` type of an error or acknowledgement.
pub(crate) const NLMSG_ERROR: u16 = 2;
/// A request.
pub(crate) const NLM_F_REQUEST: u16 = 0x1;
/// Ask for an acknowledgement.
pub(crate) const NLM_F_ACK: u16 = 0x4;
/// Fail if the object exists.
pub(crate) const NLM_F_EXCL: u16 = 0x200;
/// Create the object.
pub(crate) const NLM_F_CREATE: u16 = 0x400;
/// On an acknowledgement: the request's payload was left out (`NETLINK_CAP_ACK`).
pub(crate) const NLM_F_CAPPED: u16 = 0x100;
/// On an acknowledgement: extended-ack attributes follow.
pub(crate) const NLM_F_ACK_TLVS: u16 = 0x200;
/// Flag of a nested attribute's type.
const NLA_F_NESTED: u16 = 0x8000;
/// Extended ack: offset of the attribute the kernel refused, from the request's
/// `nlmsghdr`.
pub(crate) const NLMSGERR_ATTR_OFFS: u16 = 2;

/// Start of a batch (`nfgenmsg.res_id` names the subsystem).
pub(crate) const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
/// End of a batch: the kernel commits.
pub(crate) const NFNL_MSG_BATCH_END: u16 = 0x11;
/// The nf_tables subsystem.
pub(crate) const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// Add set elements.
pub(crate) const NFT_MSG_NEWSETELEM: u16 = 12;
/// Remove set elements.
pub(crate) const NFT_MSG_DELSETELEM: u16 = 14;
/// No family (batch messages).
pub(crate) const NFPROTO_UNSPEC: u8 = 0;
/// The `inet` family.
pub(crate) const NFPROTO_INET: u8 = 1;

/// `NFTA_SET_ELEM_LIST_TABLE`: table name.
pub(crate) const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
/// `NFTA_SET_ELEM_LIST_SET`: set name.
pub(crate) const NFTA_SET_ELEM_LIST_SET: u16 = 2;
/// `NFTA_SET_ELEM_LIST_ELEMENTS`: the elements (nested).
pub(crate) const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
/// `NFTA_LIST_ELEM`: one element (nested).
pub(crate) const NFTA_LIST_ELEM: u16 = 1;
/// `NFTA_SET_ELEM_KEY`: the key (nested data).
pub(crate) const NFTA_SET_ELEM_KEY: u16 = 1;
/// `NFTA_SET_ELEM_DATA`: a map element's value (nested data).
pub(crate) const NFTA_SET_ELEM_DATA: u16 = 2;
/// `NFTA_SET_ELEM_FLAGS`: element flags (big-endian `u32`).
pub(crate) const NFTA_SET_ELEM_FLAGS: u16 = 3;
/// `NFTA_SET_ELEM_USERDATA`: opaque user data (libnftnl TLVs).
pub(crate) const NFTA_SET_ELEM_USERDATA: u16 = 6;
/// `NFTA_SET_ELEM_KEY_END`: a concatenated interval's end key (nested data).
pub(crate) const NFTA_SET_ELEM_KEY_END: u16 = 10;
/// `NFT_SET_ELEM_INTERVAL_END`: the element ends the interval before it.
pub(crate) const NFT_SET_ELEM_INTERVAL_END: u32 = 0x1;
/// `NFTA_DATA_VALUE`: raw bytes.
pub(crate) const NFTA_DATA_VALUE: u16 = 1;
/// `NFTA_DATA_VERDICT`: a verdict (nested).
pub(crate) const NFTA_DATA_VERDICT: u16 = 2;
/// `NFTA_VERDICT_CODE`: the verdict, big-endian.
pub(crate) const NFTA_VERDICT_CODE: u16 = 1;
/// `NFTA_VERDICT_CHAIN`: the chain of a jump or goto.
pub(crate) const NFTA_VERDICT_CHAIN: u16 = 2;

/// Length of `nlmsghdr`.
pub(crate) const NLMSG_HDRLEN: usize = 16;
/// Length of `nfgenmsg`.
const NFGENMSG_LEN: usize = 4;

/// `len` rounded up to the netlink alignment (4).
pub(crate) const fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn too_long(what: &str, len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} of {len} bytes is too long for netlink"),
    )
}

/// A buffer of netlink messages being written.
#[derive(Debug, Default)]
pub(crate) struct MsgBuf {
    buf: Vec<u8>,
}

impl MsgBuf {
    /// The bytes written so far.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Current length (the offset the next byte is written at).
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Removes everything from offset `at` on.
    pub(crate) fn truncate(&mut self, at: usize) {
        self.buf.truncate(at);
    }

    /// Starts a message: `nlmsghdr` (length filled in by [`MsgBuf::end_msg`]) and
    /// `nfgenmsg`. Returns the message's offset.
    pub(crate) fn begin_msg(
        &mut self,
        ty: u16,
        flags: u16,
        seq: u32,
        family: u8,
        res_id: u16,
    ) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        // nfgenmsg: family, version (NFNETLINK_V0), res_id (big-endian).
        self.buf.push(family);
        self.buf.push(0);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        debug_assert_eq!(self.buf.len() - start, NLMSG_HDRLEN + NFGENMSG_LEN);
        start
    }

    /// Finishes the message begun at `start`: writes its length.
    pub(crate) fn end_msg(&mut self, start: usize) -> io::Result<()> {
        let len = self.buf.len() - start;
        let len32 = u32::try_from(len).map_err(|_| too_long("message", len))?;
        self.buf[start..start + 4].copy_from_slice(&len32.to_ne_bytes());
        Ok(())
    }

    /// Writes attribute `ty` with payload `data`, padded to 4 bytes.
    pub(crate) fn attr(&mut self, ty: u16, data: &[u8]) -> io::Result<()> {
        let len = 4 + data.len();
        let len16 = u16::try_from(len).map_err(|_| too_long("attribute", len))?;
        self.buf.extend_from_slice(&len16.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(self.buf.len() + align(len) - len, 0);
        Ok(())
    }

    /// Writes a NUL-terminated string attribute.
    pub(crate) fn attr_strz(&mut self, ty: u16, s: &str) -> io::Result<()> {
        let mut data = Vec::with_capacity(s.len() + 1);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
        self.attr(ty, &data)
    }

    /// Starts nested attribute `ty`; returns its offset for [`MsgBuf::end_nest`].
    pub(crate) fn begin_nest(&mut self, ty: u16) -> usize {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        start
    }

    /// Finishes the nested attribute begun at `start`: writes its length.
    pub(crate) fn end_nest(&mut self, start: usize) -> io::Result<()> {
        let len = self.buf.len() - start;
        let len16 = u16::try_from(len).map_err(|_| too_long("nested attribute", len))?;
        self.buf[start..start + 2].copy_from_slice(&len16.to_ne_bytes());
        Ok(())
    }
}

/// One acknowledgement (`NLMSG_ERROR`) read back from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ack {
    /// The sequence number of the request it answers.
    pub(crate) seq: u32,
    /// 0, or a negative errno.
    pub(crate) error: i32,
    /// Extended ack: offset of the refused attribute in the request.
    pub(crate) offset: Option<u32>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The acknowledgements in one datagram from the kernel; other messages are
/// skipped. `Err` if a message header is malformed.
pub(crate) fn parse_acks(datagram: &[u8]) -> io::Result<Vec<Ack>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed netlink reply");
    let mut acks = Vec::new();
    let mut at = 0;
    while at + NLMSG_HDRLEN <= datagram.len() {
        let len = u32_at(datagram, at).ok_or_else(bad)? as usize;
        let ty = u16_at(datagram, at + 4).ok_or_else(bad)?;
        let flags = u16_at(datagram, at + 6).ok_or_else(bad)?;
        if len < NLMSG_HDRLEN || at + len > datagram.len() {
            return Err(bad());
        }
        let msg = &datagram[at..at + len];
        if ty == NLMSG_ERROR {
            // nlmsgerr: error (i32), then the request's nlmsghdr (and its payload
            // unless capped), then extended-ack attributes.
            let error = i32::from_ne_bytes(
                msg.get(16..20)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(bad)?,
            );
            let req_len = u32_at(msg, 20).ok_or_else(bad)? as usize;
            let seq = u32_at(msg, 28).ok_or_else(bad)?;
            let mut offset = None;
            if flags & NLM_F_ACK_TLVS != 0 {
                let mut tlv = 20
                    + if flags & NLM_F_CAPPED != 0 {
                        NLMSG_HDRLEN
                    } else {
                        align(req_len)
                    };
                while tlv + 4 <= msg.len() {
                    let alen = usize::from(u16_at(msg, tlv).ok_or_else(bad)?);
                    let aty = u16_at(msg, tlv + 2).ok_or_else(bad)?;
                    if alen < 4 {
                        break;
                    }
                    if aty == NLMSGERR_ATTR_OFFS && alen >= 8 {
                        offset = u32_at(msg, tlv + 4);
                    }
                    tlv += align(alen);
                }
            }
            acks.push(Ack { seq, error, offset });
        }
        at += align(len);
    }
    Ok(acks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_attributes_and_nests_are_aligned_and_measured() {
        let mut b = MsgBuf::default();
        let m = b.begin_msg(0x0a0c, NLM_F_REQUEST | NLM_F_ACK, 7, NFPROTO_INET, 0);
        b.attr_strz(1, "cove").expect("attr");
        let n = b.begin_nest(3);
        b.attr(1, &[1, 2, 3, 4, 5, 6]).expect("attr");
        b.end_nest(n).expect("nest");
        b.end_msg(m).expect("msg");
        let mut want = Vec::new();
        want.extend_from_slice(&48u32.to_ne_bytes());
        want.extend_from_slice(&0x0a0cu16.to_ne_bytes());
        want.extend_from_slice(&5u16.to_ne_bytes());
        want.extend_from_slice(&7u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[1, 0, 0, 0]);
        // "cove\0" in a 9-byte attribute, padded to 12.
        want.extend_from_slice(&9u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(b"cove\0\0\0\0");
        // Nest of 4 + 12 (10-byte attribute padded).
        want.extend_from_slice(&16u16.to_ne_bytes());
        want.extend_from_slice(&0x8003u16.to_ne_bytes());
        want.extend_from_slice(&10u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0, 0]);
        assert_eq!(b.bytes(), want.as_slice());
    }

    #[test]
    fn batch_begin_names_the_subsystem_big_endian() {
        let mut b = MsgBuf::default();
        let m = b.begin_msg(
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            1,
            NFPROTO_UNSPEC,
            NFNL_SUBSYS_NFTABLES,
        );
        b.end_msg(m).expect("msg");
        assert_eq!(b.bytes().len(), 20);
        assert_eq!(&b.bytes()[16..], &[0, 0, 0, 10]);
    }

    #[test]
    fn attributes_over_64k_are_refused() {
        let mut b = MsgBuf::default();
        assert!(b.attr(1, &vec![0; 70_000]).is_err());
    }

    fn ack(error: i32, seq: u32, capped: bool, offs: Option<u32>) -> Vec<u8> {
        let mut flags = if capped { NLM_F_CAPPED } else { 0 };
        let mut tail = Vec::new();
        if let Some(o) = offs {
            flags |= NLM_F_ACK_TLVS;
            tail.extend_from_slice(&8u16.to_ne_bytes());
            tail.extend_from_slice(&NLMSGERR_ATTR_OFFS.to_ne_bytes());
            tail.extend_from_slice(&o.to_ne_bytes());
        }
        let req_payload: &[u8] = if capped {
            &[]
        } else {
            &[9, 9, 9, 9, 9, 0, 0, 0]
        };
        let req_len = 16 + if capped { 0 } else { 5 };
        let len = 16 + 4 + 16 + req_payload.len() + tail.len();
        let mut m = Vec::new();
        m.extend_from_slice(&u32::try_from(len).expect("len").to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&error.to_ne_bytes());
        m.extend_from_slice(&u32::try_from(req_len).expect("len").to_ne_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&[0; 4]);
        m.extend_from_slice(req_payload);
        m.extend_from_slice(&tail);
        m
    }

    #[test]
    fn acks_with_and_without_extended_attributes() {
        let mut d = ack(0, 3, true, None);
        d.extend(ack(-17, 4, true, Some(44)));
        d.extend(ack(-2, 5, false, Some(60)));
        let acks = parse_acks(&d).expect("parse");
        assert_eq!(
            acks,
            vec![
                Ack {
                    seq: 3,
                    error: 0,
                    offset: None
                },
                Ack {
                    seq: 4,
                    error: -17,
                    offset: Some(44)
                },
                Ack {
                    seq: 5,
                    error: -2,
                    offset: Some(60)
                },
            ]
        );
        assert!(parse_acks(&d[..d.len() - 3]).is_err());
    }
}
