//! The same scenarios through the kernel: when the tests run as root, each
//! scenario's network is applied with cove's data plane (a unique prefix per
//! scenario), and every flow a test asks about is also sent as real traffic — with a
//! pinned source port — and must get the analyzer's verdict for that exact flow.
//! Other IP protocols are sent as raw packets (`ProbeKind::Raw`). Flows the data
//! plane has no host for (an arbitrary internet address, ICMP other than echo) are
//! left to the analyzer alone.
//!
//! Not root: skipped, except under `CI=true`, where it is an error.
//! `COVE_SCENARIOS_KERNEL=0` turns the kernel part off.

use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use cove_analyze::{Analyzer, Endpoint, Flow};
use cove_host::Host;
use cove_model::{EniOwner, Network};
use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, allow_ping_sockets, run_batch};

static NEXT_PORT: AtomicU16 = AtomicU16::new(45_000);
static NEXT_PREFIX: AtomicUsize = AtomicUsize::new(0);

fn enabled() -> bool {
    if std::env::var("COVE_SCENARIOS_KERNEL").as_deref() == Ok("0") {
        return false;
    }
    cove_probe::privileged("AWS scenarios in the kernel")
}

/// A scenario's network in the kernel, applied on first use, destroyed on drop.
#[derive(Default)]
pub struct Replay {
    deployment: OnceLock<Option<Deployment>>,
}

struct Deployment {
    host: Host,
    prefix: String,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Err(errors) = self.host.destroy() {
            eprintln!("cleanup of {} failed: {errors:?}", self.prefix);
        }
    }
}

impl Replay {
    fn deployment(&self, net: &Network) -> Option<&Deployment> {
        self.deployment
            .get_or_init(|| {
                if !enabled() {
                    return None;
                }
                let n = NEXT_PREFIX.fetch_add(1, Ordering::Relaxed);
                // `COVE_TEST_PREFIX` keeps concurrent runs' namespaces apart by name.
                let base = std::env::var("COVE_TEST_PREFIX").unwrap_or_else(|_| "sc".into());
                let prefix = format!("{base}{}x{n}", std::process::id() % 100_000);
                let host = Host::new(&prefix).expect("prefix");
                let want = cove_plan::desired(net, &prefix).expect("layout");
                let plan = cove_plan::diff(&host.observe().expect("observe"), &want);
                let d = Deployment { host, prefix };
                d.host
                    .apply(&plan)
                    .expect("apply the scenario to the kernel");
                Some(d)
            })
            .as_ref()
    }

