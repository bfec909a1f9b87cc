//! REJECT records against the analyzer, for the differential test (issue 14):
//! the router's refused packets are read from NFLOG while the probes run, made
//! into REJECT views exactly as the flow-log collector makes them
//! (`Directory::refused`, `refused_by`), and each one's rule must name the
//! component `cove check` blocks the probe's flow at. Conversely, every TCP and
//! UDP flow the analyzer blocks at a security group or network ACL must have
//! such a record — unless the flow would fail anyway with every rule open
//! (no route, no public IP, an environment as destination): then the kernel
//! drops it before any rule, and there is nothing to log.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use cove_analyze::labels::Labels;
use cove_analyze::{Analyzer, Flow, Step};
use cove_flowlog::Directory;
use cove_flowlog::reject::refused_by;
use cove_host::RejectReader;
use cove_model::{NaclAction, NaclEntry, Network, SgPeer, SgRule, TrafficMatch};
use cove_plan::reject::RejectCodes;
use cove_probe::Probe;

/// The lowest source port a probe uses (above every port responders listen on).
const PROBE_PORTS: u16 = 33001;

/// The steps a REJECT record can name.
const STEPS: [Step; 4] = [
    Step::SecurityGroupEgress,
    Step::NetworkAclEgress,
    Step::NetworkAclIngress,
    Step::SecurityGroupIngress,
];

/// The comparison across specs.
#[derive(Default)]
pub struct RejectCheck {
    reader: Option<RejectReader>,
    /// Refused TCP/UDP packets compared with the analyzer, by the step named.
    pub compared: BTreeMap<&'static str, usize>,
    /// Flows blocked at a rule that needed a record, and had one.
    pub covered: usize,
    /// Refused packets of no probe (another protocol, or a port not a probe's).
    pub unmatched: usize,
}

/// `net` with every security-group and network-ACL rule allowing everything.
fn open_network(net: &Network) -> Network {
    let mut open = net.clone();
    for acl in &mut open.network_acls {
        let all = vec![NaclEntry {
            rule: 100,
            action: NaclAction::Allow,
            traffic: TrafficMatch::ALL,
            cidr: "0.0.0.0/0".parse().expect("cidr"),
        }];
        acl.ingress.clone_from(&all);
        acl.egress = all;
    }
    for sg in &mut open.security_groups {
        let all = vec![SgRule {
            traffic: TrafficMatch::ALL,
            peer: SgPeer::Cidr("0.0.0.0/0".parse().expect("cidr")),
            index: 0,
        }];
        sg.ingress.clone_from(&all);
        sg.egress = all;
    }
    open
}

impl RejectCheck {
    /// Before a spec's probes: a reader bound in the router (a new one for a
    /// new router), with whatever it logged before drained.
    pub fn before_probes(&mut self, router_ns: &str) {
        if self.reader.as_ref().is_some_and(|r| !r.current()) {
            self.reader = None;
        }
        let reader = self
            .reader
            .get_or_insert_with(|| RejectReader::open(router_ns).expect("bind NFLOG"));
        reader.read(0).expect("drain NFLOG");
    }

    /// Closes the reader (before the router goes).
    pub fn close(&mut self) {
        self.reader = None;
    }

    /// After the probes: compares what was refused with the analyzer's
    /// verdicts. `ambiguous[i]`: flow `i`'s address is also another ENI's (two
    /// VPCs overlap), so which ENI the kernel reached is not the flow's.
    pub fn after_probes(
        &mut self,
        net: &Network,
        prefix: &str,
        flows: &[(Flow, Probe)],
        ambiguous: &[bool],
        seed: u64,
        disagreements: &mut Vec<String>,
    ) {
        // NFLOG sends what it holds every 100 ms.
        std::thread::sleep(Duration::from_millis(300));
        let reader = self.reader.as_mut().expect("a reader");
        let got = reader.read(0).expect("read NFLOG");
        assert_eq!(got.lost, 0, "seed {seed}: refused packets lost");
        let an = Analyzer::new(net);
        let open_net = open_network(net);
        let open = Analyzer::new(&open_net);
        let directory = Directory::new(net, prefix);
        let codes = RejectCodes::new(net);
        let labels = Labels::new(net);
        let by_port: HashMap<(u8, u16), usize> = flows
            .iter()
            .enumerate()
            .filter(|(_, (f, _))| matches!(f.protocol, 6 | 17))
            .map(|(i, (f, p))| ((f.protocol, p.src_port), i))
            .collect();
        let mut refused_flows = vec![false; flows.len()];
        for p in &got.packets {
            let h = p.packet;
            let port = [h.src.port(), h.dst.port()]
                .into_iter()
                .find(|x| *x >= PROBE_PORTS);
            // A probe's packet (or its reply) carries both of the probe's ports: a
            // packet that only shares one (a DNS query's ephemeral source port, say)
            // is another flow's.
            let Some(i) = port
                .and_then(|x| by_port.get(&(h.proto, x)).copied())
                .filter(|&i| {
                    let (f, p) = &flows[i];
                    let ports = (h.src.port(), h.dst.port());
                    ports == (p.src_port, f.port) || ports == (f.port, p.src_port)
                })
            else {
                self.unmatched += 1;
                continue;
            };
            refused_flows[i] = true;
            let (flow, probe) = &flows[i];
            let Some((seen, rejection)) = directory.refused(&codes, p) else {
                disagreements.push(format!(
                    "seed {seed}: {probe:?}\n  a refused packet (mark {:#x}, links {:?} → {:?}) names no interface",
                    p.mark, p.in_link, p.out_link
                ));
                continue;
            };
            if ambiguous[i] {
                continue;
            }
            let rule = refused_by(net, &labels, &seen, &rejection)
                .rule
                .unwrap_or_default();
            let v = an.check(flow);
            let said = match &v.blocked {
                Some(b) if !v.reachable => format!("{}: {} — ", b.step.as_str(), b.component),
                _ => "REACHABLE".to_owned(),
            };
            if !rule.starts_with(&said) {
                disagreements.push(format!(
                    "seed {seed}: {probe:?}\n  REJECT record: {rule}\n  analyzer: {said}"
                ));
            }
            *self
                .compared
                .entry(cove_flowlog::reject::step(&rejection).as_str())
                .or_default() += 1;
        }
        for (i, (flow, probe)) in flows.iter().enumerate() {
            if !matches!(flow.protocol, 6 | 17) || ambiguous[i] {
                continue;
            }
            let v = an.check(flow);
            let at_rule = v
                .blocked
                .as_ref()
                .is_some_and(|b| !v.reachable && STEPS.contains(&b.step));
            if !at_rule || !open.reachable(flow) {
                continue;
            }
            if refused_flows[i] {
                self.covered += 1;
            } else {
                disagreements.push(format!(
                    "seed {seed}: {probe:?}\n  no REJECT record; analyzer: {:?}",
                    v.blocked
                ));
            }
        }
    }
}
