//! `cove serve` keeps the kernel in line with the store without any command: each
//! kind of drift (a deleted namespace, a flushed or edited ruleset, a removed route
//! or link) is repaired; a flushed ruleset lets no flow through while it is
//! missing, the router's as a NAT gateway's (nothing leaves untranslated; real
//! traffic); of two `cove serve` processes on one store one
//! reconciles, and when it is killed the other takes over; `kill -9` of `cove
//! serve` in the middle of a large change, then a restart, converges and leaks
//! nothing. Every test runs on SQLite and on PostgreSQL (`COVE_TEST_POSTGRES_URL`).
//!
//! Times are measured and printed (`--nocapture`), never asserted: the bounds below
//! are hang guards only. Privileged: runs as root (CI runs as root and must not
//! skip: `CI=true`).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, run_batch};

mod common;

use common::{Deployment, example, example_network};

/// The hang guard of every wait.
const GUARD: Duration = Duration::from_secs(10);

static NEXT_PORT: AtomicU16 = AtomicU16::new(41001);

/// The store a test runs on: a fresh SQLite file or a fresh PostgreSQL database
/// (`cove-testdb`; with `CI=true` and no `COVE_TEST_POSTGRES_URL` a PostgreSQL test
/// fails, never skips), removed when dropped.
use cove_testdb::TestDb as Db;

/// A deployment (prefix `cvre…`) on a store, destroyed when dropped.
struct Setup {
    d: Deployment,
    db: Db,
    serves: Vec<Serve>,
}

/// A `cove serve` process; its standard output and error go to a file.
struct Serve {
    child: Child,
    log: PathBuf,
}

impl Serve {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.serves.clear();
        let mut c = self.cove();
        let _ = c.arg("destroy").output();
    }
}

impl Setup {
    fn new(tag: &str, db: Db) -> Setup {
        Setup::prefixed(&format!("cvre{tag}"), db)
    }

    /// A deployment whose prefix starts with `prefix` (then the process id).
    fn prefixed(prefix: &str, db: Db) -> Setup {
        let s = Setup {
            d: Deployment::new(prefix),
            db,
            serves: Vec::new(),
        };
        s.run(&["apply", "-f", example().to_str().expect("utf-8")]);
        s
    }

    fn cove(&self) -> Process {
        let mut c = Process::new(assert_cmd::cargo::cargo_bin("cove"));
        c.env("COVE_PREFIX", &self.d.prefix)
            .env("COVE_STATE_DIR", self.d.state.path())
            .env("COVE_DATABASE", &self.db.url);
        c
    }

    fn run(&self, args: &[&str]) {
        let out = self.cove().args(args).output().expect("cove");
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts a `cove serve` (lease `ttl` seconds) and waits until it serves.
    fn serve(&mut self, ttl: &str) -> usize {
        let n = self.serves.len();
        let log = self.d.state.path().join(format!("serve-{n}.log"));
        let file = std::fs::File::create(&log).expect("log");
        let child = self
            .cove()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--api-listen",
                "127.0.0.1:0",
                "--lease-ttl",
                ttl,
            ])
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("cove serve");
        self.serves.push(Serve { child, log });
        wait("cove serve to start", || {
            self.serves[n].log().contains("function(s) of prefix")
        });
        n
    }

    /// `cove status -f spec` finds no drift.
    fn in_sync(&self, spec: &Path) -> bool {
        self.cove()
            .args(["status", "-f"])
            .arg(spec)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("status")
            .success()
    }

    /// Waits until the kernel matches `spec` again; returns how long it took.
    fn converged(&self, spec: &Path, what: &str) -> Duration {
        let started = Instant::now();
        wait(what, || self.in_sync(spec));
        started.elapsed()
    }

    fn router(&self) -> String {
        format!("{}-router", self.d.prefix)
    }

    fn in_ns(&self, ns: &str, args: &[&str]) {
        let out = Process::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{args:?} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// An ENI namespace of the deployment.
    fn eni_ns(&self, eni: &str) -> String {
        let net = example_network();
        Names::new(&net, &self.d.prefix).eni_ns(net.find_eni(eni).expect("eni"))
    }
}

