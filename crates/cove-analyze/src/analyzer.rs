//! The analyzer: indexes built once per network, then cheap queries.

use std::net::Ipv4Addr;

use cove_model::Network;
use cove_model::lookup::LookupError;

use crate::flow::{Endpoint, Flow};
use crate::lookup::{Indexed, Lookup, Naive};
use crate::verdict::{NoTrace, Recorder, Verdict};
use crate::walk::evaluate;

/// Answers reachability questions about one network.
#[derive(Debug, Clone)]
pub struct Analyzer<'n> {
    index: Indexed<'n>,
    internet: Ipv4Addr,
}

impl<'n> Analyzer<'n> {
    /// Builds the indexes for `net` (linear in the size of the network).
    pub fn new(net: &'n Network) -> Self {
        Analyzer {
            index: Indexed::new(net),
            internet: net.internet_stand_in(),
        }
    }

    /// The network.
    pub fn network(&self) -> &'n Network {
        self.index.net()
    }

    /// The address that stands for "a host on the internet": public, outside every VPC,
    /// prefix list and static public IP of the network.
    pub fn internet_address(&self) -> Ipv4Addr {
        self.internet
    }

    /// Resolves what a user typed: `internet`, an ENI name (`tenant/vpc/eni`,
    /// `vpc/eni`, `eni`), an ENI or instance id, or an address (an ENI's private IP
    /// resolves to the ENI, any other address stands for itself).
    pub fn resolve(&self, text: &str) -> Result<Endpoint, LookupError> {
        resolve(self.network(), self.internet, text)
    }

    /// Resolves the source of a flow: like [`Analyzer::resolve`], and an ENI's
    /// public IP stands for that ENI (only it sends from that address).
    pub fn resolve_source(&self, text: &str) -> Result<Endpoint, LookupError> {
        resolve_source(self.network(), self.internet, text)
    }

    /// Resolves the destination of a flow from `src`: like [`Analyzer::resolve`],
    /// except that from outside every VPC (the internet) an address stands for
    /// itself: a private address typed as such is not routable there, even when it is
    /// an ENI's (only its public IP is translated to it). An ENI named (or given by
    /// id) is reached from the internet at its public IP.
    pub fn resolve_destination(&self, src: Endpoint, text: &str) -> Result<Endpoint, LookupError> {
        resolve_destination(self.network(), self.internet, src, text)
    }

    /// The verdict with every hop explained.
    pub fn check(&self, flow: &Flow) -> Verdict {
        let mut rec = Recorder::default();
        let ok = evaluate(&self.index, &mut rec, flow);
        rec.finish(ok)
    }

    /// Only whether the flow is reachable (no explanations, no allocation for the
    /// common single-port case).
    pub fn reachable(&self, flow: &Flow) -> bool {
        evaluate(&self.index, &mut NoTrace, flow)
    }
}

/// The same evaluation with no indexes — the network as flat rule tables, every route,
/// address, security-group and ACL lookup a linear scan: the reference the
/// [`Analyzer`] is tested against, and the benchmark's baseline.
#[derive(Debug, Clone)]
pub struct NaiveAnalyzer<'n> {
    lookup: Naive<'n>,
    internet: Ipv4Addr,
}

impl<'n> NaiveAnalyzer<'n> {
    /// Flattens `net` into rule tables (no indexes).
    pub fn new(net: &'n Network) -> Self {
        NaiveAnalyzer {
            lookup: Naive::new(net),
            internet: net.internet_stand_in(),
        }
    }

    /// Like [`Analyzer::resolve`].
    pub fn resolve(&self, text: &str) -> Result<Endpoint, LookupError> {
        resolve(self.lookup.network(), self.internet, text)
    }

    /// Like [`Analyzer::resolve_source`].
    pub fn resolve_source(&self, text: &str) -> Result<Endpoint, LookupError> {
        resolve_source(self.lookup.network(), self.internet, text)
    }

    /// Like [`Analyzer::resolve_destination`].
    pub fn resolve_destination(&self, src: Endpoint, text: &str) -> Result<Endpoint, LookupError> {
        resolve_destination(self.lookup.network(), self.internet, src, text)
    }

    /// Like [`Analyzer::check`].
    pub fn check(&self, flow: &Flow) -> Verdict {
        let mut rec = Recorder::default();
        let ok = evaluate(&self.lookup, &mut rec, flow);
        rec.finish(ok)
    }

    /// Like [`Analyzer::reachable`].
    pub fn reachable(&self, flow: &Flow) -> bool {
        evaluate(&self.lookup, &mut NoTrace, flow)
    }
}

fn resolve(net: &Network, internet: Ipv4Addr, text: &str) -> Result<Endpoint, LookupError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("internet") {
        return Ok(Endpoint::External(internet));
    }
    if let Ok(ip) = t.parse::<Ipv4Addr>() {
        let found: Vec<usize> = (0..net.enis.len())
            .filter(|i| net.enis[*i].private_ip == ip)
            .collect();
        return match found.as_slice() {
            [] => Ok(Endpoint::External(ip)),
            [one] => Ok(Endpoint::Eni(cove_model::EniId(
                cove_model::lookup::index_u32(*one),
            ))),
            many => Err(LookupError::Ambiguous {
                query: t.to_owned(),
                candidates: many
                    .iter()
                    .map(|i| net.eni_label(cove_model::EniId(cove_model::lookup::index_u32(*i))))
                    .collect(),
            }),
        };
    }
    net.find_eni(t).map(Endpoint::Eni)
}

fn resolve_source(net: &Network, internet: Ipv4Addr, text: &str) -> Result<Endpoint, LookupError> {
    if let Ok(ip) = text.trim().parse::<Ipv4Addr>() {
        let owner = (0..net.enis.len()).find(|i| net.enis[*i].public_ip == Some(ip));
        if let Some(i) = owner {
            return Ok(Endpoint::Eni(cove_model::EniId(
                cove_model::lookup::index_u32(i),
            )));
        }
    }
    resolve(net, internet, text)
}

fn resolve_destination(
    net: &Network,
    internet: Ipv4Addr,
    src: Endpoint,
    text: &str,
) -> Result<Endpoint, LookupError> {
    if matches!(src, Endpoint::External(_)) {
        if let Ok(ip) = text.trim().parse::<Ipv4Addr>() {
            return Ok(Endpoint::External(ip));
        }
    }
    resolve(net, internet, text)
}
