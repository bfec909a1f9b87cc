//! The fast path's eBPF program (pure): on a router link's TC ingress it answers
//! a DNS query over UDP whose exact bytes the resolver answered before on that
//! link, from a map the resolver fills, and sends the answer straight back into
//! the querying namespace (`bpf_redirect_peer`). Everything else goes on
//! untouched (`TCX_NEXT`): the router's firewall, routing and the resolver's
//! socket, as without the fast path.
//!
//! The map's key is the link (ifindex), the address asked (base + 2 or
//! 169.254.169.253), the catalog's generation and the query after its id; the
//! value is the answer after its id. A query matches only an answer the resolver
//! gave to the same bytes on the same link in the current generation, so the
//! fast path can answer nothing the resolver would not — another link (another
//! VPC, another tenant) never finds it, and a new catalog (a changed zone,
//! association, endpoint) makes every older entry unreachable at once.
//!
//! Layout (both little-endian, as the program reads them):
//!
//! * key ([`KEY_LEN`] bytes): ifindex u32, address asked u32 (network order),
//!   generation u32, query length u32, query bytes after the id (zero-padded);
//! * value ([`VALUE_LEN`] bytes): expiry u64 (`CLOCK_MONOTONIC` ns, 0: none),
//!   answer length u32, padding u32, answer bytes after the id.

use crate::fastpath::asm::{
    Alu, Asm, AsmError, Assembled, Cond, FP, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, Size,
};

/// Query bytes after the id a key holds (longer queries are not fast-pathed).
const QUERY_BYTES: i16 = 128;
/// Answer bytes after the id a value holds (longer answers are not fast-pathed).
const ANSWER_BYTES: i16 = 256;
/// The shortest query or answer after its id (the rest of a DNS header).
const MESSAGE_MIN: i16 = 10;
/// [`QUERY_BYTES`] as a length.
pub(crate) const MAX_QUERY: usize = QUERY_BYTES as usize;
/// [`ANSWER_BYTES`] as a length.
pub(crate) const MAX_ANSWER: usize = ANSWER_BYTES as usize;
/// [`MESSAGE_MIN`] as a length.
pub(crate) const MIN_MESSAGE: usize = MESSAGE_MIN as usize;
/// Bytes of a key.
pub(crate) const KEY_LEN: usize = 16 + MAX_QUERY;
/// Bytes of a value.
pub(crate) const VALUE_LEN: usize = 16 + MAX_ANSWER;
/// [`KEY_LEN`] for the map's definition.
pub(crate) const KEY_SIZE: u32 = 16 + QUERY_BYTES as u32;
/// [`VALUE_LEN`] for the map's definition.
pub(crate) const VALUE_SIZE: u32 = 16 + ANSWER_BYTES as u32;

/// The answers map (LRU hash: the least recently used entry makes room).
pub(crate) const ANSWERS: &str = "answers";
/// The one-entry array with the current generation (u32).
pub(crate) const GENERATION: &str = "generation";
/// Per-CPU counters: \[0\] authoritative answers, \[1\] cached forwarded answers.
pub(crate) const COUNTERS: &str = "counters";

// Helpers (include/uapi/linux/bpf.h).
const MAP_LOOKUP_ELEM: i32 = 1;
const KTIME_GET_NS: i32 = 5;
const SKB_STORE_BYTES: i32 = 9;
const SKB_LOAD_BYTES: i32 = 26;
const SKB_CHANGE_TAIL: i32 = 38;
const REDIRECT_PEER: i32 = 155;

// Return values (tcx).
const TCX_NEXT: i32 = -1;
const TCX_DROP: i32 = 2;

// `struct __sk_buff` fields.
const SKB_LEN: i16 = 0;
const SKB_PROTOCOL: i16 = 16;
const SKB_IFINDEX: i16 = 40;

/// Ethernet + IPv4 without options + UDP.
const HEADERS: i32 = 14 + 20 + 8;

// Stack: the headers (at an offset ≡ 2 mod 4, so the IP header's fields are
// aligned as the verifier wants them), the key, an array index.
const HDR: i16 = -194;
const KEY: i16 = -144;
const IDX: i16 = -200;

/// `HDR + field offset`.
const fn hdr(off: i16) -> i16 {
    HDR + off
}

/// `r0 = map_lookup_elem(&map, fp + key)`.
fn lookup(a: &mut Asm, map: &'static str, key: i16) {
    a.load_map(R1, map);
    a.mov(R2, FP);
    a.alu_imm(Alu::Add, R2, i32::from(key));
    a.call(MAP_LOOKUP_ELEM);
}