/// Polls `done` every 50 ms; panics after [`GUARD`] (a hang guard, not a timing
/// threshold).
fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < GUARD, "{what}: not within {GUARD:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn privileged() -> bool {
    cove_probe::privileged("reconciler")
}

/// A way to make the kernel drift.
type Drift<'a> = Box<dyn Fn(&Setup) + 'a>;

/// Each kind of drift, made while `cove serve` runs, is repaired with no command.
fn drift_is_repaired(db: Db, tag: &str) {
    let mut s = Setup::new(tag, db);
    s.serve("5");
    let spec = example();
    wait("the reconciler to lead", || {
        s.serves[0].log().contains("leader, in sync")
    });
    let router = s.router();
    let fn_a = s.eni_ns("functions/fn-a");
    let db_1 = s.eni_ns("prod/db-1");
    let link = {
        let out = Process::new("ip")
            .args(["netns", "exec", &router, "ip", "-o", "link", "show"])
            .output()
            .expect("links");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .find(|n| n != "lo")
            .expect("a link in the router")
    };
    let mut times = Vec::new();
    let drifts: Vec<(&str, Drift)> = vec![
        (
            "deleted ENI namespace",
            Box::new(|s: &Setup| {
                let out = Process::new("ip")
                    .args(["netns", "del", &db_1])
                    .output()
                    .expect("ip netns del");
                assert!(out.status.success());
                assert!(!s.in_sync(&example()));
            }),
        ),
        (
            "flushed ruleset",
            Box::new(|s: &Setup| s.in_ns(&s.router(), &["nft", "flush", "ruleset"])),
        ),
        (
            "edited ruleset (accept inserted)",
            Box::new(|s: &Setup| {
                s.in_ns(
                    &s.router(),
                    &[
                        "nft",
                        "insert",
                        "rule",
                        "inet",
                        "cove",
                        "filter_forward",
                        "accept",
                    ],
                )
            }),
        ),
        (
            "removed route",
            Box::new(|s: &Setup| s.in_ns(&fn_a, &["ip", "route", "del", "default"])),
        ),
        (
            "removed link",
            Box::new(|s: &Setup| s.in_ns(&s.router(), &["ip", "link", "del", &link])),
        ),
    ];
    for (what, make) in &drifts {
        make(&s);
        let took = s.converged(&spec, what);
        eprintln!("reconciler[{tag}]: {what} repaired in {took:?}");
        times.push((what.to_string(), took));
    }
    wait("cove serve to report a repair", || {
        s.serves[0].log().contains("(drift repaired)")
    });
}

#[test]
fn drift_is_repaired_without_a_command_sqlite() {
    if privileged() {
        drift_is_repaired(Db::sqlite(), "ds");
    }
}

#[test]
fn drift_is_repaired_without_a_command_postgres() {
    if privileged() {
        drift_is_repaired(Db::postgres_blocking(), "dp");
    }
}

