//! Golden files: the plan and the nftables rulesets for the shipped example, from an
//! empty host. `UPDATE_GOLDEN=1 cargo test -p cove-plan --test golden` rewrites them;
//! review the diff before committing.

use std::path::PathBuf;

use cove_model::validate::validate_text;
use cove_plan::{HostState, desired, diff};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check_golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the planner's output at line {}:\n  golden: {:?}\n  actual: {:?}\nrun with UPDATE_GOLDEN=1 to accept",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn example() -> cove_model::Network {
    let text = std::fs::read_to_string(root().join("../../examples/secure-compute.yaml"))
        .expect("example");
    validate_text(&text).network.expect("valid example")
}

#[test]
fn example_plan_from_an_empty_host() {
    let net = example();
    let want = desired(&net, "cove").expect("layout");
    let plan = diff(&HostState::default(), &want);
    check_golden("secure-compute.plan.txt", &plan.to_string());
    let mut nft = String::new();
    for (ns, state) in &want.namespaces {
        if let Some(t) = &state.nft {
            nft.push_str(&format!("# {ns}\n{}\n", t.batch_text()));
        }
    }
    check_golden("secure-compute.nft.txt", &nft);
}

/// The example's NAT pair when nat-a has failed: the takeover is a few operations
/// (nat-b gets nat-a's address; the router's route to it and private-a's default
/// route move to nat-b's link), and no table is reloaded.
#[test]
fn example_nat_takeover_plan() {
    let text = std::fs::read_to_string(root().join("../../examples/secure-compute.yaml"))
        .expect("example");
    let (mut spec, _) = cove_model::decode::decode_spec(&text).expect("decodes");
    let before = cove_model::validate::validate(&spec)
        .network
        .expect("valid");
    spec.nat_takeovers.push(cove_model::spec::NatTakeover {
        vpc: "platform/functions".into(),
        gateway: "nat-a".into(),
    });
    let after = cove_model::validate::validate(&spec)
        .network
        .expect("valid");
    let from = desired(&before, "cove").expect("layout");
    let to = desired(&after, "cove").expect("layout");
    let takeover = diff(&from, &to);
    assert!(
        takeover
            .ops
            .iter()
            .all(|op| !op.to_string().contains("nft")),
        "{takeover}"
    );
    let back = diff(&to, &from);
    check_golden(
        "secure-compute.takeover.txt",
        &format!("# nat-a fails\n{takeover}# nat-a is back\n{back}"),
    );
}

/// The example with a function (two subnets, two environments): its shared ENIs,
/// environment namespaces and links, and the router's translation.
#[test]
fn example_with_a_function_plan_from_an_empty_host() {
    let anchor = "          - { name: fn-b, subnet: private-b, security_groups: [fn] }\n";
    let net = example_with(
        anchor,
        &format!(
            "{anchor}        functions:\n          - {{ name: api, runtime: python3.11, handler: app.handler, code: ./api, subnets: [private-a, private-b], security_groups: [fn], concurrency: 2 }}\n"
        ),
    );
    let want = desired(&net, "cove").expect("layout");
    let plan = diff(&HostState::default(), &want);
    check_golden("secure-compute-function.plan.txt", &plan.to_string());
    let router = &want.namespaces["cove-router"];
    let t = router.nft.as_ref().expect("router table");
    check_golden("secure-compute-function.nft.txt", &t.batch_text());
}

fn example_with(from: &str, to: &str) -> cove_model::Network {
    let text = std::fs::read_to_string(root().join("../../examples/secure-compute.yaml"))
        .expect("example");
    assert!(text.contains(from), "{from}");
    validate_text(&text.replace(from, to))
        .network
        .expect("valid")
}

const ENDPOINT_RULE: &str = "- { protocol: tcp, ports: 443, security_group: fn }";

#[test]
fn changing_one_cidr_rule_changes_only_set_elements() {
    let with_port = |p: u16| {
        example_with(
            ENDPOINT_RULE,
            &format!(
                "{ENDPOINT_RULE}\n              - {{ protocol: tcp, ports: {p}, cidr: 10.0.0.0/8 }}"
            ),
        )
    };
    let before = desired(&with_port(8443), "cove").expect("layout");
    let after = desired(&with_port(9443), "cove").expect("layout");
    let plan = diff(&before_as_observed(&before), &after);
    let text = plan.to_string();
    assert_eq!(plan.ops.len(), 1, "{text}");
    // A rule change is an element change: the ruleset is not reloaded.
    assert!(
        matches!(plan.ops[0], cove_plan::Op::NftElements { .. }),
        "{text}"
    );
    assert!(text.contains("+1 -1 element(s)"), "{text}");
}

#[test]
fn changing_a_group_reference_rule_replaces_one_firewall() {
    let before = desired(&example(), "cove").expect("layout");
    let after = desired(
        &example_with(
            "- { protocol: tcp, ports: 5432, security_group: platform/functions/fn }",
            "- { protocol: tcp, ports: 5433, security_group: platform/functions/fn }",
        ),
        "cove",
    )
    .expect("layout");
    let plan = diff(&before_as_observed(&before), &after);
    let text = plan.to_string();
    assert_eq!(plan.ops.len(), 1, "{text}");
    assert!(
        matches!(plan.ops[0], cove_plan::Op::ReplaceNft { .. }),
        "{text}"
    );
}

#[test]
fn attaching_an_eni_changes_only_set_elements() {
    let net = example();
    let before = desired(&net, "cove").expect("layout");
    let text = std::fs::read_to_string(root().join("../../examples/secure-compute.yaml"))
        .expect("example")
        .replace(
            "- { name: fn-b, subnet: private-b, security_groups: [fn] }",
            "- { name: fn-b, subnet: private-b, security_groups: [fn] }\n          - { name: fn-c, subnet: private-a, security_groups: [fn] }",
        );
    let more = validate_text(&text).network.expect("valid");
    let after = desired(&more, "cove").expect("layout");
    let plan = diff(&before_as_observed(&before), &after);
    let text = plan.to_string();
    assert!(
        plan.ops
            .iter()
            .all(|op| !matches!(op, cove_plan::Op::ReplaceNft { .. })),
        "an attach must not reload a ruleset:\n{text}"
    );
    assert!(text.contains("+ netns cove-e-"), "{text}");
    // One element batch in the host router: the link's data, and the new member of
    // the `fn` group the database's security group refers to.
    let element_ops = plan
        .ops
        .iter()
        .filter(|op| matches!(op, cove_plan::Op::NftElements { .. }))
        .count();
    assert_eq!(element_ops, 1, "{text}");
    // The peered VPC's route table reaches the new ENI directly (one forwarding).
    assert!(
        text.matches("+ route cove-router: 10.20.1.6/32 dev")
            .count()
            >= 2,
        "{text}"
    );
    check_golden("secure-compute.attach.txt", &text);
}

/// What the executor would read back after applying `state`.
fn before_as_observed(state: &HostState) -> HostState {
    let mut s = state.clone();
    s.veths.clear();
    s
}

#[test]
fn applying_the_same_state_twice_changes_nothing() {
    let net = example();
    let want = desired(&net, "cove").expect("layout");
    assert!(diff(&before_as_observed(&want), &want).is_empty());
}
