//! Rejected packets for flow logs (issue 14): where the host router's forward
//! pipeline refuses a packet because of a network ACL or the security groups, it
//! does not just `drop` it. It puts a code naming the refusing component in the
//! packet's mark and goes to the chain `rejected`, which hands the packet's
//! headers to NFLOG group [`NFLOG_GROUP`] (at most [`LOG_RATE`] packets a second)
//! and then drops it. The flow-log collector reads the mark back and
//! [`RejectCodes::decode`]s it; the codes are a pure function of the network, so
//! the collector computes them from the same network the ruleset was made from.
//!
//! The codes:
//! * `0x4000_0000 + n`: the `n`-th entry of [`RejectCodes`]' network-ACL list —
//!   a denying entry, or an ACL direction's final `*` entry;
//! * `0x2000_0000 | c` / `0x2800_0000 | c`: no outbound / inbound rule of security
//!   group combination `c` (the number the router's `link_sgc` map gives the
//!   link, below 2²⁴) allowed the packet.
//!
//! A mark never carries user text: only these numbers.

use std::collections::{BTreeMap, BTreeSet};

use cove_model::{NaclAction, NaclId, Network};

/// The NFLOG group the router's rejected packets go to (one router per
/// namespace, so one group number serves every deployment).
pub const NFLOG_GROUP: u16 = 7;

/// Rejected packets logged per second at most (beyond, they are dropped
/// unlogged).
pub const LOG_RATE: u32 = 10_000;

/// Bytes of each rejected packet handed to NFLOG: the IP header and the
/// transport header's ports and flags.
pub const SNAPLEN: u32 = 80;

const NACL_BASE: u32 = 0x4000_0000;
const SG_OUT: u32 = 0x2000_0000;
const SG_IN: u32 = 0x2800_0000;
const SG_MASK: u32 = 0x00ff_ffff;

/// What refused a packet, as the router's mark names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A network ACL: a denying entry (its rule number) or, with `None`, the
    /// final `*` entry (nothing allowed it).
    NetworkAcl {
        /// The ACL.
        acl: NaclId,
        /// Outbound entries (the sender's subnet) or inbound (the receiver's).
        egress: bool,
        /// The denying entry's rule number; `None`: the final `*` entry.
        rule: Option<u16>,
    },
    /// No rule of the security groups allowed it.
    SecurityGroups {
        /// Outbound rules (the sender's groups) or inbound (the receiver's).
        egress: bool,
    },
}

impl Rejection {
    /// Whether the packet was refused leaving its sender (recorded at the
    /// sending interface) rather than arriving (at the receiving one).
    pub fn egress(&self) -> bool {
        match self {
            Rejection::NetworkAcl { egress, .. } | Rejection::SecurityGroups { egress } => *egress,
        }
    }
}

/// The codes of one network's ruleset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RejectCodes {
    nacl: Vec<(NaclId, bool, Option<u16>)>,
    index: BTreeMap<(NaclId, bool, Option<u16>), u32>,
}

impl RejectCodes {
    /// The codes for `net`'s router: every denying entry and the final entry of
    /// each direction of each ACL that a subnet uses.
    pub fn new(net: &Network) -> RejectCodes {
        let used: BTreeSet<usize> = net.subnets.iter().map(|s| s.network_acl.index()).collect();
        let mut codes = RejectCodes::default();
        for a in used {
            let acl = &net.network_acls[a];
            let id = NaclId(cove_model::lookup::index_u32(a));
            for (egress, entries) in [(true, &acl.egress), (false, &acl.ingress)] {
                let denying = entries
                    .iter()
                    .filter(|e| e.action == NaclAction::Deny)
                    .map(|e| Some(e.rule));
                for rule in denying.chain([None]) {
                    let key = (id, egress, rule);
                    let n = cove_model::lookup::index_u32(codes.nacl.len());
                    codes.nacl.push(key);
                    codes.index.insert(key, n);
                }
            }
        }
        codes
    }

    /// The mark of a packet refused by `acl`'s entry `rule` (`None`: the final
    /// entry) in one direction.
    pub(crate) fn nacl_mark(&self, acl: NaclId, egress: bool, rule: Option<u16>) -> u32 {
        NACL_BASE + self.index.get(&(acl, egress, rule)).copied().unwrap_or(0)
    }

    /// What a rejected packet's mark names; `None` for a mark that is no code
    /// of this network (a ruleset of another generation).
    pub fn decode(&self, mark: u32) -> Option<Rejection> {
        if mark & !SG_MASK == SG_OUT || mark & !SG_MASK == SG_IN {
            return Some(Rejection::SecurityGroups {
                egress: mark & !SG_MASK == SG_OUT,
            });
        }
        let n = mark.checked_sub(NACL_BASE)?;
        let (acl, egress, rule) = *self.nacl.get(usize::try_from(n).ok()?)?;
        Some(Rejection::NetworkAcl { acl, egress, rule })
    }
}

/// The mark of a packet that no rule of combination `combo`'s groups allowed.
pub(crate) fn sg_mark(combo: usize, egress: bool) -> u32 {
    let c = u32::try_from(combo).unwrap_or(SG_MASK) & SG_MASK;
    if egress { SG_OUT | c } else { SG_IN | c }
}

/// `meta mark set meta mark | …` for the security-group step, whose mark holds
/// the combination's number when nothing allowed the packet.
pub(crate) fn sg_mark_bits(egress: bool) -> u32 {
    if egress { SG_OUT } else { SG_IN }
}

/// The chain every refusal goes to: log (rate-limited), then drop.
pub(crate) fn rejected_chain() -> String {
    format!(
        "\tchain rejected {{\n\t\tlimit rate {LOG_RATE}/second burst 1000 packets log group {NFLOG_GROUP} snaplen {SNAPLEN}\n\t\tdrop\n\t}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        let net = cove_testgen::example_network();
        let codes = RejectCodes::new(&net);
        assert!(!codes.nacl.is_empty());
        for (i, (acl, egress, rule)) in codes.nacl.iter().enumerate() {
            let mark = codes.nacl_mark(*acl, *egress, *rule);
            assert_eq!(mark, NACL_BASE + u32::try_from(i).expect("small"));
            assert_eq!(
                codes.decode(mark),
                Some(Rejection::NetworkAcl {
                    acl: *acl,
                    egress: *egress,
                    rule: *rule
                })
            );
        }
        assert_eq!(
            codes.decode(sg_mark(3, true)),
            Some(Rejection::SecurityGroups { egress: true })
        );
        assert_eq!(
            codes.decode(sg_mark(3, false)),
            Some(Rejection::SecurityGroups { egress: false })
        );
        // The combination's number with the direction's bits, as the ruleset ors it.
        assert_eq!(sg_mark(5, false), sg_mark_bits(false) | 5);
        assert_eq!(codes.decode(0), None);
        assert_eq!(codes.decode(crate::nft::PASSED_MARK), None);
        assert_eq!(
            codes.decode(NACL_BASE + u32::try_from(codes.nacl.len()).expect("small")),
            None
        );
    }
}
