//! Kernel names: derived from the deployment prefix and a stable hash of each
//! resource's qualified path — never from user-written text, so no name a user
//! chooses ever reaches a command line or a ruleset.

use cove_model::{EniId, FunctionId, Network, VpcId};
use sha2::{Digest, Sha256};

/// Eight hex digits of SHA-256 of `kind:path`.
pub fn short_hash(kind: &str, path: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{path}").as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Names of everything cove creates for one network under one prefix.
#[derive(Debug, Clone)]
pub struct Names<'n> {
    net: &'n Network,
    prefix: String,
}

impl<'n> Names<'n> {
    /// Names under `prefix` (validated by the caller: 1–12 chars `[a-z0-9]`).
    pub fn new(net: &'n Network, prefix: &str) -> Self {
        Names {
            net,
            prefix: prefix.to_owned(),
        }
    }

    /// The deployment prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn eni_path(&self, e: EniId) -> String {
        let eni = &self.net.enis[e.index()];
        format!("{}/{}", self.net.vpc_path(eni.vpc), eni.name)
    }

    fn eni_hash(&self, e: EniId) -> String {
        short_hash("eni", &self.eni_path(e))
    }

    fn vpc_hash(&self, v: VpcId) -> String {
        short_hash("vpc", &self.net.vpc_path(v))
    }

    /// The host router's namespace (every VPC's implicit router): `<prefix>-router`.
    pub fn router_ns(&self) -> String {
        router_ns(&self.prefix)
    }

    /// The namespace of an ENI: `<prefix>-e-<hash>` (`-n-` for a NAT gateway's ENI).
    /// A shared function ENI has none (its environments have theirs,
    /// [`Names::env_ns`]); its name here, `-h-`, is never created.
    pub fn eni_ns(&self, e: EniId) -> String {
        let kind = match self.net.enis[e.index()].owner {
            cove_model::EniOwner::NatGateway(_) => "n",
            cove_model::EniOwner::Shared => "h",
            _ => "e",
        };
        format!("{}-{kind}-{}", self.prefix, self.eni_hash(e))
    }

    fn env_hash(&self, f: FunctionId, k: u32) -> String {
        let function = &self.net.functions[f.index()];
        short_hash(
            "env",
            &format!("{}/{}/{k}", self.net.vpc_path(function.vpc), function.name),
        )
    }

    /// The namespace of execution environment `k` of function `f`:
    /// `<prefix>-v-<hash>` (an environment runs in it; its link ends in the router).
    pub fn env_ns(&self, f: FunctionId, k: u32) -> String {
        format!("{}{}", env_ns_prefix(&self.prefix), self.env_hash(f, k))
    }

    /// The router-side interface of environment `k` of function `f`: `v<hash>`.
    pub fn env_router_link(&self, f: FunctionId, k: u32) -> String {
        format!("v{}", self.env_hash(f, k))
    }

    /// The namespace that stands in for the internet and the customer's networks.
    pub fn outside_ns(&self) -> String {
        format!("{}-outside", self.prefix)
    }

    /// The namespace that stands in for the services behind a VPC's gateway
    /// endpoints (S3, DynamoDB): `<prefix>-s-<hash>`.
    pub fn services_ns(&self, v: VpcId) -> String {
        format!("{}-s-{}", self.prefix, self.vpc_hash(v))
    }

    /// Router-side interface of a VPC's gateway-endpoint link: `w<hash>`.
    pub fn endpoint_router_link(&self, v: VpcId) -> String {
        format!("w{}", self.vpc_hash(v))
    }

    /// Services-side interface of a VPC's gateway-endpoint link: `s<hash>`.
    pub fn endpoint_services_link(&self, v: VpcId) -> String {
        format!("s{}", self.vpc_hash(v))
    }

    /// The router-side interface of an ENI's link: `e<hash>`.
    pub fn eni_router_link(&self, e: EniId) -> String {
        format!("e{}", self.eni_hash(e))
    }

    /// The ENI-side interface name.
    pub fn eni_link(&self) -> &'static str {
        "eth0"
    }

    /// Router-side interface of a VPC's internet gateway link: `i<hash>`.
    pub fn igw_router_link(&self, v: VpcId) -> String {
        format!("i{}", self.vpc_hash(v))
    }

    /// Outside-side interface of a VPC's internet gateway link: `g<hash>`.
    pub fn igw_outside_link(&self, v: VpcId) -> String {
        format!("g{}", self.vpc_hash(v))
    }

    /// The nftables table cove owns in each namespace (family `inet`).
    pub fn nft_table(&self) -> &'static str {
        "cove"
    }
}

/// What every environment namespace of deployment `prefix` starts with:
/// `<prefix>-v-` (see [`Names::env_ns`]).
pub fn env_ns_prefix(prefix: &str) -> String {
    format!("{prefix}-v-")
}

/// Whether a deployment prefix is usable: 1–12 characters `[a-z0-9]`.
pub fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 12
        && prefix
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// The host router's namespace of prefix `prefix`: `<prefix>-router`.
pub fn router_ns(prefix: &str) -> String {
    format!("{prefix}-router")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_short() {
        assert_eq!(short_hash("vpc", "a/b"), short_hash("vpc", "a/b"));
        assert_ne!(short_hash("vpc", "a/b"), short_hash("eni", "a/b"));
        assert_eq!(short_hash("vpc", "a/b").len(), 8);
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("cove"));
        assert!(valid_prefix("t123"));
        assert!(!valid_prefix(""));
        assert!(!valid_prefix("Cove"));
        assert!(!valid_prefix("a-b"));
        assert!(!valid_prefix("abcdefghijklm"));
    }
}