/// A flushed ruleset drops every flow until it is repaired: probed with real TCP
/// from fn-a to db-1 on 5432 (allowed) and 22 (blocked) while nothing repairs it,
/// then while `cove serve` repairs it; afterwards the kernel answers as the
/// analyzer again.
#[test]
fn a_flushed_ruleset_fails_closed_with_real_traffic() {
    if !privileged() {
        return;
    }
    let mut s = Setup::new("fc", Db::sqlite());
    let net = example_network();
    let db_ip = net.enis[net.find_eni("prod/db-1").expect("db-1").index()].private_ip;
    let _responder = Responder::start(
        &s.eni_ns("prod/db-1"),
        Ipv4Addr::UNSPECIFIED,
        &[5432, 22],
        &[],
    )
    .expect("responder");
    let fn_a = s.eni_ns("functions/fn-a");
    let probe = |port: u16| {
        let p = Probe {
            ns: fn_a.clone(),
            src: None,
            src_port: NEXT_PORT.fetch_add(1, Ordering::Relaxed),
            dst: db_ip,
            kind: ProbeKind::Tcp(port),
        };
        run_batch(&[p], Duration::from_millis(500)).expect("probe")[0]
    };
    assert!(probe(5432), "the allowed flow passes before");
    assert!(!probe(22), "the blocked flow is blocked before");
    s.in_ns(&s.router(), &["nft", "flush", "ruleset"]);
    // Nothing repairs it yet: nothing passes, not even the allowed flow.
    for _ in 0..3 {
        assert!(!probe(22), "a blocked flow passed without a firewall");
        assert!(!probe(5432), "a flow passed without a firewall (fail open)");
    }
    s.serve("5");
    let started = Instant::now();
    let mut probes = 0;
    while !s.in_sync(&example()) {
        assert!(started.elapsed() < GUARD, "not repaired within {GUARD:?}");
        assert!(
            !probe(22),
            "a blocked flow passed while the ruleset was repaired"
        );
        probes += 1;
    }
    eprintln!(
        "flushed ruleset repaired by cove serve in {:?} ({probes} blocked probes meanwhile)",
        started.elapsed()
    );
    assert!(probe(5432), "the allowed flow passes again");
    assert!(!probe(22), "the blocked flow is still blocked");
}

/// A NAT gateway whose table is flushed or missing drops what it would forward:
/// nothing reaches the internet untranslated (from a private address) while
/// nothing repairs it, nor while `cove serve` repairs it; every connection that
/// arrives comes from the NAT gateway's static IP. Real TCP from fn-a (private
/// subnet a, default route to nat-a) to the outside namespace. Two drifts: the
/// NAT namespace's whole ruleset flushed, and only its translating chain flushed
/// (forwarding would go on, untranslated).
#[test]
fn a_flushed_nat_table_fails_closed_with_real_traffic() {
    if !privileged() {
        return;
    }
    let mut s = Setup::prefixed("cvhdnf", Db::sqlite());
    let net = example_network();
    let names = Names::new(&net, &s.d.prefix);
    let nat = net
        .nat_gateways
        .iter()
        .find(|n| n.name == "nat-a")
        .expect("nat-a");
    let static_ip = std::net::IpAddr::V4(nat.public_ips[0]);
    let nat_ns = names.eni_ns(nat.eni);
    let internet = net.internet_stand_in();
    let port = 9443;
    let outside = common::internet::Internet::listen(&names.outside_ns(), internet, port);
    let fn_a = s.eni_ns("functions/fn-a");
    let probe = || {
        let p = Probe {
            ns: fn_a.clone(),
            src: None,
            src_port: NEXT_PORT.fetch_add(1, Ordering::Relaxed),
            dst: internet,
            kind: ProbeKind::Tcp(port),
        };
        run_batch(&[p], Duration::from_millis(500)).expect("probe")[0]
    };
    let untranslated = |outside: &common::internet::Internet| {
        outside
            .sources()
            .into_iter()
            .filter(|ip| *ip != static_ip)
            .collect::<Vec<_>>()
    };
    // A passed probe's connection is accepted by the listener's thread soon after.
    let seen = |outside: &common::internet::Internet, n: usize| {
        wait("the connection to be accepted", || {
            outside.sources().len() >= n
        })
    };
    assert!(probe(), "fn-a reaches the internet through nat-a before");
    seen(&outside, 1);
    assert_eq!(outside.sources(), vec![static_ip], "from nat-a's static IP");
    let drifts: [(&str, &[&str]); 2] = [
        ("flushed ruleset", &["nft", "flush", "ruleset"]),
        (
            "flushed translate chain",
            &["nft", "flush", "chain", "inet", "cove", "translate"],
        ),
    ];
    for (what, command) in drifts {
        s.in_ns(&nat_ns, command);
        assert!(!s.in_sync(&example()), "{what}: not seen as drift");
        // Nothing repairs it yet: nothing passes, translated or not.
        let before = outside.sources().len();
        for _ in 0..3 {
            assert!(
                !probe(),
                "{what}: a flow passed the NAT gateway without its table"
            );
        }
        assert_eq!(
            outside.sources().len(),
            before,
            "{what}: a connection arrived"
        );
        assert_eq!(
            untranslated(&outside),
            Vec::<std::net::IpAddr>::new(),
            "{what}: untranslated"
        );
        s.serve("2");
        let started = Instant::now();
        let mut probes = 0;
        while !s.in_sync(&example()) {
            assert!(
                started.elapsed() < GUARD,
                "{what}: not repaired within {GUARD:?}"
            );
            probe();
            probes += 1;
            assert_eq!(
                untranslated(&outside),
                Vec::<std::net::IpAddr>::new(),
                "{what}: a connection left untranslated while it was repaired"
            );
        }
        eprintln!(
            "nat[{what}]: repaired by cove serve in {:?} ({probes} probes meanwhile)",
            started.elapsed()
        );
        let n = outside.sources().len();
        assert!(probe(), "{what}: fn-a reaches the internet again");
        // Accepted in order: every earlier connection is recorded by now too.
        seen(&outside, n + 1);
        assert_eq!(
            untranslated(&outside),
            Vec::<std::net::IpAddr>::new(),
            "{what}: untranslated"
        );
        assert_eq!(outside.sources().last(), Some(&static_ip));
        // Stop serving before the next drift, so nothing repairs it.
        s.serves.clear();
    }
}