/// The program (`classifier` section, one function) for a resolver on `port`.
pub(crate) fn program(port: u16) -> Result<Assembled, AsmError> {
    let mut a = Asm::default();
    a.mov(R6, R1);
    // The whole packet is Ethernet + IPv4 + UDP + a query of a length a key holds.
    a.load(Size::W, R2, R6, SKB_LEN);
    a.jump_imm(Cond::Lt, R2, HEADERS + 2 + i32::from(MESSAGE_MIN), "next");
    a.jump_imm(Cond::Gt, R2, HEADERS + 2 + i32::from(QUERY_BYTES), "next");
    a.load(Size::W, R2, R6, SKB_PROTOCOL);
    a.jump_imm(Cond::Ne, R2, 0x0008, "next"); // htons(ETH_P_IP)
    a.mov(R1, R6);
    a.mov_imm(R2, 0);
    a.mov(R3, FP);
    a.alu_imm(Alu::Add, R3, i32::from(HDR));
    a.mov_imm(R4, HEADERS);
    a.call(SKB_LOAD_BYTES);
    a.jump_imm(Cond::Ne, R0, 0, "next");
    a.load(Size::H, R1, FP, hdr(12));
    a.jump_imm(Cond::Ne, R1, 0x0008, "next"); // ethertype IPv4
    a.load(Size::B, R1, FP, hdr(14));
    a.jump_imm(Cond::Ne, R1, 0x45, "next"); // version 4, no options
    a.load(Size::H, R1, FP, hdr(20));
    a.alu_imm(Alu::And, R1, 0xff3f); // more fragments, fragment offset
    a.jump_imm(Cond::Ne, R1, 0, "next");
    a.load(Size::B, R1, FP, hdr(23));
    a.jump_imm(Cond::Ne, R1, 17, "next"); // UDP
    a.load(Size::H, R1, FP, hdr(36));
    // To the resolver's port (read as a little-endian u16: its bytes swapped).
    a.jump_imm(Cond::Ne, R1, i32::from(port.swap_bytes()), "next");
    // The IP and UDP lengths say exactly the packet's.
    a.load(Size::H, R1, FP, hdr(16));
    a.be16(R1);
    a.load(Size::W, R2, R6, SKB_LEN);
    a.alu_imm(Alu::Sub, R2, 14);
    a.jump_reg(Cond::Ne, R1, R2, "next");
    a.load(Size::H, R3, FP, hdr(38));
    a.be16(R3);
    a.alu_imm(Alu::Sub, R1, 20);
    a.jump_reg(Cond::Ne, R3, R1, "next");
    // r8: the query's length after its id.
    a.alu_imm(Alu::Sub, R3, 8 + 2);
    a.jump_imm(Cond::Lt, R3, i32::from(MESSAGE_MIN), "next");
    a.jump_imm(Cond::Gt, R3, i32::from(QUERY_BYTES), "next");
    a.mov(R8, R3);
    // The key: zeroed, then link, address asked, length, generation, query.
    for i in 0..(16 + QUERY_BYTES) / 8 {
        a.store_imm(Size::DW, FP, KEY + 8 * i, 0);
    }
    a.load(Size::W, R1, R6, SKB_IFINDEX);
    a.store(Size::W, FP, KEY, R1);
    a.load(Size::W, R1, FP, hdr(30));
    a.store(Size::W, FP, KEY + 4, R1);
    a.store(Size::W, FP, KEY + 12, R8);
    a.store_imm(Size::W, FP, IDX, 0);
    lookup(&mut a, GENERATION, IDX);
    a.jump_imm(Cond::Eq, R0, 0, "next");
    a.load(Size::W, R1, R0, 0);
    a.store(Size::W, FP, KEY + 8, R1);
    a.mov(R1, R6);
    a.mov_imm(R2, HEADERS + 2);
    a.mov(R3, FP);
    a.alu_imm(Alu::Add, R3, i32::from(KEY + 16));
    a.mov(R4, R8);
    a.call(SKB_LOAD_BYTES);
    a.jump_imm(Cond::Ne, R0, 0, "next");
    lookup(&mut a, ANSWERS, KEY);
    a.jump_imm(Cond::Eq, R0, 0, "next");
    a.mov(R7, R0);
    // A forwarded answer is replayed only until its expiry; r9: the counter.
    a.mov_imm(R9, 0);
    a.load(Size::DW, R8, R7, 0);
    a.jump_imm(Cond::Eq, R8, 0, "fresh");
    a.mov_imm(R9, 1);
    a.call(KTIME_GET_NS);
    a.jump_reg(Cond::Ge, R0, R8, "next");
    a.label("fresh");
    // r8: the answer's length after its id.
    a.load(Size::W, R8, R7, 8);
    a.jump_imm(Cond::Lt, R8, i32::from(MESSAGE_MIN), "next");
    a.jump_imm(Cond::Gt, R8, i32::from(ANSWER_BYTES), "next");
    // The answer's headers: addresses and ports swapped, lengths, TTL, checksum.
    for j in 0..3 {
        a.load(Size::H, R1, FP, hdr(2 * j));
        a.load(Size::H, R2, FP, hdr(6 + 2 * j));
        a.store(Size::H, FP, hdr(2 * j), R2);
        a.store(Size::H, FP, hdr(6 + 2 * j), R1);
    }
    a.load(Size::W, R1, FP, hdr(26));
    a.load(Size::W, R2, FP, hdr(30));
    a.store(Size::W, FP, hdr(26), R2);
    a.store(Size::W, FP, hdr(30), R1);
    a.mov(R1, R8);
    a.alu_imm(Alu::Add, R1, 20 + 8 + 2);
    a.be16(R1);
    a.store(Size::H, FP, hdr(16), R1);
    a.store_imm(Size::B, FP, hdr(22), 64);
    a.store_imm(Size::H, FP, hdr(24), 0);
    a.mov_imm(R1, 0);
    for w in 0..10 {
        a.load(Size::H, R2, FP, hdr(14 + 2 * w));
        a.alu_reg(Alu::Add, R1, R2);
    }
    for _ in 0..2 {
        a.mov(R2, R1);
        a.alu_imm(Alu::Rsh, R2, 16);
        a.alu_imm(Alu::And, R1, 0xffff);
        a.alu_reg(Alu::Add, R1, R2);
    }
    a.alu_imm(Alu::Xor, R1, 0xffff);
    a.store(Size::H, FP, hdr(24), R1);
    a.load(Size::H, R1, FP, hdr(34));
    a.load(Size::H, R2, FP, hdr(36));
    a.store(Size::H, FP, hdr(34), R2);
    a.store(Size::H, FP, hdr(36), R1);
    a.mov(R1, R8);
    a.alu_imm(Alu::Add, R1, 8 + 2);
    a.be16(R1);
    a.store(Size::H, FP, hdr(38), R1);
    // No UDP checksum (allowed over IPv4; the packet never leaves the host).
    a.store_imm(Size::H, FP, hdr(40), 0);
    // The packet becomes the answer: its length, the headers, the id kept, the
    // answer's bytes after it.
    a.mov(R1, R6);
    a.mov(R2, R8);
    a.alu_imm(Alu::Add, R2, HEADERS + 2);
    a.mov_imm(R3, 0);
    a.call(SKB_CHANGE_TAIL);
    a.jump_imm(Cond::Ne, R0, 0, "next");
    a.mov(R1, R6);
    a.mov_imm(R2, 0);
    a.mov(R3, FP);
    a.alu_imm(Alu::Add, R3, i32::from(HDR));
    a.mov_imm(R4, HEADERS);
    a.mov_imm(R5, 0);
    a.call(SKB_STORE_BYTES);
    a.jump_imm(Cond::Ne, R0, 0, "drop");
    a.mov(R1, R6);
    a.mov_imm(R2, HEADERS + 2);
    a.mov(R3, R7);
    a.alu_imm(Alu::Add, R3, 16);
    a.mov(R4, R8);
    a.mov_imm(R5, 0);
    a.call(SKB_STORE_BYTES);
    a.jump_imm(Cond::Ne, R0, 0, "drop");
    // Counted once it is an answer (r9: which counter).
    a.store(Size::W, FP, IDX, R9);
    lookup(&mut a, COUNTERS, IDX);
    a.jump_imm(Cond::Eq, R0, 0, "counted");
    a.load(Size::DW, R1, R0, 0);
    a.alu_imm(Alu::Add, R1, 1);
    a.store(Size::DW, R0, 0, R1);
    a.label("counted");
    // Into the querying namespace, at its link's ingress (router links are
    // veths whose peer is in the ENI's or environment's namespace).
    a.load(Size::W, R1, R6, SKB_IFINDEX);
    a.mov_imm(R2, 0);
    a.call(REDIRECT_PEER);
    a.exit();
    a.label("next");
    a.mov_imm(R0, TCX_NEXT);
    a.exit();
    // Half-rewritten (the kernel refused a store): not sent anywhere.
    a.label("drop");
    a.mov_imm(R0, TCX_DROP);
    a.exit();
    a.finish()
}

