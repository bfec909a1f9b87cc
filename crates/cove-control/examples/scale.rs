//! How the pure commands scale: 100 tenants create 10 networks each (2 AZs, a static
//! IP pair from a /16 pool), then one desired spec of all of them is built and
//! validated. Prints the times; asserts nothing about them.
//!
//! `cargo run --release -p cove-control --example scale`

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use cove_control::*;
use cove_model::spec::TenantSpec;

fn main() {
    let mut state = ControlState::default();
    let mut n: u64 = 0;
    let mut env = || {
        n += 1;
        let mut random = [0u8; 32];
        random[..8].copy_from_slice(&n.to_le_bytes());
        Env {
            now: UnixTime(1_800_000_000 + n),
            random,
        }
    };
    let admin_secret = {
        let o = bootstrap_admin(&state, &env()).unwrap();
        state.apply(&o.changes);
        o.value.secret
    };
    let admin = authenticate(&state, &admin_secret, UnixTime(1_800_000_000)).unwrap();
    let o = set_ip_pool(&state, &admin, &["11.0.0.0/16".to_owned()]).unwrap();
    state.apply(&o.changes);
    let mut tenants = Vec::new();
    for i in 0..100 {
        let req = CreateTenant {
            name: Some(format!("tenant{i}")),
            quotas: None,
        };
        let o = create_tenant(&state, &admin, &env(), req).unwrap();
        state.apply(&o.changes);
        tenants.push(o.value.id);
    }
    let empty = TenantSpec::default();
    let mut times = Vec::new();
    let started = Instant::now();
    for round in 0..10 {
        for t in &tenants {
            let req = CreateNetwork {
                name: Some(format!("net{round}")),
                region: Some("us-east-1".into()),
                ..Default::default()
            };
            let t0 = Instant::now();
            let o = create_network(&state, t, &env(), req, &empty).unwrap();
            times.push(t0.elapsed());
            state.apply(&o.changes);
        }
    }
    let total = started.elapsed();
    times.sort();
    let pct = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
    println!(
        "create_network x{}: total {:?}, p50 {:?}, p99 {:?}, last (1,000 networks in the state) {:?}",
        times.len(),
        total,
        pct(50),
        pct(99),
        times.last().unwrap()
    );
    let t0 = Instant::now();
    let spec = desired_spec(&state, &BTreeMap::new());
    let built = t0.elapsed();
    let t1 = Instant::now();
    let v = cove_model::validate::validate(&spec);
    let validated = t1.elapsed();
    assert!(v.network.is_some());
    println!(
        "desired_spec (100 tenants, 1,000 networks, 2,000 NAT gateways): {built:?}; cove_model::validate: {validated:?}"
    );
    let t2 = Instant::now();
    let json = serde_json::to_string(&state).unwrap();
    println!(
        "state as JSON: {} KiB, serialized in {:?}",
        json.len() / 1024,
        t2.elapsed()
    );
}