/// Two `cove serve` on one store: one leads, the other only serves; `kill -9` of
/// the leader and the other takes over after the lease's TTL and repairs drift.
fn one_leader_then_takeover(db: Db, tag: &str) {
    let mut s = Setup::new(tag, db);
    let a = s.serve("2");
    let b = s.serve("2");
    let leads = |s: &Setup, i: usize| s.serves[i].log().contains("leader, in sync");
    wait("one leader", || leads(&s, a) || leads(&s, b));
    let (leader, other) = if leads(&s, a) { (a, b) } else { (b, a) };
    wait("the other to follow", || {
        s.serves[other].log().contains("reconciles; serving only")
    });
    assert!(!leads(&s, other), "two leaders");
    s.serves[leader].child.kill().expect("kill -9 the leader");
    let _ = s.serves[leader].child.wait();
    let killed = Instant::now();
    let ns = s.eni_ns("prod/db-1");
    let out = Process::new("ip")
        .args(["netns", "del", &ns])
        .output()
        .expect("ip netns del");
    assert!(out.status.success());
    s.converged(&example(), "the other serve to take over and repair");
    eprintln!(
        "reconciler[{tag}]: leader killed; drift repaired by the other after {:?} (lease TTL 2 s)",
        killed.elapsed()
    );
    // The kernel is in sync before the reconciler has recorded the applied
    // generation and printed its line: wait for the line.
    wait("the other's log to report the repair", || {
        s.serves[other].log().contains("(drift repaired)")
    });
}

#[test]
fn two_serves_one_leader_and_takeover_sqlite() {
    if privileged() {
        one_leader_then_takeover(Db::sqlite(), "ls");
    }
}

#[test]
fn two_serves_one_leader_and_takeover_postgres() {
    if privileged() {
        one_leader_then_takeover(Db::postgres_blocking(), "lp");
    }
}

