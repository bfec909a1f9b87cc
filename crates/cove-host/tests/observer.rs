//! The persistent [`cove_host::Observer`] against the kernel: after every kind of
//! drift made behind cove's back (a deleted or replaced namespace, a flushed or
//! edited ruleset, a removed route, link, address or set element, a foreign
//! table, forwarding turned off, a notification overrun) its next observation
//! equals a fresh one-shot [`cove_host::Host::observe`] and shows the drift;
//! with nothing changed it reads nothing again. Needs root; prefixes `cvob…`.

mod common;

use cove_host::{Host, ObserveReport, Observer};
use cove_model::validate::validate;
use cove_plan::{HostState, desired, diff};
use cove_testgen::{LargeParams, large_network};

use common::{Guard, NsWitness, chain, privileged, run};

/// A small generated network (3 VPCs x 1 ENI: a router with cove's table and
/// its sets, three ENI namespaces) applied under `cvob<pid><tag>`.
struct Net {
    g: Guard,
    want: HostState,
}

impl Net {
    fn new(tag: char) -> Net {
        let prefix = format!("cvob{}{tag}", std::process::id() % 100_000);
        let host = Host::new(&prefix).expect("prefix");
        let _ = host.destroy();
        let g = Guard(host);
        let params = LargeParams {
            vpcs: 3,
            enis_per_vpc: 1,
            ..LargeParams::BENCH
        };
        let net = validate(&large_network(params, 7))
            .network
            .expect("valid network");
        let want = desired(&net, &prefix).expect("layout");
        let plan = diff(&once(&g.0), &want);
        g.0.apply(&plan)
            .unwrap_or_else(|e| panic!("apply: {}", chain(&e)));
        Net { g, want }
    }

    fn host(&self) -> &Host {
        &self.g.0
    }

    fn router(&self) -> String {
        format!("{}-router", self.host().prefix())
    }

    /// An ENI namespace (one with a default route and no table).
    fn eni(&self) -> String {
        self.want
            .namespaces
            .iter()
            .find(|(_, s)| s.nft.is_none() && !s.routes.is_empty())
            .map(|(n, _)| n.clone())
            .expect("an ENI namespace")
    }

    /// Runs `args` (a command) in `ns`; it must succeed.
    fn sh(&self, ns: &str, args: &[&str]) {
        let out = run(self.host(), ns, args);
        assert!(out.status.success(), "{args:?} in {ns}: {out:?}");
    }
}

fn once(host: &Host) -> HostState {
    host.observe()
        .unwrap_or_else(|e| panic!("observe: {}", chain(&e)))
}

fn watch(o: &mut Observer) -> HostState {
    o.observe()
        .unwrap_or_else(|e| panic!("observer: {}", chain(&e)))
}

/// An observer that has seen the applied network, and its first reading.
fn settled(net: &Net) -> (Observer, HostState) {
    let mut o = net.host().observer();
    let first = watch(&mut o);
    assert!(diff(&first, &net.want).is_empty(), "not applied");
    assert_eq!(first, once(net.host()));
    (o, first)
}

/// Makes a drift with `make`, then checks that the observer's next reading equals
/// a one-shot reading, differs from `before`, and that applying the difference
/// repairs it (seen by the observer too).
fn drift_is_seen(tag: char, make: impl FnOnce(&Net)) -> Option<ObserveReport> {
    if !privileged("observer drift") {
        return None;
    }
    let net = Net::new(tag);
    let (mut o, before) = settled(&net);
    make(&net);
    let after = watch(&mut o);
    let report = o.last_report();
    assert_eq!(after, once(net.host()), "observer and one-shot differ");
    assert_ne!(after, before, "the drift was not seen");
    let repair = diff(&after, &net.want);
    assert!(!repair.is_empty());
    net.host()
        .apply(&repair)
        .unwrap_or_else(|e| panic!("repair: {}", chain(&e)));
    let repaired = watch(&mut o);
    assert!(
        diff(&repaired, &net.want).is_empty(),
        "{:?}",
        diff(&repaired, &net.want)
    );
    assert_eq!(repaired, once(net.host()));
    Some(report)
}

#[test]
fn with_nothing_changed_nothing_is_read_again() {
    if !privileged("observer no-op") {
        return;
    }
    let net = Net::new('n');
    let (mut o, first) = settled(&net);
    for _ in 0..3 {
        assert_eq!(watch(&mut o), first);
        let r = o.last_report();
        assert_eq!((r.opened, r.reread, r.dropped), (0, 0, 0), "{r:?}");
        assert_eq!(r.namespaces, net.want.namespaces.len());
    }
}

#[test]
fn a_removed_route_is_seen() {
    drift_is_seen('r', |n| n.sh(&n.eni(), &["ip", "route", "del", "default"]));
}