/// The key for a query (`query` whole, id included) that arrived on link
/// `ifindex` for address `asked` under `generation`; `None` if the fast path
/// cannot hold it.
pub(crate) fn key(
    ifindex: u32,
    asked: std::net::Ipv4Addr,
    generation: u32,
    query: &[u8],
) -> Option<[u8; KEY_LEN]> {
    let rest = query.get(2..)?;
    if !(MIN_MESSAGE..=MAX_QUERY).contains(&rest.len()) || ifindex == 0 {
        return None;
    }
    let mut k = [0u8; KEY_LEN];
    k[..4].copy_from_slice(&ifindex.to_le_bytes());
    k[4..8].copy_from_slice(&asked.octets());
    k[8..12].copy_from_slice(&generation.to_le_bytes());
    k[12..16].copy_from_slice(&u32::try_from(rest.len()).ok()?.to_le_bytes());
    k[16..16 + rest.len()].copy_from_slice(rest);
    Some(k)
}

/// The value for `answer` (whole, id included), replayed until `expires_ns`
/// (`CLOCK_MONOTONIC`; 0: no expiry); `None` if the fast path cannot hold it.
pub(crate) fn value(answer: &[u8], expires_ns: u64) -> Option<[u8; VALUE_LEN]> {
    let rest = answer.get(2..)?;
    if !(MIN_MESSAGE..=MAX_ANSWER).contains(&rest.len()) {
        return None;
    }
    let mut v = [0u8; VALUE_LEN];
    v[..8].copy_from_slice(&expires_ns.to_le_bytes());
    v[8..12].copy_from_slice(&u32::try_from(rest.len()).ok()?.to_le_bytes());
    v[16..16 + rest.len()].copy_from_slice(rest);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_program_assembles_with_its_three_maps() {
        let p = program(53).expect("assembles");
        assert_eq!(p.code.len() % 8, 0);
        let mut maps: Vec<_> = p.map_refs.iter().map(|(_, m)| *m).collect();
        maps.sort_unstable();
        assert_eq!(maps, vec![ANSWERS, COUNTERS, GENERATION]);
        // Every reference is the first slot of a 16-byte load.
        for (at, _) in &p.map_refs {
            assert_eq!(p.code[*at], 0x18);
        }
    }

    #[test]
    fn keys_and_values_hold_what_the_program_reads() {
        let q = [
            0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w',
        ];
        let k = key(7, Ipv4Addr::new(10, 0, 0, 2), 9, &q).expect("fits");
        assert_eq!(&k[..4], &7u32.to_le_bytes());
        assert_eq!(&k[4..8], &[10, 0, 0, 2]);
        assert_eq!(&k[8..12], &9u32.to_le_bytes());
        assert_eq!(&k[12..16], &14u32.to_le_bytes());
        assert_eq!(&k[16..30], &q[2..]);
        assert!(k[30..].iter().all(|b| *b == 0));
        // The id is not part of it; the link, the address and the generation are.
        let mut q2 = q;
        q2[..2].copy_from_slice(&[1, 2]);
        assert_eq!(key(7, Ipv4Addr::new(10, 0, 0, 2), 9, &q2), Some(k));
        assert_ne!(key(8, Ipv4Addr::new(10, 0, 0, 2), 9, &q), Some(k));
        assert_ne!(key(7, Ipv4Addr::new(10, 0, 0, 3), 9, &q), Some(k));
        assert_ne!(key(7, Ipv4Addr::new(10, 0, 0, 2), 10, &q), Some(k));
        // Too short, too long, no link.
        assert!(key(7, Ipv4Addr::LOCALHOST, 1, &q[..11]).is_none());
        assert!(key(7, Ipv4Addr::LOCALHOST, 1, &[0; 2 + MAX_QUERY + 1]).is_none());
        assert!(key(7, Ipv4Addr::LOCALHOST, 1, &[0; 2 + MAX_QUERY]).is_some());
        assert!(key(0, Ipv4Addr::LOCALHOST, 1, &q).is_none());

        let v = value(&q, 5).expect("fits");
        assert_eq!(&v[..8], &5u64.to_le_bytes());
        assert_eq!(&v[8..12], &14u32.to_le_bytes());
        assert_eq!(&v[16..30], &q[2..]);
        assert!(value(&[0; 2 + MAX_ANSWER + 1], 0).is_none());
        assert!(value(&q[..5], 0).is_none());
    }
}