/// `kill -9` of `cove serve` at spread-out points of a large change it is
/// applying (the change recorded through the library, as the API records one),
/// then a restart: the kernel converges, and nothing is left that is not desired.
fn killed_mid_reconcile(db: Db, tag: &str) {
    let mut s = Setup::new(tag, db);
    let big = s.d.state.path().join("big.yaml");
    let spec = cove_testgen::flat_vpc(30, 5, None);
    std::fs::write(&big, serde_saphyr::to_string(&spec).expect("yaml")).expect("write");
    let target = cove_deploy::Target::new(
        cove_deploy::Prefix::new(&s.d.prefix).expect("prefix"),
        s.d.state.path().to_owned(),
        Duration::from_secs(30),
    )
    .with_database(Some(s.db.url.clone()));
    let lib = cove_deploy::Deployment::open(target).expect("open");
    let mut delay_ms = u64::from(std::process::id() % 7) * 50;
    for (round, file) in [&big, &example(), &big].into_iter().enumerate() {
        let text = std::fs::read_to_string(file).expect("spec");
        {
            let lock = lib.lock("test").expect("lock");
            lib.set_spec(&lock, file, &text).expect("record the change");
        }
        let n = s.serve("2");
        std::thread::sleep(Duration::from_millis(delay_ms));
        s.serves[n].child.kill().expect("kill -9");
        let _ = s.serves[n].child.wait();
        eprintln!("reconciler[{tag}]: round {round}: killed after {delay_ms} ms");
        delay_ms = (delay_ms * 3 + 170) % 900;
        // Restarted: it takes the lease after the dead one's lapses, converges.
        s.serve("2");
        let took = s.converged(file, "convergence after kill -9");
        eprintln!("reconciler[{tag}]: round {round}: converged {took:?} after the restart");
        s.serves.clear();
        // Nothing leaked: the namespaces are exactly the desired ones, no cgroups.
        let layout = cove_plan::desired(&lib.network().expect("net").expect("some"), &s.d.prefix)
            .expect("layout");
        let mut want: Vec<String> = layout.namespaces.keys().cloned().collect();
        let mut have = s.d.namespaces();
        want.sort();
        have.sort();
        assert_eq!(have, want, "round {round}: namespaces");
        assert!(s.d.cgroups().is_empty(), "round {round}: stale cgroups");
    }
}

#[test]
fn kill_9_mid_reconcile_converges_and_leaks_nothing_sqlite() {
    if privileged() {
        killed_mid_reconcile(Db::sqlite(), "ks");
    }
}

#[test]
fn kill_9_mid_reconcile_converges_and_leaks_nothing_postgres() {
    if privileged() {
        killed_mid_reconcile(Db::postgres_blocking(), "kp");
    }
}

/// `cove serve` on an empty store: a change recorded in the store (as the API
/// records one; no command reconciles it) reaches the kernel.
fn a_recorded_change_reaches_the_kernel(db: Db, tag: &str) {
    let mut s = Setup {
        d: Deployment::new(&format!("cvre{tag}")),
        db,
        serves: Vec::new(),
    };
    s.serve("5");
    assert!(s.d.namespaces().is_empty());
    let target = cove_deploy::Target::new(
        cove_deploy::Prefix::new(&s.d.prefix).expect("prefix"),
        s.d.state.path().to_owned(),
        Duration::from_secs(30),
    )
    .with_database(Some(s.db.url.clone()));
    let lib = cove_deploy::Deployment::open(target).expect("open");
    let text = std::fs::read_to_string(example()).expect("example");
    // serve's first start wrote the admin token (a change): the spec comes after it.
    let recorded = {
        let lock = lib.lock("test").expect("lock");
        lib.set_spec(&lock, &example(), &text)
            .expect("record")
            .generation
    };
    let took = s.converged(&example(), "the recorded change to reach the kernel");
    eprintln!("reconciler[{tag}]: a recorded change reached the kernel in {took:?}");
    // The kernel has the change a moment before the tick reports it.
    let reported = format!("reconciled generation {recorded}:");
    wait("cove serve to report the change", || {
        s.serves[0].log().contains(&reported)
    });
}

#[test]
fn a_recorded_change_reaches_the_kernel_with_no_command_sqlite() {
    if privileged() {
        a_recorded_change_reaches_the_kernel(Db::sqlite(), "cs");
    }
}

#[test]
fn a_recorded_change_reaches_the_kernel_with_no_command_postgres() {
    if privileged() {
        a_recorded_change_reaches_the_kernel(Db::postgres_blocking(), "cp");
    }
}

/// `cove serve`'s control-plane API, as a tenant would use it.
struct Api {
    base: String,
    agent: ureq::Agent,
}

impl Api {
    fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let res = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("authorization", &auth)
                .call(),
            ("PUT", Some(b)) => self
                .agent
                .put(&url)
                .header("authorization", &auth)
                .send_json(b),
            (_, b) => self
                .agent
                .post(&url)
                .header("authorization", &auth)
                .send_json(b.unwrap_or_else(|| serde_json::json!({}))),
        };
        let mut res = res.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }
}

