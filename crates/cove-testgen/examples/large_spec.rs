//! Prints a generated spec as YAML (for benchmarks that apply a large network):
//! `cargo run -p cove-testgen --example large_spec -- VPCS ENIS_PER_VPC`.
//! Each VPC has 4 subnets, 10 security groups of 8 rules, 2 ACLs of 10 entries and
//! one peering to the next VPC (ring), as in the analyzer benchmark.

use cove_testgen::{LargeParams, large_network};

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .map_or(default, |a| a.parse().expect("a whole number"))
    };
    let params = LargeParams {
        vpcs: arg(1, 100),
        enis_per_vpc: arg(2, 10),
        ..LargeParams::BENCH
    };
    let spec = large_network(params, 42);
    print!(
        "{}",
        serde_saphyr::to_string(&spec).expect("a spec encodes as YAML")
    );
}