#[test]
fn a_removed_address_is_seen() {
    drift_is_seen('a', |n| {
        let eni = n.eni();
        let a = n.want.namespaces[&eni]
            .addresses
            .iter()
            .next()
            .expect("an address");
        n.sh(
            &eni,
            &[
                "ip",
                "addr",
                "del",
                &a.addr.to_string(),
                "dev",
                a.dev.as_str(),
            ],
        );
    });
}

#[test]
fn a_removed_link_is_seen() {
    drift_is_seen('l', |n| n.sh(&n.eni(), &["ip", "link", "del", "eth0"]));
}

#[test]
fn a_flushed_ruleset_is_seen() {
    drift_is_seen('f', |n| n.sh(&n.router(), &["nft", "flush", "ruleset"]));
}

#[test]
fn an_edited_ruleset_is_seen() {
    drift_is_seen('e', |n| {
        n.sh(
            &n.router(),
            &[
                "nft",
                "insert",
                "rule",
                "inet",
                "cove",
                "filter_forward",
                "accept",
            ],
        );
    });
}

#[test]
fn a_removed_set_element_is_seen_and_only_its_set_is_read() {
    let report = drift_is_seen('s', |n| {
        let r = n.router();
        let t = n.want.namespaces[&r].nft.as_ref().expect("cove's table");
        let link = t.elements["src_links"].iter().next().expect("an element");
        n.sh(
            &r,
            &[
                "nft",
                "delete",
                "element",
                "inet",
                "cove",
                "src_links",
                &format!("{{ {link} }}"),
            ],
        );
    });
    if let Some(r) = report {
        assert_eq!((r.reread, r.set_reads, r.rulesets_read), (1, 1, 0), "{r:?}");
    }
}

#[test]
fn a_foreign_table_is_seen() {
    drift_is_seen('t', |n| {
        n.sh(&n.eni(), &["nft", "add", "table", "ip", "intruder"])
    });
}

