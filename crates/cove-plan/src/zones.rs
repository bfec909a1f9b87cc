//! Conntrack zones of the host router.
//!
//! All VPCs share one router namespace, and VPCs that are not peered may use the
//! same addresses, so the router's connection tracking keeps each address space
//! apart: a packet's zone is its VPC's (from the link it arrived on), or, when its
//! route table sends it over an active peering to a peer ENI, the peering's — the
//! same zone for both directions, since the peer's route back is a peering route
//! too. Peered VPCs never overlap (AWS refuses such a peering; cove marks it
//! failed), so one zone per peering is unambiguous.
//!
//! Zone numbers come from a hash of the VPC's path or the peering's name (never
//! 0, the default zone), so adding a VPC or a peering does not renumber the others
//! unless two hashes collide: then VPCs come before peerings, and within each kind
//! the later one in name order takes the next free number. (A new VPC that sorts
//! before an existing one with the same hash renumbers that one, which drops its
//! connection state; about one chance in 65,535 per VPC present.)

use std::collections::{BTreeMap, BTreeSet};

use cove_model::lookup::index_u32;
use cove_model::{Network, PeeringId, PeeringStatus, VpcId};
use sha2::{Digest, Sha256};

/// Zone numbers of one network's VPCs and active peerings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Zones {
    vpcs: Vec<u16>,
    peerings: BTreeMap<PeeringId, u16>,
}

fn hashed(key: &str) -> u16 {
    let d = Sha256::digest(format!("zone:{key}").as_bytes());
    let n = u16::from_be_bytes([d[0], d[1]]);
    // 1..=65535
    n % u16::MAX + 1
}

impl Zones {
    /// The zones of `net`'s VPCs and active peerings.
    pub fn new(net: &Network) -> Self {
        // VPCs first: a new peering whose hash collides takes the next number
        // rather than renumbering a VPC (whose flows would lose their state).
        let mut keys: Vec<(u8, String, Option<VpcId>, Option<PeeringId>)> = Vec::new();
        for v in 0..net.vpcs.len() {
            let id = VpcId(index_u32(v));
            keys.push((0, format!("vpc/{}", net.vpc_path(id)), Some(id), None));
        }
        for (i, p) in net.peerings.iter().enumerate() {
            if p.status == PeeringStatus::Active {
                let id = PeeringId(index_u32(i));
                keys.push((1, format!("pcx/{}", p.name), None, Some(id)));
            }
        }
        keys.sort();
        // More keys than zones: the planner refuses such a network first
        // (`PlanError::TooManyZones`); here the surplus gets the default zone.
        keys.truncate(usize::from(u16::MAX));
        let mut used = BTreeSet::new();
        let mut zones = Zones {
            vpcs: vec![0; net.vpcs.len()],
            peerings: BTreeMap::new(),
        };
        for (_, key, vpc, peering) in keys {
            let mut z = hashed(&key);
            while !used.insert(z) {
                z = z % u16::MAX + 1;
            }
            if let Some(v) = vpc {
                zones.vpcs[v.index()] = z;
            }
            if let Some(p) = peering {
                zones.peerings.insert(p, z);
            }
        }
        zones
    }

    /// The zone of a VPC's own traffic.
    pub fn vpc(&self, v: VpcId) -> u16 {
        self.vpcs.get(v.index()).copied().unwrap_or(0)
    }

    /// The zone of traffic over an active peering.
    pub fn peering(&self, p: PeeringId) -> u16 {
        self.peerings.get(&p).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_numbers_are_never_the_default_zone() {
        for key in ["a", "b", "vpc/t/a", "pcx/p"] {
            assert_ne!(hashed(key), 0);
        }
    }

    #[test]
    fn zones_are_distinct_and_stable() {
        let net = crate::example_network();
        let z = Zones::new(&net);
        let mut all: Vec<u16> = (0..net.vpcs.len())
            .map(|v| z.vpc(VpcId(index_u32(v))))
            .collect();
        all.extend(z.peerings.values());
        let n = all.len();
        assert!(n >= 3, "the example has VPCs and a peering");
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "zones must be distinct");
        assert!(all.iter().all(|z| *z != 0));
        assert_eq!(Zones::new(&net), z);
    }
}
