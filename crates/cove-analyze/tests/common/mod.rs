//! Helpers shared by the AWS scenario tests: build a network from YAML, ask flows by
//! name, and assert where (and why) a flow is blocked.
//!
//! Every verdict is computed by both the indexed [`Analyzer`] and the
//! [`NaiveAnalyzer`], and the two must agree, so each scenario also cross-checks the
//! indexes.

#![allow(dead_code)]

mod kernel;

use cove_analyze::{
    Analyzer, Blocked, Direction, Endpoint, Flow, NaiveAnalyzer, Outcome, Step, Verdict,
};
use cove_model::Network;
use cove_model::validate::validate_text;

/// IP protocol numbers.
pub const TCP: u8 = 6;
/// UDP.
pub const UDP: u8 = 17;
/// ICMP.
pub const ICMP: u8 = 1;

/// A validated network and the questions asked of it.
pub struct Scenario {
    /// The network built from the spec.
    pub net: Network,
    /// The same network in the kernel (when the tests run as root).
    kernel: kernel::Replay,
}

impl Scenario {
    /// Validates `yaml`; panics with every error when it does not validate.
    pub fn new(yaml: &str) -> Self {
        let v = validate_text(yaml);
        let errors: Vec<String> = v.errors().map(|d| format!("{d:?}")).collect();
        assert!(
            errors.is_empty(),
            "spec does not validate:\n{}",
            errors.join("\n")
        );
        Scenario {
            net: v.network.expect("a spec without errors yields a network"),
            kernel: kernel::Replay::default(),
        }
    }

    /// Resolves an endpoint (`vpc/eni`, an address, or `internet`).
    pub fn endpoint(&self, text: &str) -> Endpoint {
        Analyzer::new(&self.net)
            .resolve(text)
            .unwrap_or_else(|e| panic!("cannot resolve `{text}`: {e}"))
    }

    /// A flow between two named endpoints (resolved as `cove check` resolves them:
    /// from the internet, an address is itself, never an ENI's private address).
    pub fn flow(&self, src: &str, dst: &str, protocol: u8, port: u16) -> Flow {
        let an = Analyzer::new(&self.net);
        let src = an
            .resolve_source(src)
            .unwrap_or_else(|e| panic!("cannot resolve `{src}`: {e}"));
        let dst = an
            .resolve_destination(src, dst)
            .unwrap_or_else(|e| panic!("cannot resolve `{dst}`: {e}"));
        Flow {
            src,
            dst,
            protocol,
            port,
            src_port: None,
            icmp: (0, 0),
        }
    }

    /// Checks a flow with both analyzers; they must agree, and `reachable()` must
    /// agree with `check()`. As root, the flow is also sent through the kernel (see
    /// [`kernel`]).
    pub fn check(&self, flow: &Flow) -> Verdict {
        self.kernel.compare(&self.net, flow);
        let an = Analyzer::new(&self.net);
        let v = an.check(flow);
        let naive = NaiveAnalyzer::new(&self.net).check(flow);
        assert_eq!(v, naive, "indexed and naive analyzers disagree on {flow:?}");
        assert_eq!(
            an.reachable(flow),
            v.reachable,
            "reachable() disagrees with check()"
        );
        v
    }

    /// A TCP connection to `port`, from the Linux ephemeral range.
    pub fn tcp(&self, src: &str, dst: &str, port: u16) -> Verdict {
        self.check(&self.flow(src, dst, TCP, port))
    }

    /// A TCP connection to `port` from one fixed source port.
    pub fn tcp_from(&self, src: &str, dst: &str, port: u16, src_port: u16) -> Verdict {
        let mut f = self.flow(src, dst, TCP, port);
        f.src_port = Some(src_port);
        self.check(&f)
    }

    /// A UDP datagram to `port`.
    pub fn udp(&self, src: &str, dst: &str, port: u16) -> Verdict {
        self.check(&self.flow(src, dst, UDP, port))
    }

    /// An ICMP message of `type`/`code`.
    pub fn icmp(&self, src: &str, dst: &str, icmp_type: u8, code: u8) -> Verdict {
        let mut f = self.flow(src, dst, ICMP, 0);
        f.icmp = (icmp_type, code);
        self.check(&f)
    }
}

/// Asserts the flow works end to end.
#[track_caller]
pub fn assert_reachable(v: &Verdict) {
    assert!(
        v.reachable && v.blocked.is_none(),
        "expected REACHABLE, got blocked at {:?}",
        v.blocked
    );
}

/// Asserts the flow is blocked at `step` (its JSON name) in `direction`, by a
/// component whose label contains every string of `component`, for a reason that
/// contains every string of `reason`.
#[track_caller]
pub fn assert_blocked<'v>(
    v: &'v Verdict,
    step: &str,
    direction: Direction,
    component: &[&str],
    reason: &[&str],
) -> &'v Blocked {
    assert!(!v.reachable, "expected BLOCKED, got REACHABLE: {v:#?}");
    let b = v.blocked.as_ref().expect("a blocked verdict names where");
    assert_eq!(b.step.as_str(), step, "wrong step: {b:#?}");
    assert_eq!(b.direction, direction, "wrong direction: {b:#?}");
    for c in component {
        assert!(b.component.contains(c), "component lacks `{c}`: {b:#?}");
    }
    for r in reason {
        assert!(b.reason.contains(r), "reason lacks `{r}`: {b:#?}");
    }
    b
}

/// The allowing hop of `step` in `direction`, which must exist.
#[track_caller]
pub fn allowed_hop(v: &Verdict, step: Step, direction: Direction) -> &cove_analyze::Hop {
    let hops = match direction {
        Direction::Forward => &v.forward,
        Direction::Return => &v.ret,
    };
    hops.iter()
        .find(|h| h.step == step && h.outcome == Outcome::Allow)
        .unwrap_or_else(|| panic!("no allowed {} hop in {hops:#?}", step.as_str()))
}

/// Whether any hop (either way) has `step`.
pub fn has_step(v: &Verdict, step: Step) -> bool {
    v.forward.iter().chain(&v.ret).any(|h| h.step == step)
}