#[test]
fn forwarding_turned_off_is_seen() {
    drift_is_seen('w', |n| {
        n.sh(&n.router(), &["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    });
}

#[test]
fn a_replaced_namespace_is_read_whole() {
    drift_is_seen('p', |n| {
        let eni = n.eni();
        for args in [["ip", "netns", "del", &eni], ["ip", "netns", "add", &eni]] {
            let out = std::process::Command::new("timeout")
                .arg("5")
                .args(args)
                .output()
                .expect("run ip");
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
    });
}

/// A namespace deleted by hand is observed missing, and the observer closes its
/// sockets at once, so that nothing of this process keeps the namespace (and the
/// router's end of its veth pair) alive: no socket opened in it and no thread in
/// it. (When the kernel then frees it is the kernel's affair: its cleanup queue
/// took over 120 s once with the rest of the suite deleting namespaces, so the
/// test asks this process, not the kernel.)
#[test]
fn a_deleted_namespace_is_seen_and_released() {
    if !privileged("observer deleted namespace") {
        return;
    }
    let net = Net::new('d');
    let (mut o, _) = settled(&net);
    let eni = net.eni();
    let witness = NsWitness::enter(&eni);
    assert!(
        !witness.holders().is_empty(),
        "the observer holds no socket in {eni}: the check below would prove nothing"
    );
    let out = std::process::Command::new("timeout")
        .args(["5", "ip", "netns", "del", &eni])
        .output()
        .expect("run ip");
    assert!(out.status.success(), "{out:?}");
    let after = watch(&mut o);
    let report = o.last_report();
    assert!(!after.namespaces.contains_key(&eni));
    assert_eq!(report.dropped, 1);
    let held = witness.holders();
    drop(witness);
    assert!(
        held.is_empty(),
        "{eni} is deleted but still held by {held:?}"
    );
    let seen = watch(&mut o);
    assert_eq!(seen, once(net.host()));
    let repair = diff(&seen, &net.want);
    net.host()
        .apply(&repair)
        .unwrap_or_else(|e| panic!("repair: {}", chain(&e)));
    assert!(diff(&watch(&mut o), &net.want).is_empty());
}

/// More notifications than a socket's queue holds (`ENOBUFS`): the namespace is
/// read whole.
#[test]
fn lost_notifications_mean_a_whole_reading() {
    drift_is_seen('o', |n| {
        let eni = n.eni();
        let batch: String = (0..4000)
            .map(|i| format!("route add blackhole 10.200.{}.{}/32\n", i / 250, i % 250))
            .collect();
        let path = std::env::temp_dir().join(format!("{eni}.batch"));
        std::fs::write(&path, batch).expect("write batch");
        let p = path.to_string_lossy().into_owned();
        n.sh(&eni, &["ip", "-batch", &p]);
        let _ = std::fs::remove_file(&path);
    });
}

/// A namespace the host deletes (a plan's `DeleteNamespace`) is released by
/// every observer first: once the plan is applied, no socket or thread of this
/// process is in it, and it is gone from the observation.
#[test]
fn a_namespace_cove_deletes_is_released_by_its_observers() {
    if !privileged("observer and delete") {
        return;
    }
    let net = Net::new('x');
    let (_o, _) = settled(&net);
    let eni = net.eni();
    let witness = NsWitness::enter(&eni);
    assert!(
        !witness.holders().is_empty(),
        "the observer holds no socket in {eni}: the check below would prove nothing"
    );
    let plan = cove_plan::Plan {
        ops: vec![cove_plan::Op::DeleteNamespace { ns: eni.clone() }],
    };
    net.host()
        .apply(&plan)
        .unwrap_or_else(|e| panic!("apply: {}", chain(&e)));
    let held = witness.holders();
    drop(witness);
    assert!(
        held.is_empty(),
        "{eni} is deleted but still held by {held:?}"
    );
    assert!(!once(net.host()).namespaces.contains_key(&eni));
}

/// More element notifications than the socket's queue holds: the change whose
/// notification was lost (another set's) is seen, as the whole ruleset is read.
#[test]
fn lost_element_notifications_mean_a_whole_ruleset_reading() {
    let report = drift_is_seen('q', |n| {
        let r = n.router();
        let t = n.want.namespaces[&r].nft.as_ref().expect("cove's table");
        let names: Vec<String> = (0..6000).map(|i| format!("\"zz{i}\"")).collect();
        let text = format!(
            "add element inet cove src_links {{ {} }}\n",
            names.join(", ")
        );
        let path = std::env::temp_dir().join(format!("{r}.nft"));
        std::fs::write(&path, text).expect("write");
        let p = path.to_string_lossy().into_owned();
        n.sh(&r, &["nft", "-f", &p]);
        let _ = std::fs::remove_file(&path);
        // Its notification is dropped: the queue is full.
        let (set, elems) = t
            .elements
            .iter()
            .find(|(s, _)| s.as_str() != "src_links")
            .expect("another set");
        let e = elems.iter().next().expect("an element");
        n.sh(
            &r,
            &[
                "nft",
                "delete",
                "element",
                "inet",
                "cove",
                set,
                &format!("{{ {e} }}"),
            ],
        );
    });
    if let Some(r) = report {
        assert_eq!(r.rulesets_read, 1, "{r:?}");
    }
}

/// The sets declared in a table's text: name, type and whether it has intervals.
fn declared_sets(text: &str) -> Vec<(String, String, bool)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("set ")?;
            let (name, body) = rest.split_once(" { type ")?;
            let (ty, flags) = body.split_once(';')?;
            Some((
                name.to_owned(),
                ty.trim().to_owned(),
                flags.contains("interval"),
            ))
        })
        .collect()
}

/// An empty set of cove's table (in the desired state) whose type is one of
/// `types`, with or without intervals as `interval` says.
fn empty_set(n: &Net, types: &[&str], interval: bool) -> (String, String) {
    let r = n.router();
    let t = n.want.namespaces[&r].nft.as_ref().expect("cove's table");
    declared_sets(&t.text)
        .into_iter()
        .find(|(name, ty, iv)| {
            *iv == interval && types.contains(&ty.as_str()) && !t.elements.contains_key(name)
        })
        .map(|(name, ty, _)| (name, ty))
        .unwrap_or_else(|| panic!("no empty set of type {types:?} (interval {interval})"))
}

/// An element added to a set that was empty (most of cove's sets are: their
/// elements are not read when the kernel counts none) is seen.
#[test]
fn an_element_in_a_set_that_was_empty_is_seen() {
    drift_is_seen('m', |n| {
        let (set, ty) = empty_set(n, &["ifname", "mark . ipv4_addr"], false);
        let element = if ty == "ifname" {
            "{ \"zz0\" }"
        } else {
            "{ 7 . 10.0.99.99 }"
        };
        let r = n.router();
        n.sh(
            &r,
            &["nft", "add", "element", "inet", "cove", &set, element],
        );
    });
}

/// A security group's "everything" rule: an empty concatenated interval set
/// (`mark . ipv4_addr`) that now holds a combination's `0.0.0.0/0` is seen.
#[test]
fn an_interval_set_holding_everything_is_seen() {
    drift_is_seen('i', |n| {
        let (set, _) = empty_set(n, &["mark . ipv4_addr"], true);
        let r = n.router();
        n.sh(
            &r,
            &[
                "nft",
                "add",
                "element",
                "inet",
                "cove",
                &set,
                "{ 7 . 0.0.0.0/0 }",
            ],
        );
    });
}
