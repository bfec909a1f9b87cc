//! A public IP that moves to another ENI on a re-apply (root, `CI=true`): the
//! internet gateway's 1:1 NAT must serve its new owner at once, for every IP
//! protocol, as AWS's does when an address is re-associated.
//!
//! The router tracks translated flows; an entry of the old binding (private →
//! public) outlives the apply unless the plan forgets it (`Op::ForgetNatFlows`). For
//! a protocol without ports (here 253 and 254) that entry takes the only translated
//! tuple there is, so the new owner's packets were dropped until it expired (600 s),
//! and packets from the internet to the public IP still went to the old owner.

use std::net::Ipv4Addr;
use std::time::Duration;

use cove_analyze::{Analyzer, Endpoint, Flow};
use cove_host::Host;
use cove_model::Network;
use cove_model::validate::validate_text;
use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, run_batch};

const PUBLIC: &str = "203.0.113.50";

/// One VPC with an internet gateway and ENIs `a` and `b`; `owner` has the public IP.
fn spec(owner: &str) -> String {
    let eni = |name: &str, ip: &str| {
        let public = if name == owner { PUBLIC } else { "null" };
        format!(
            "          - {{ name: {name}, subnet: s, private_ip: {ip}, public_ip: {public}, security_groups: [open] }}\n"
        )
    };
    format!(
        "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.9.0.0/16
        subnets:
          - {{ name: s, cidr: 10.9.0.0/24, az: az1, route_table: public }}
        internet_gateway: {{ name: igw }}
        route_tables:
          - name: public
            routes:
              - {{ destination: 0.0.0.0/0, internet_gateway: igw }}
        security_groups:
          - name: open
            description: every protocol both ways
            ingress:
              - {{ protocol: all, cidr: 0.0.0.0/0 }}
        enis:
{}{}",
        eni("a", "10.9.0.10"),
        eni("b", "10.9.0.11")
    )
}

fn network(owner: &str) -> Network {
    validate_text(&spec(owner)).network.expect("valid spec")
}

struct Cleanup(Host);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.destroy();
    }
}

fn apply(host: &Host, net: &Network, prefix: &str) {
    let want = cove_plan::desired(net, prefix).expect("layout");
    let plan = cove_plan::diff(&host.observe().expect("observe"), &want);
    host.apply(&plan).expect("apply");
}

/// The raw probes: `eni` to the internet (protocol 253) and the internet to the
/// public IP (254); each with the analyzer's verdict and the kernel's answer.
fn probes(net: &Network, prefix: &str, eni: &str, id: u16) -> Vec<(String, bool, bool)> {
    let names = Names::new(net, prefix);
    let an = Analyzer::new(net);
    let internet = net.internet_stand_in();
    let public: Ipv4Addr = PUBLIC.parse().expect("ip");
    let e = net.find_eni(&format!("v/{eni}")).expect("eni");
    let flow = |src, dst, protocol| Flow {
        src,
        dst,
        protocol,
        port: 0,
        src_port: Some(id),
        icmp: (8, 0),
    };
    let cases = [
        (
            format!("{eni} -> internet, protocol 253"),
            flow(Endpoint::Eni(e), Endpoint::External(internet), 253),
            Probe {
                ns: names.eni_ns(e),
                src: None,
                src_port: id,
                dst: internet,
                kind: ProbeKind::Raw(253),
            },
        ),
        (
            format!("internet -> {PUBLIC} ({eni}), protocol 254"),
            flow(Endpoint::External(internet), Endpoint::Eni(e), 254),
            Probe {
                ns: names.outside_ns(),
                src: Some(internet),
                src_port: id + 1,
                dst: public,
                kind: ProbeKind::Raw(254),
            },
        ),
    ];
    let got = run_batch(
        &cases.iter().map(|c| c.2.clone()).collect::<Vec<_>>(),
        Duration::from_millis(1500),
    )
    .expect("probes");
    cases
        .iter()
        .zip(got)
        .map(|((what, flow, _), kernel)| (what.clone(), an.reachable(flow), kernel))
        .collect()
}

#[test]
fn a_public_ip_moved_to_another_eni_serves_its_new_owner_for_every_protocol() {
    if !cove_probe::privileged("nat_rebind") {
        return;
    }
    let base = std::env::var("COVE_TEST_PREFIX").unwrap_or_else(|_| "x".into());
    let prefix = format!("{base}nr{}", std::process::id() % 100_000);
    let cleanup = Cleanup(Host::new(&prefix).expect("host"));
    let host = &cleanup.0;

    let before = network("a");
    apply(host, &before, &prefix);
    let names = Names::new(&before, &prefix);
    let internet = before.internet_stand_in();
    let ns = |eni: &str| names.eni_ns(before.find_eni(&format!("v/{eni}")).expect("eni"));
    let outside = Responder::raw(&names.outside_ns(), internet, &[253]).expect("responder");
    let a = Responder::raw(&ns("a"), Ipv4Addr::UNSPECIFIED, &[254]).expect("responder");
    // The old binding carries flows both ways (and the router tracks them).
    for (what, analyzer, kernel) in probes(&before, &prefix, "a", 40_000) {
        assert!(
            analyzer && kernel,
            "{what}: analyzer {analyzer}, kernel {kernel}"
        );
    }
    // Only the new owner answers from now on: a packet still sent to `a` is lost.
    drop(a);
    let b = Responder::raw(&ns("b"), Ipv4Addr::UNSPECIFIED, &[254]).expect("responder");

    let after = network("b");
    let want = cove_plan::desired(&after, &prefix).expect("layout");
    let plan = cove_plan::diff(&host.observe().expect("observe"), &want);
    assert!(
        plan.ops
            .iter()
            .any(|op| matches!(op, cove_plan::Op::ForgetNatFlows { .. })),
        "the plan forgets the old binding's flows:\n{plan}"
    );
    host.apply(&plan).expect("apply");
    let wrong: Vec<String> = probes(&after, &prefix, "b", 40_010)
        .into_iter()
        .filter(|(_, analyzer, kernel)| !analyzer || !kernel)
        .map(|(what, analyzer, kernel)| format!("{what}: analyzer {analyzer}, kernel {kernel}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "after the move (a kernel `false`: a flow of the old binding is still tracked):\n{}",
        wrong.join("\n")
    );
    drop((outside, b));
    host.destroy().expect("destroy");
}