    /// Sends `flow` as real traffic (when the data plane can carry it) and asserts
    /// the outcome equals the analyzer's verdict for the same flow with the source
    /// port the probe used.
    pub fn compare(&self, net: &Network, flow: &Flow) {
        let Some(d) = self.deployment(net) else {
            return;
        };
        let names = Names::new(net, &d.prefix);
        let internet = net.internet_stand_in();
        let has_outside = net.vpcs.iter().any(|v| v.internet_gateway.is_some());
        let (src_ns, src_ip, src_vpc) = match flow.src {
            Endpoint::Eni(e) if net.enis[e.index()].owner != EniOwner::User => return,
            Endpoint::Eni(e) => (names.eni_ns(e), None, Some(net.enis[e.index()].vpc)),
            Endpoint::External(ip) if ip == internet && has_outside => {
                (names.outside_ns(), Some(ip), None)
            }
            Endpoint::External(_) => return,
        };
        let src_port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
        let pinned = Flow {
            src_port: Some(src_port),
            ..*flow
        };
        let expected = Analyzer::new(net).check(&pinned);
        // Where the destination lives, its address, and what to bind there.
        let user_at = |ip: Ipv4Addr, public: bool| {
            net.enis.iter().position(|x| {
                x.owner == EniOwner::User
                    && if public {
                        x.public_ip == Some(ip)
                    } else {
                        x.private_ip == ip
                    }
            })
        };
        let eni_ns = |i: usize| names.eni_ns(cove_model::EniId(u32::try_from(i).expect("small")));
        let nat_at = |ip: Ipv4Addr| net.nat_gateways.iter().find(|n| n.public_ips.contains(&ip));
        let (dst_ns, dst_ip, bind) = match flow.dst {
            // A NAT gateway's private address (nothing may answer there).
            Endpoint::Eni(e) if matches!(net.enis[e.index()].owner, EniOwner::NatGateway(_)) => {
                if src_ip.is_some() {
                    return;
                }
                (
                    names.eni_ns(e),
                    net.enis[e.index()].private_ip,
                    Ipv4Addr::UNSPECIFIED,
                )
            }
            Endpoint::Eni(e) if net.enis[e.index()].owner != EniOwner::User => return,
            Endpoint::Eni(e) => {
                let eni = &net.enis[e.index()];
                let ip = if src_ip.is_some() {
                    match eni.public_ip {
                        Some(p) => p,
                        None => return,
                    }
                } else {
                    eni.private_ip
                };
                (names.eni_ns(e), ip, Ipv4Addr::UNSPECIFIED)
            }
            Endpoint::External(ip) if ip == internet && has_outside => (names.outside_ns(), ip, ip),
            // An ENI's public IP, a NAT gateway's Elastic IP, and (from the
            // internet) an ENI's private address: a host listens behind each.
            Endpoint::External(ip) if user_at(ip, true).is_some() => (
                eni_ns(user_at(ip, true).expect("found")),
                ip,
                Ipv4Addr::UNSPECIFIED,
            ),
            Endpoint::External(ip) if nat_at(ip).is_some() => {
                let nat = nat_at(ip).expect("found");
                (names.eni_ns(nat.eni), ip, Ipv4Addr::UNSPECIFIED)
            }
            Endpoint::External(ip) if src_ip.is_some() && user_at(ip, false).is_some() => (
                eni_ns(user_at(ip, false).expect("found")),
                ip,
                Ipv4Addr::UNSPECIFIED,
            ),
            Endpoint::External(ip) => {
                // An address behind a gateway endpoint, when the analyzer's path for
                // this flow goes through the endpoint; any other internet address has
                // no host in the data plane.
                let Some(v) = src_vpc else { return };
                let via_endpoint = expected
                    .forward
                    .iter()
                    .any(|h| h.step == cove_analyze::Step::GatewayEndpoint);
                if !via_endpoint || flow.protocol == 17 {
                    return;
                }
                (names.services_ns(v), ip, Ipv4Addr::UNSPECIFIED)
            }
        };
        let kind = match flow.protocol {
            6 => ProbeKind::Tcp(flow.port),
            17 => ProbeKind::Udp(flow.port),
            1 if flow.icmp == (8, 0) => ProbeKind::IcmpEcho,
            1 => return,
            other => ProbeKind::Raw(other),
        };
        let (tcp, udp): (Vec<u16>, Vec<u16>) = match kind {
            ProbeKind::Tcp(p) => (vec![p], vec![]),
            ProbeKind::Udp(p) => (vec![], vec![p]),
            ProbeKind::IcmpEcho | ProbeKind::Raw(_) => (vec![], vec![]),
        };
        let _server = match kind {
            ProbeKind::Raw(p) => Responder::raw(&dst_ns, bind, &[p]),
            _ => Responder::start(&dst_ns, bind, &tcp, &udp),
        }
        .expect("responder");
        allow_ping_sockets(&src_ns).expect("ping sockets");
        let probe = Probe {
            ns: src_ns,
            src: src_ip,
            src_port,
            dst: dst_ip,
            kind,
        };
        let got =
            run_batch(std::slice::from_ref(&probe), Duration::from_millis(700)).expect("probe")[0];
        eprintln!(
            "kernel scenario probe: {probe:?} -> {}",
            if got { "REACHABLE" } else { "BLOCKED" }
        );
        assert_eq!(
            got,
            expected.reachable,
            "the kernel disagrees with the analyzer on {probe:?}: kernel {}, analyzer {} (blocked: {:?})",
            if got { "REACHABLE" } else { "BLOCKED" },
            if expected.reachable {
                "REACHABLE"
            } else {
                "BLOCKED"
            },
            expected.blocked
        );
    }
}
