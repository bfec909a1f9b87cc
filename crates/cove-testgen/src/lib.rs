//! Deterministic generators of cove specs, for benchmarks and randomized tests.
//!
//! Everything is derived from a seed with a small built-in PRNG, so the same seed
//! always gives the same spec (and the same benchmark input).

mod flat;
mod folders;
mod large;
mod random;
mod rng;
mod zones;

pub use flat::flat_vpc;
pub use folders::json_folders;
pub use large::{LargeParams, large_network};
pub use random::{RANDOM_PORTS, add_functions, random_network, random_network_overlapping};
pub use rng::SplitMix64;
pub use zones::{add_hosted_zones, names_to_ask};

/// The shipped example's network (`examples/secure-compute.yaml`), validated;
/// for unit tests.
pub fn example_network() -> cove_model::Network {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/secure-compute.yaml"
    ))
    .expect("example");
    cove_model::validate::validate_text(&text)
        .network
        .expect("valid")
}
