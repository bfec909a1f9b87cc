//! The central data-plane test: random valid networks are applied to the kernel and
//! real TCP, UDP, ICMP and raw IP (protocol 253) traffic is sent between ENI
//! namespaces, functions' environments (through their shared ENIs) and the outside namespace — to private addresses, public IPs, NAT
//! gateways' addresses and Elastic IPs; every outcome must equal the analyzer's
//! verdict.
//!
//! Flows are also addressed by name (issue 12, [`by_name`]): every network gets
//! private hosted zones, and names are asked of cove's resolver from sources'
//! namespaces; each answer must be what `cove check --to NAME` resolves in the
//! source VPC's view, and the addresses answered are then probed like any flow.
//!
//! Each spec is applied over the previous one (so the planner's diffs are exercised
//! against the real kernel), with a full destroy every ten specs. A disagreement
//! prints the spec, the flow and both answers. Sizes: `COVE_DIFF_SPECS` (default 50)
//! specs, at least `COVE_DIFF_FLOWS` (default 10,000) flows in all.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod by_name;
mod rejects;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cove_analyze::{Analyzer, Endpoint, Flow};
use cove_host::Host;
use cove_model::validate::validate;
use cove_model::{EniId, EniOwner, Network};
use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, allow_ping_sockets, run_batch};
use cove_resolver::{Resolver, ResolverConfig};
use cove_testgen::{
    RANDOM_PORTS, SplitMix64, add_functions, add_hosted_zones, names_to_ask, random_network,
    random_network_overlapping,
};

use crate::by_name::{Question, Said};
use crate::rejects::RejectCheck;

/// The raw IP protocols the probes use besides TCP, UDP and ICMP.
const RAW: [u8; 2] = [253, 254];

/// Which host an endpoint is, whatever address it is reached at: an ENI (by its
/// private address, its public IP, or a NAT gateway's Elastic IP) or the internet.
fn host_key(net: &Network, e: Endpoint) -> u64 {
    match e {
        Endpoint::Eni(x) => u64::from(x.0),
        Endpoint::External(ip) => net
            .enis
            .iter()
            .position(|x| {
                x.public_ip == Some(ip) || (x.owner == EniOwner::User && x.private_ip == ip)
            })
            .or_else(|| {
                let n = net
                    .nat_gateways
                    .iter()
                    .find(|n| n.public_ips.contains(&ip))?;
                Some(n.eni.index())
            })
            .map_or(u64::MAX, |i| i as u64),
    }
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Cleanup(Host);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.destroy();
    }
}

fn user_enis(net: &Network) -> Vec<EniId> {
    enis_of(net, EniOwner::User)
}

fn enis_of(net: &Network, owner: EniOwner) -> Vec<EniId> {
    (0..net.enis.len())
        .map(|i| EniId(u32::try_from(i).expect("small")))
        .filter(|e| net.enis[e.index()].owner == owner)
        .collect()
}

/// Where a probe from an ENI is sent: its namespace, or for a shared function ENI
/// the namespace of an environment that sends through it.
fn source_ns(net: &Network, names: &Names<'_>, e: EniId) -> String {
    if net.enis[e.index()].owner != EniOwner::Shared {
        return names.eni_ns(e);
    }
    for (i, f) in net.functions.iter().enumerate() {
        if let Some(k) = (0..f.concurrency).find(|k| f.environment_eni(*k) == Some(e)) {
            return names.env_ns(cove_model::FunctionId(u32::try_from(i).expect("small")), k);
        }
    }
    panic!("shared ENI {} has no environment", net.eni_label(e))
}

