//! A 1:1 NAT binding of the internet gateway that an apply removes (an Elastic IP
//! given to another address, a public IP moved): the plan forgets the flows the
//! router tracks through it, after the new bindings are loaded, and only those.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use cove_model::validate::validate_text;
use cove_plan::simulate::simulate;
use cove_plan::{HostState, NatBinding, Op, desired, diff};

fn example_text() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("../../examples/secure-compute.yaml")).expect("example")
}

fn state(text: &str) -> (cove_model::Network, HostState) {
    let net = validate_text(text).network.expect("valid spec");
    let want = desired(&net, "cove").expect("layout");
    (net, want)
}

fn forgotten(plan: &cove_plan::Plan) -> Vec<(String, BTreeSet<NatBinding>)> {
    plan.ops
        .iter()
        .filter_map(|op| match op {
            Op::ForgetNatFlows { ns, bindings } => Some((ns.clone(), bindings.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_moved_elastic_ip_forgets_the_old_bindings_flows_after_the_new_maps() {
    let text = example_text();
    let (net, before) = state(&text);
    let applied =
        simulate(HostState::default(), &diff(&HostState::default(), &before)).expect("applies");
    assert!(forgotten(&diff(&HostState::default(), &before)).is_empty());

    let moved = text.replace("public_ips: [203.0.113.10]", "public_ips: [203.0.113.20]");
    assert_ne!(moved, text, "the example gives nat-a 203.0.113.10");
    let (_, after) = state(&moved);
    let plan = diff(&applied, &after);
    let nat_a = net
        .nat_gateways
        .iter()
        .find(|n| n.public_ips.contains(&Ipv4Addr::new(203, 0, 113, 10)))
        .expect("nat-a");
    let private = net.enis[nat_a.eni.index()].private_ip;
    let want = BTreeSet::from([NatBinding {
        private,
        public: Ipv4Addr::new(203, 0, 113, 10),
    }]);
    assert_eq!(
        forgotten(&plan),
        vec![("cove-router".to_owned(), want)],
        "{plan}"
    );
    // After the router's firewall has the new binding.
    let at = |f: &dyn Fn(&Op) -> bool| plan.ops.iter().position(f).expect("op");
    let forget = at(&|op| matches!(op, Op::ForgetNatFlows { .. }));
    let firewall = at(&|op| {
        op.namespace() == "cove-router"
            && matches!(op, Op::NftElements { .. } | Op::ReplaceNft { .. })
    });
    assert!(firewall < forget, "{plan}");
    let done = simulate(applied, &plan).expect("applies");
    assert!(diff(&done, &after).is_empty());
}

#[test]
fn a_change_that_keeps_every_binding_forgets_nothing() {
    let text = example_text();
    let (_, before) = state(&text);
    let applied =
        simulate(HostState::default(), &diff(&HostState::default(), &before)).expect("applies");
    let changed = text.replace(
        "{ protocol: tcp, ports: 443, security_group: fn }",
        "{ protocol: tcp, ports: 8443, security_group: fn }",
    );
    assert_ne!(changed, text, "the example has the endpoints' rule");
    let (_, after) = state(&changed);
    let plan = diff(&applied, &after);
    assert!(!plan.is_empty());
    assert!(forgotten(&plan).is_empty(), "{plan}");
}