/// A network created through `cove serve`'s API (admin token from the file serve
/// wrote at its first start, a tenant and its token, the operator's IP pool)
/// reaches the kernel with no command: it becomes `ready` with a static IP pair from
/// the pool and new namespaces; deleting it through the API removes them again.
fn an_api_network_reaches_the_kernel(db: Db, tag: &str) {
    let mut s = Setup::new(tag, db);
    let before: std::collections::BTreeSet<String> = s.d.namespaces().into_iter().collect();
    s.serve("5");
    let log = s.serves[0].log();
    let base = log
        .lines()
        .find_map(|l| l.strip_prefix("cove serve: control-plane API on "))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no API address in the log: {log}"))
        .to_owned();
    let admin_file = s.d.state.path().join(&s.d.prefix).join("admin-token");
    let admin = std::fs::read_to_string(&admin_file).expect("admin token file");
    let admin = admin.trim();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&admin_file)
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the admin token file is the operator's alone"
    );
    let api = Api {
        base,
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
    };
    let (st, _) = api.call(
        "PUT",
        "/v1/ip-pool",
        admin,
        Some(serde_json::json!({ "blocks": ["198.51.100.0/29"] })),
    );
    assert_eq!(st, 200);
    let (st, tenant) = api.call(
        "POST",
        "/v1/tenants",
        admin,
        Some(serde_json::json!({ "name": "acme" })),
    );
    assert_eq!(st, 201, "{tenant}");
    let tid = tenant["id"].as_str().expect("tenant id");
    let (st, tok) = api.call(
        "POST",
        &format!("/v1/tenants/{tid}/tokens"),
        admin,
        Some(serde_json::json!({})),
    );
    assert_eq!(st, 201, "{tok}");
    let token = tok["secret"].as_str().expect("secret").to_owned();
    let started = Instant::now();
    let (st, net) = api.call(
        "POST",
        "/v1/connect/networks",
        &token,
        Some(serde_json::json!({ "name": "prod", "region": "us-east-1" })),
    );
    assert_eq!(st, 201, "{net}");
    let id = net["id"].as_str().expect("network id").to_owned();
    let ips = net["static_ips"].as_array().expect("static IPs").clone();
    assert_eq!(ips.len(), 2, "{net}");
    assert!(
        ips.iter()
            .all(|ip| ip.as_str().is_some_and(|ip| ip.starts_with("198.51.100."))),
        "{net}"
    );
    let ready = Instant::now();
    while api
        .call("GET", &format!("/v1/connect/networks/{id}"), &token, None)
        .1["status"]
        != "ready"
    {
        assert!(
            ready.elapsed() < GUARD,
            "the network is not ready within {GUARD:?}; cove serve's log:\n{}",
            s.serves[0].log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "reconciler[{tag}]: API network ready in {:?}",
        started.elapsed()
    );
    let during: std::collections::BTreeSet<String> = s.d.namespaces().into_iter().collect();
    assert!(
        during.is_superset(&before) && during.len() > before.len(),
        "{before:?} -> {during:?}"
    );
    let (st, gone) = api.call(
        "DELETE",
        &format!("/v1/connect/networks/{id}"),
        &token,
        None,
    );
    assert_eq!(
        (st, gone["status"].as_str()),
        (202, Some("deleting")),
        "{gone}"
    );
    wait("the network to be removed", || {
        api.call("GET", &format!("/v1/connect/networks/{id}"), &token, None)
            .0
            == 404
    });
    wait("its namespaces to be removed", || {
        s.d.namespaces()
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            == before
    });
}

#[test]
fn an_api_network_reaches_the_kernel_sqlite() {
    if privileged() {
        an_api_network_reaches_the_kernel(Db::sqlite(), "as");
    }
}

#[test]
fn an_api_network_reaches_the_kernel_postgres() {
    if privileged() {
        an_api_network_reaches_the_kernel(Db::postgres_blocking(), "ap");
    }
}