/// The probes of one spec: every ordered pair of endpoints (user ENIs and the
/// internet) once, then random pairs until `per_spec` flows.
fn plan_flows(
    an: &Analyzer<'_>,
    net: &Network,
    names: &Names<'_>,
    rng: &mut SplitMix64,
    next_port: &mut u16,
    per_spec: usize,
) -> Vec<(Flow, Probe)> {
    let internet = net.internet_stand_in();
    let outside = names.outside_ns();
    let has_outside = net.vpcs.iter().any(|v| v.internet_gateway.is_some());
    // Functions' shared ENIs are sources (from an environment) and destinations
    // (nothing reaches an environment).
    let mut ends: Vec<Endpoint> = user_enis(net)
        .into_iter()
        .chain(enis_of(net, EniOwner::Shared))
        .map(Endpoint::Eni)
        .collect();
    if has_outside {
        ends.push(Endpoint::External(internet));
    }
    let mut pairs = Vec::new();
    for s in &ends {
        for d in &ends {
            if s != d {
                pairs.push((*s, *d));
            }
        }
    }
    // Destinations beyond the ENIs' own addresses, each once from every source
    // (then among the random pairs): the NAT gateways' private addresses (from
    // ENIs), every public IP and Elastic IP, and from the internet every ENI's
    // private address (not routed there).
    let mut extra: Vec<Endpoint> = Vec::new();
    for n in &net.nat_gateways {
        extra.push(Endpoint::Eni(n.eni));
        extra.extend(n.public_ips.iter().map(|ip| Endpoint::External(*ip)));
    }
    for e in user_enis(net) {
        if let Some(p) = net.enis[e.index()].public_ip {
            extra.push(Endpoint::External(p));
        }
    }
    for s in &ends {
        for d in &extra {
            let own_public = match (s, d) {
                (Endpoint::Eni(a), Endpoint::External(ip)) => {
                    net.enis[a.index()].public_ip == Some(*ip)
                }
                _ => false,
            };
            let nat_from_outside = matches!((s, d), (Endpoint::External(_), Endpoint::Eni(_)));
            if !own_public && !nat_from_outside {
                pairs.push((*s, *d));
            }
        }
        if matches!(s, Endpoint::External(_)) {
            for e in user_enis(net) {
                pairs.push((*s, Endpoint::External(net.enis[e.index()].private_ip)));
            }
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while !pairs.is_empty() && out.len() < per_spec.max(pairs.len()) {
        let (s, d) = if i < pairs.len() {
            pairs[i]
        } else {
            pairs[rng.index(pairs.len())]
        };
        i += 1;
        let (ns, src_ip) = match s {
            Endpoint::Eni(e) => (source_ns(net, names, e), None),
            Endpoint::External(ip) => (outside.clone(), Some(ip)),
        };
        let dst_ip = match d {
            Endpoint::Eni(e) if net.enis[e.index()].owner != EniOwner::User => {
                net.enis[e.index()].private_ip
            }
            Endpoint::Eni(e) => {
                let eni = &net.enis[e.index()];
                if matches!(s, Endpoint::External(_)) {
                    match eni.public_ip {
                        Some(p) => p,
                        None => continue, // unreachable by construction; no address to try
                    }
                } else {
                    eni.private_ip
                }
            }
            Endpoint::External(ip) => ip,
        };
        if matches!((s, d), (Endpoint::External(_), Endpoint::External(y)) if y == internet) {
            continue;
        }
        // Source ports 33001–60990: above every port the responders listen on
        // (`RANDOM_PORTS`, the highest 33000), so a probe never collides with one.
        *next_port = if *next_port >= 60990 {
            33001
        } else {
            *next_port + 1
        };
        let src_port = *next_port;
        // Candidate probes; half of the time pick one the analyzer calls reachable
        // (when there is one), so that both outcomes are tested in bulk. The choice
        // uses only the analyzer; the comparison is unaffected.
        // Protocols 253 and 254 (for experiments) stand for every protocol a NAT
        // gateway does not translate; no conntrack helper judges their payload.
        // Conntrack tracks them by address alone, so a probe one way would let a
        // concurrent probe the other way pass as its reply: the two directions
        // between two hosts use different numbers.
        let raw = if host_key(net, s) < host_key(net, d) {
            RAW[0]
        } else {
            RAW[1]
        };
        let mut candidates: Vec<(u8, ProbeKind)> =
            vec![(1, ProbeKind::IcmpEcho), (raw, ProbeKind::Raw(raw))];
        for p in RANDOM_PORTS {
            candidates.push((6, ProbeKind::Tcp(p)));
            candidates.push((17, ProbeKind::Udp(p)));
        }
        let flow_of = |(protocol, kind): (u8, ProbeKind)| Flow {
            src: s,
            dst: d,
            protocol,
            port: match kind {
                ProbeKind::Tcp(p) | ProbeKind::Udp(p) => p,
                ProbeKind::IcmpEcho | ProbeKind::Raw(_) => 0,
            },
            src_port: Some(src_port),
            icmp: (8, 0),
        };
        let open: Vec<(u8, ProbeKind)> = candidates
            .iter()
            .copied()
            .filter(|c| an.reachable(&flow_of(*c)))
            .collect();
        let (protocol, kind) = if !open.is_empty() && rng.chance(50) {
            open[rng.index(open.len())]
        } else {
            candidates[rng.index(candidates.len())]
        };
        out.push((
            flow_of((protocol, kind)),
            Probe {
                ns,
                src: src_ip,
                src_port,
                dst: dst_ip,
                kind,
            },
        ));
    }
    // A raw IP probe from every ENI to the internet stand-in, whatever the random
    // choice above picked for that pair: the internet gateway's 1:1 NAT must pass
    // every IP protocol, a NAT gateway none but TCP, UDP and ICMP.
    if has_outside {
        for e in user_enis(net)
            .into_iter()
            .chain(enis_of(net, EniOwner::Shared))
        {
            *next_port = if *next_port >= 60990 {
                33001
            } else {
                *next_port + 1
            };
            let raw = RAW[0];
            out.push((
                Flow {
                    src: Endpoint::Eni(e),
                    dst: Endpoint::External(internet),
                    protocol: raw,
                    port: 0,
                    src_port: Some(*next_port),
                    icmp: (8, 0),
                },
                Probe {
                    ns: source_ns(net, names, e),
                    src: None,
                    src_port: *next_port,
                    dst: internet,
                    kind: ProbeKind::Raw(raw),
                },
            ));
        }
    }
    out
}

/// The same flow to each other user ENI (each has responders) with the destination
/// ENI's address.
fn same_address<'a>(net: &'a Network, flow: &'a Flow) -> impl Iterator<Item = Flow> + 'a {
    let dst = match flow.dst {
        Endpoint::Eni(d) => Some(d),
        Endpoint::External(_) => None,
    };
    user_enis(net)
        .into_iter()
        .filter(move |e| {
            dst.is_some_and(|d| {
                *e != d && net.enis[e.index()].private_ip == net.enis[d.index()].private_ip
            })
        })
        .map(move |e| Flow {
            dst: Endpoint::Eni(e),
            ..*flow
        })
}

#[test]
fn kernel_agrees_with_analyzer_on_random_networks() {
    if !cove_probe::privileged("differential") {
        return;
    }
    let specs = env_usize("COVE_DIFF_SPECS", 50);
    let min_flows = env_usize("COVE_DIFF_FLOWS", 10_000);
    let per_spec = min_flows.div_ceil(specs.max(1));
    // `COVE_TEST_PREFIX` keeps concurrent runs' namespaces apart by name.
    let base = std::env::var("COVE_TEST_PREFIX").unwrap_or_else(|_| "x".into());
    let prefix = format!("{base}{}", std::process::id() % 100_000);
    let host = Host::new(&prefix).expect("host");
    let cleanup = Cleanup(host);
    let host = &cleanup.0;
    let mut rng = SplitMix64::new(0x5EED);
    let mut next_port = 33000u16;
    let (mut total, mut reachable, mut disagreements) = (0usize, 0usize, Vec::new());
    // Raw IP probes from ENIs to the internet: how many, how many reachable.
    let (mut raw_out, mut raw_out_reachable) = (0usize, 0usize);
    // Flows from functions' environments through shared ENIs: how many, how many
    // reachable (both must be present for the comparison to mean something).
    let (mut from_fn, mut from_fn_reachable) = (0usize, 0usize);
    let mut to_shared = 0usize;
    // Names asked, by outcome; flows to the addresses answered, how many reachable.
    let mut name_outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut by_name_flows, mut by_name_reachable) = (0usize, 0usize);
    let mut resolver: Option<Resolver> = None;
    let mut rejects = RejectCheck::default();
    let started = Instant::now();
    // `COVE_DIFF_FROM` starts at a later spec (to replay one seed: 10,000 + k).
    let from = env_usize("COVE_DIFF_FROM", 0);
    for k in from..specs {
        let seed = 10_000 + k as u64;
        // Every fourth network has two VPCs with the same block (the host router
        // keeps them apart with marks and conntrack zones).
        let mut spec = if k % 4 == 3 {
            random_network_overlapping(seed)
        } else {
            random_network(seed)
        };
        // Functions behind shared ENIs in two networks of three.
        if k % 3 != 2 {
            add_functions(&mut spec, seed);
        }
        // Private DNS: the zones' records name the addresses validation assigns.
        if let Some(before) = validate(&spec).network {
            add_hosted_zones(&mut spec, &before, seed);
        }
        let checked = validate(&spec);
        let Some(net) = checked.network else {
            panic!(
                "seed {seed}: the generated spec is invalid: {:?}",
                checked.diagnostics
            );
        };
        if k % 10 == 0 {
            host.destroy().expect("destroy");
        }
        let want = cove_plan::desired(&net, &prefix).expect("layout");
        let observed = host.observe().expect("observe");
        let plan = cove_plan::diff(&observed, &want);
        host.apply(&plan)
            .unwrap_or_else(|e| panic!("seed {seed}: apply failed: {e:?}"));
        let again = cove_plan::diff(&host.observe().expect("observe"), &want);
        assert!(again.is_empty(), "seed {seed}: not converged:\n{again}");

        let names = Names::new(&net, &prefix);
        // One resolver in the router's namespace (a new one when the namespace is
        // new), with this network's catalog and no upstream.
        if resolver.is_none() || k % 10 == 0 {
            drop(resolver.take());
            let config = ResolverConfig::new(&names.router_ns(), Vec::new());
            resolver = Some(Resolver::start(config).expect("start the resolver"));
        }
        if let Some(r) = &resolver {
            r.set_catalog(Arc::new(cove_deploy::dns::catalog(&net, &prefix)));
        }
        let ports: Vec<u16> = RANDOM_PORTS.to_vec();
        let mut responders = Vec::new();
        let mut serving: BTreeSet<String> = BTreeSet::new();
        for e in user_enis(&net) {
            serving.insert(names.eni_ns(e));
        }
        // Environments listen too, so that a connection that reached one would show.
        for (i, f) in net.functions.iter().enumerate() {
            for k in 0..f.concurrency {
                serving.insert(
                    names.env_ns(cove_model::FunctionId(u32::try_from(i).expect("small")), k),
                );
            }
        }
        // NAT gateways listen too, so that nothing but their firewall refuses.
        for n in &net.nat_gateways {
            serving.insert(names.eni_ns(n.eni));
        }
        if net.vpcs.iter().any(|v| v.internet_gateway.is_some()) {
            serving.insert(names.outside_ns());
        }
        let outside = names.outside_ns();
        for ns in &serving {
            let bind = if *ns == outside {
                net.internet_stand_in()
            } else {
                Ipv4Addr::UNSPECIFIED
            };
            responders.push(Responder::start(ns, bind, &ports, &ports).expect("responder"));
            responders.push(Responder::raw(ns, bind, &RAW).expect("raw responder"));
            allow_ping_sockets(ns).expect("ping sockets");
        }
        // Every probe must be a new flow: the analyzer judges new flows, and a flow
        // the kernel still tracks from an earlier spec passes as established (as on
        // AWS, where removing a security-group rule does not interrupt a tracked
        // flow). TCP and UDP probes use fresh source ports and ICMP echoes fresh ids,
        // but raw IP probes have no ports: their tuple (addresses, protocol, zone)
        // repeats across specs, and the generic protocol is tracked for 600 s. So the
        // router forgets every tracked flow before each spec's probes.
        cove_probe::flush_conntrack(&names.router_ns()).expect("conntrack flush");
        rejects.before_probes(&names.router_ns());
        let an = Analyzer::new(&net);
        let mut flows = plan_flows(&an, &net, &names, &mut rng, &mut next_port, per_spec);
        let named = ask_names(&an, &net, &names, &mut rng, &mut next_port);
        for (q, want, got) in &named.mismatches {
            disagreements.push(format!(
                "seed {seed}: {} asks {} for {}\n  resolver: {got:?}\n  analyzer: {want:?}",
                q.ns, q.resolver, q.name
            ));
        }
        for (kind, n) in named.outcomes {
            *name_outcomes.entry(kind).or_default() += n;
        }
        let first_named = flows.len();
        flows.extend(named.flows);
        let probes: Vec<Probe> = flows.iter().map(|(_, p)| p.clone()).collect();
        let got = run_batch(&probes, Duration::from_millis(1200)).expect("probes");
        let ambiguous: Vec<bool> = flows
            .iter()
            .map(|(f, _)| same_address(&net, f).next().is_some())
            .collect();
        let before = disagreements.len();
        rejects.after_probes(&net, &prefix, &flows, &ambiguous, seed, &mut disagreements);
        if before < 3 && disagreements.len() > before {
            eprintln!(
                "--- REJECT disagreement, spec (seed {seed}):\n{}\n{}",
                serde_saphyr::to_string(&spec).unwrap_or_default(),
                disagreements[before]
            );
        }
        for (n, ((flow, probe), kernel)) in flows.iter().zip(&got).enumerate() {
            let v = an.check(flow);
            // Where two VPCs overlap, a probe to an address answers if the analyzer
            // delivers the flow to any of the ENIs with that address (each listens).
            let expected = v.reachable || same_address(&net, flow).any(|f| an.check(&f).reachable);
            total += 1;
            reachable += usize::from(*kernel);
            if n >= first_named {
                by_name_flows += 1;
                by_name_reachable += usize::from(*kernel);
            }
            if let Endpoint::Eni(d) = flow.dst {
                to_shared += usize::from(net.enis[d.index()].owner == EniOwner::Shared);
            }
            if let Endpoint::Eni(e) = flow.src {
                if net.enis[e.index()].owner == EniOwner::Shared {
                    from_fn += 1;
                    from_fn_reachable += usize::from(*kernel);
                }
            }
            if let (Endpoint::Eni(_), Endpoint::External(ip), ProbeKind::Raw(_)) =
                (flow.src, flow.dst, probe.kind)
            {
                if ip == net.internet_stand_in() {
                    raw_out += 1;
                    raw_out_reachable += usize::from(*kernel);
                }
            }
            if expected != *kernel {
                disagreements.push(format!(
                    "seed {seed}: {probe:?}\n  kernel: {}\n  analyzer: {} {:?}",
                    if *kernel { "REACHABLE" } else { "BLOCKED" },
                    if expected { "REACHABLE" } else { "BLOCKED" },
                    v.blocked
                ));
                if disagreements.len() <= 3 {
                    eprintln!(
                        "--- disagreement, spec (seed {seed}):\n{}\n{}",
                        serde_saphyr::to_string(&spec).unwrap_or_default(),
                        disagreements.last().map_or("", String::as_str)
                    );
                }
            }
        }
        drop(responders);
    }
    drop(resolver);
    rejects.close();
    let RejectCheck {
        compared,
        covered,
        unmatched,
        ..
    } = rejects;
    host.destroy().expect("destroy");
    eprintln!(
        "differential: {specs} specs, {total} flows ({reachable} reachable), {} disagreements, {:.1?}",
        disagreements.len(),
        started.elapsed()
    );
    eprintln!(
        "differential: raw IP from ENIs to the internet: {raw_out} flows ({raw_out_reachable} reachable)"
    );
    eprintln!(
        "differential: from functions' environments: {from_fn} flows ({from_fn_reachable} reachable); {to_shared} to shared ENIs"
    );
    eprintln!(
        "differential: names asked {name_outcomes:?}; {by_name_flows} flows to the addresses answered ({by_name_reachable} reachable)"
    );
    eprintln!(
        "differential: REJECT records: refused TCP/UDP packets compared by step {compared:?}; {covered} flows blocked at a rule had theirs; {unmatched} refused packets of no TCP/UDP probe"
    );
    assert!(total >= min_flows, "only {total} flows");
    // Refusals at each kind of component were compared.
    for step in [
        "security-group-egress",
        "network-acl-egress",
        "network-acl-ingress",
        "security-group-ingress",
    ] {
        assert!(
            compared.get(step).copied().unwrap_or(0) > 0,
            "no refusal at {step} was compared: {compared:?}"
        );
    }
    assert!(
        covered > 0,
        "no flow blocked at a rule was checked for its record"
    );
    // Every kind of answer must have been compared, and flows by name both ways.
    for kind in ["address", "no such name", "forwarded", "silence"] {
        assert!(
            name_outcomes.get(kind).copied().unwrap_or(0) > 0,
            "no name was answered `{kind}`: {name_outcomes:?}"
        );
    }
    assert!(
        by_name_reachable > 0 && by_name_reachable < by_name_flows,
        "flows by name must include both outcomes: {by_name_reachable} of {by_name_flows}"
    );
    assert!(
        from_fn_reachable > 0 && from_fn_reachable < from_fn,
        "flows from environments must include both outcomes: {from_fn_reachable} of {from_fn}"
    );
    // Flows to a shared ENI are blocked by construction; the rest must be
    // reachable often enough for the comparison to mean something.
    assert!(
        reachable * 10 > total - to_shared,
        "too few reachable flows to be meaningful: {reachable} of {}",
        total - to_shared
    );
    assert!(
        disagreements.is_empty(),
        "{} of {total} flows disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// What asking one spec's names gave.
struct Named {
    /// Flows to the addresses answered (the resolver and the analyzer agreeing).
    flows: Vec<(Flow, Probe)>,
    /// Questions answered otherwise than the analyzer resolves them.
    mismatches: Vec<(Question, Said, Said)>,
    /// Answers by kind.
    outcomes: BTreeMap<&'static str, usize>,
}

/// Asks the names of `net`'s zones (and hostnames, a missing and a public name)
/// from up to four random sources (ENIs and functions' environments), at their
/// VPC's base + 2 or 169.254.169.253; compares each answer with the analyzer's
/// resolution; and makes a TCP probe to each address answered (half of them on a
/// port the analyzer calls open, when one is).
fn ask_names(
    an: &Analyzer<'_>,
    net: &Network,
    names: &Names<'_>,
    rng: &mut SplitMix64,
    next_port: &mut u16,
) -> Named {
    let mut sources: Vec<EniId> = user_enis(net)
        .into_iter()
        .chain(enis_of(net, EniOwner::Shared))
        .collect();
    let mut chosen = Vec::new();
    while chosen.len() < 4 && !sources.is_empty() {
        chosen.push(sources.swap_remove(rng.index(sources.len())));
    }
    let asked = names_to_ask(net, rng, 3);
    let mut questions = Vec::new();
    let mut wants = Vec::new();
    for &src in &chosen {
        let vpc = net.enis[src.index()].vpc;
        let base = net.vpcs[vpc.index()].cidrs[0].network();
        let resolver = if rng.chance(50) {
            Ipv4Addr::from(u32::from(base) + 2)
        } else {
            Ipv4Addr::new(169, 254, 169, 253)
        };
        for name in &asked {
            questions.push(Question {
                ns: source_ns(net, names, src),
                resolver,
                name: name.clone(),
            });
            wants.push((src, by_name::expected(net, vpc, name)));
        }
    }
    let said = by_name::ask(&questions, Duration::from_millis(1000));
    let mut named = Named {
        flows: Vec::new(),
        mismatches: Vec::new(),
        outcomes: BTreeMap::new(),
    };
    for ((q, (src, want)), got) in questions.into_iter().zip(wants).zip(said) {
        if want != got {
            named.mismatches.push((q, want, got));
            continue;
        }
        let kind = match &got {
            Said::Addresses(a) if a.is_empty() => "no address",
            Said::Addresses(_) => "address",
            Said::NoSuchName => "no such name",
            Said::Forwarded => "forwarded",
            Said::Other(_) => "other",
            Said::Silence => "silence",
        };
        *named.outcomes.entry(kind).or_default() += 1;
        let Said::Addresses(addresses) = got else {
            continue;
        };
        let Some(&ip) = addresses.first() else {
            continue;
        };
        let Some(dst) = user_enis(net)
            .into_iter()
            .find(|e| net.enis[e.index()].private_ip == ip)
        else {
            continue;
        };
        if dst == src {
            continue;
        }
        *next_port = if *next_port >= 60990 {
            33001
        } else {
            *next_port + 1
        };
        let flow_to = |port: u16| Flow {
            src: Endpoint::Eni(src),
            dst: Endpoint::Eni(dst),
            protocol: 6,
            port,
            src_port: Some(*next_port),
            icmp: (8, 0),
        };
        let open: Vec<u16> = RANDOM_PORTS
            .iter()
            .copied()
            .filter(|p| {
                let f = flow_to(*p);
                an.reachable(&f) || same_address(net, &f).any(|g| an.reachable(&g))
            })
            .collect();
        let port = if !open.is_empty() && rng.chance(50) {
            open[rng.index(open.len())]
        } else {
            RANDOM_PORTS[rng.index(RANDOM_PORTS.len())]
        };
        named.flows.push((
            flow_to(port),
            Probe {
                ns: q.ns,
                src: None,
                src_port: *next_port,
                dst: ip,
                kind: ProbeKind::Tcp(port),
            },
        ));
    }
    named
}
