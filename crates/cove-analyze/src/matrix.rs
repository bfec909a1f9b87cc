//! All-pairs reachability.

use cove_model::{EniId, Protocol};
use serde::Serialize;

use crate::analyzer::Analyzer;
use crate::flow::{Endpoint, Flow};

/// Reachability between every ordered pair of a set of ENIs, for each probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    /// The probes, as `tcp/5432`, `icmp`, `50`.
    pub probes: Vec<String>,
    /// `reachable[probe][from][to]`.
    pub reachable: Vec<Vec<Vec<bool>>>,
}

impl Matrix {
    /// Whether ENI number `from` reaches ENI number `to` with probe `probe`.
    pub fn get(&self, from: usize, to: usize, probe: usize) -> bool {
        self.reachable[probe][from][to]
    }

    /// How many (from, to, probe) triples are reachable.
    pub fn count_reachable(&self) -> usize {
        self.reachable
            .iter()
            .flatten()
            .flatten()
            .filter(|b| **b)
            .count()
    }
}

/// Evaluates every ordered pair of `enis` for every `(protocol, port)` probe (ICMP
/// probes are echo requests). An ENI reaches itself.
pub fn matrix(an: &Analyzer<'_>, enis: &[EniId], probes: &[(u8, u16)]) -> Matrix {
    let mut reachable = Vec::with_capacity(probes.len());
    let mut names = Vec::with_capacity(probes.len());
    for &(protocol, port) in probes {
        let p = Protocol::from_number(protocol);
        names.push(if p.has_ports() {
            format!("{p}/{port}")
        } else {
            p.to_string()
        });
        let rows = enis
            .iter()
            .map(|s| {
                enis.iter()
                    .map(|d| {
                        an.reachable(&Flow {
                            src: Endpoint::Eni(*s),
                            dst: Endpoint::Eni(*d),
                            protocol,
                            port,
                            src_port: None,
                            icmp: (8, 0),
                        })
                    })
                    .collect()
            })
            .collect();
        reachable.push(rows);
    }
    Matrix {
        probes: names,
        reachable,
    }
}
