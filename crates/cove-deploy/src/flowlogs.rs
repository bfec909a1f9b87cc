//! The flow-log collector and meter (issue 14): one thread per deployment while
//! a network is applied. Every second it reads the router's counted connections
//! ([`cove_host::FlowReader`]: the destroy events since the last reading, then
//! the table) and the packets its firewall refused since
//! ([`cove_host::RejectReader`], NFLOG), turns them into what each interface saw
//! ([`cove_flowlog`]: ACCEPT views of connections, REJECT views of refusals), adds
//! that to the flow logs' capture windows and writes the windows that ended
//! ([`crate::flowlog_files`]), and meters what each tenant and function sent
//! per path ([`cove_flowlog::Meter`]; the month's totals are kept in
//! `<state>/<prefix>/metering/<YYYY-MM>.json`, saved every ten seconds,
//! [`crate::metering`]).
//!
//! The reconciler hands it the desired network once per generation
//! ([`FlowLogPlan`]); a new plan first writes out every open window of the old
//! one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cove_flowlog::{Action, Aggregator, Deltas, Directory};
use cove_model::Network;

use crate::flowlog_files::FileSink;

/// Readings between two saves of the month's metering.
const SAVE_EVERY: u32 = 10;

/// What the collector works from: one generation's network.
#[derive(Debug)]
pub struct FlowLogPlan {
    /// The network (its flow logs, ENIs, functions).
    pub net: Arc<Network>,
    /// Its addresses by conntrack zone.
    pub directory: Directory,
    /// The router's namespace (where connections are tracked).
    pub router_ns: String,
    /// Where the files go (`<state>/<prefix>/flow-logs`).
    pub dir: PathBuf,
    /// Where the month's metering is kept (`<state>/<prefix>/metering`).
    pub metering: PathBuf,
    /// The NAT gateways, sampled for the metrics.
    pub nat_gateways: Vec<NatGatewayRef>,
    /// The codes the router's refusals carry (REJECT records).
    pub codes: cove_plan::reject::RejectCodes,
    /// The components' names, as `cove check` writes them.
    pub labels: cove_analyze::labels::Labels,
    /// Whether a flow log shows addresses across a NAT gateway (then the
    /// gateways' tables are read too).
    pub shows_nat: bool,
    /// Each function environment's namespace (its slot), by function and index.
    pub env_ns: std::collections::HashMap<(cove_model::FunctionId, u32), String>,
}

impl FlowLogPlan {
    /// The plan for `net` deployed under `prefix`, writing flow logs under `dir`
    /// and the metering under `metering`.
    pub fn new(net: Arc<Network>, prefix: &str, dir: PathBuf, metering: PathBuf) -> FlowLogPlan {
        let names = cove_plan::names::Names::new(&net, prefix);
        let nat_gateways = net
            .nat_gateways
            .iter()
            .map(|n| NatGatewayRef {
                vpc: n.vpc,
                label: format!("{}/{}", net.vpc_path(n.vpc), n.name),
                ns: names.eni_ns(n.eni),
            })
            .collect();
        let env_ns = cove_plan::environments::environments(&net, &names)
            .map(|envs| {
                envs.into_iter()
                    .map(|e| ((e.function, e.index), e.ns))
                    .collect()
            })
            .unwrap_or_default();
        FlowLogPlan {
            env_ns,
            directory: Directory::new(&net, prefix),
            codes: cove_plan::reject::RejectCodes::new(&net),
            labels: cove_analyze::labels::Labels::new(&net),
            shows_nat: net.flow_logs.iter().any(|l| {
                l.fields.iter().any(|f| {
                    use cove_model::flowlog::Field;
                    matches!(
                        f,
                        Field::CoveNatSrcAddr
                            | Field::CoveNatDstAddr
                            | Field::PktSrcAddr
                            | Field::PktDstAddr
                    )
                })
            }),
            router_ns: cove_plan::names::router_ns(prefix),
            net,
            dir,
            metering,
            nat_gateways,
        }
    }
}

/// A NAT gateway as the collector samples it.
#[derive(Debug, Clone)]
pub struct NatGatewayRef {
    /// Its VPC.
    pub vpc: cove_model::VpcId,
    /// `tenant/vpc/name`.
    pub label: String,
    /// Its namespace.
    pub ns: String,
}

/// The collector's counters (kept across restarts; the metrics read them).
#[derive(Debug, Default)]
pub struct FlowLogStats {
    /// Records written to files.
    pub written: AtomicU64,
    /// Records lost: a full window, a file that could not be written.
    pub dropped: AtomicU64,
    /// Destroy events the kernel could not deliver.
    pub lost_events: AtomicU64,
    /// Times refused packets were lost because NFLOG's socket was full.
    pub lost_rejects: AtomicU64,
    /// Refused packets read (REJECT records are made of them).
    pub refused: AtomicU64,
    /// Readings of the router's table.
    pub readings: AtomicU64,
    /// What each tenant and function sent, since this process started.
    pub meter: Mutex<cove_flowlog::Meter>,
    /// Each NAT gateway's last sample (connections per public IP, port
    /// allocation errors), every ten seconds.
    pub nat: Mutex<std::collections::BTreeMap<String, cove_host::NatSample>>,
}

struct Shared {
    plan: Mutex<Arc<FlowLogPlan>>,
    invocations: Arc<cove_scheduler::InvocationLog>,
    stop: AtomicBool,
    stats: Arc<FlowLogStats>,
    problem: Mutex<Option<String>>,
}

/// A running collector; dropping it writes out the open windows and stops it.
pub struct FlowCollector {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FlowCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowCollector").finish_non_exhaustive()
    }
}

impl FlowCollector {
    /// Starts collecting for `plan`, counting into `stats`, naming functions'
    /// invocations from `invocations`.
    pub fn start(
        plan: Arc<FlowLogPlan>,
        stats: Arc<FlowLogStats>,
        invocations: Arc<cove_scheduler::InvocationLog>,
    ) -> std::io::Result<FlowCollector> {
        let shared = Arc::new(Shared {
            plan: Mutex::new(plan),
            invocations,
            stop: AtomicBool::new(false),
            stats,
            problem: Mutex::new(None),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("cove-flowlogs".into())
            .spawn(move || run(&s))?;
        Ok(FlowCollector {
            shared,
            thread: Some(thread),
        })
    }

    /// Collects for `plan` from now on (the old plan's open windows are written
    /// first).
    pub fn set_plan(&self, plan: Arc<FlowLogPlan>) {
        *self.shared.plan.lock().unwrap_or_else(|e| e.into_inner()) = plan;
    }

    /// The plan collected for.
    pub fn plan(&self) -> Arc<FlowLogPlan> {
        Arc::clone(&self.shared.plan.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// What went wrong at the last reading, if it did.
    pub fn problem(&self) -> Option<String> {
        self.shared
            .problem
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for FlowCollector {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The collector's loop: a reading just after each second's start.
fn run(shared: &Shared) {
    let mut plan = Arc::clone(&shared.plan.lock().unwrap_or_else(|e| e.into_inner()));
    let mut reader: Option<cove_host::FlowReader> = None;
    let mut rejects: Option<cove_host::RejectReader> = None;
    let mut nat = NatReaders::new(&plan.net);
    let mut deltas = Deltas::default();
    let mut windows = Aggregator::default();
    let mut sink = FileSink::default();
    let mut dropped_before = 0;
    let mut month = crate::metering::Month::now();
    let mut billed = crate::metering::load(&plan.metering, &month);
    // What was metered since the month's totals were last saved.
    let mut unsaved = cove_flowlog::Meter::default();
    let mut since_saved = 0u32;
    loop {
        let now = unix_now();
        let wait = Duration::from_millis(1050)
            .saturating_sub(Duration::from_nanos(u64::from(now.subsec_nanos())));
        std::thread::sleep(wait.min(Duration::from_millis(1050)));
        let stopping = shared.stop.load(Ordering::Relaxed);
        let current = Arc::clone(&shared.plan.lock().unwrap_or_else(|e| e.into_inner()));
        if !Arc::ptr_eq(&current, &plan) || stopping {
            // Whatever the old plan's windows hold is written with its network.
            let records = windows.flush(&plan.net, u64::MAX, true);
            write(shared, &mut sink, &plan, &records);
            sink.close_all();
            windows.clear();
            dropped_before = 0;
            nat = NatReaders::new(&current.net);
            if current.router_ns != plan.router_ns {
                reader = None;
                rejects = None;
            }
            plan = current;
        }
        since_saved += 1;
        if stopping || since_saved >= SAVE_EVERY || crate::metering::Month::now() != month {
            since_saved = 0;
            save_meter(shared, &plan, &mut month, &mut billed, &mut unsaved);
            sample_nat_gateways(shared, &plan, &nat.table);
        }
        if stopping {
            return;
        }
        if reader.as_ref().is_some_and(|r| !r.current()) {
            // The router was replaced: its connections are new ones.
            reader = None;
            deltas = Deltas::default();
        }
        if rejects.as_ref().is_some_and(|r| !r.current()) {
            rejects = None;
        }
        // Refused packets that cannot be read (NFLOG not bound) leave the
        // accepted flows and the metering to go on; the next reading tries again.
        let mut rejects_problem = None;
        if rejects.is_none() {
            match cove_host::RejectReader::open(&plan.router_ns) {
                Ok(r) => rejects = Some(r),
                Err(e) => rejects_problem = Some(crate::error::chain_text(&e)),
            }
        }
        if reader.is_none() {
            match cove_host::FlowReader::open(&plan.router_ns) {
                Ok(r) => reader = Some(r),
                Err(e) => {
                    set_problem(shared, Some(crate::error::chain_text(&e)));
                    continue;
                }
            }
        }
        let Some(r) = reader.as_mut() else { continue };
        let reading = match r.read() {
            Ok(reading) => reading,
            Err(e) => {
                set_problem(shared, Some(crate::error::chain_text(&e)));
                reader = None;
                continue;
            }
        };
        set_problem(shared, rejects_problem);
        shared.stats.readings.fetch_add(1, Ordering::Relaxed);
        shared
            .stats
            .lost_events
            .fetch_add(reading.lost_events, Ordering::Relaxed);
        let now_s = unix_now().as_secs();
        if plan.shows_nat {
            nat.read(&plan, now_s);
        }
        {
            let mut meter = shared.stats.meter.lock().unwrap_or_else(|e| e.into_inner());
            // The analyzer explains new records of flow logs that show the rule:
            // built at the first such record of a reading, not every second.
            let analyzer = std::cell::OnceCell::new();
            let mut explain = |s: &cove_flowlog::Seen| {
                let an = analyzer.get_or_init(|| cove_analyze::Analyzer::new(&plan.net));
                cove_flowlog::explain::accepted_by(an, s)
            };
            for moved in deltas.read(reading.ended, reading.live) {
                for mut seen in plan.directory.seen(&moved) {
                    nat.table.annotate(&plan.net, &mut seen);
                    invocation_of(&plan, &shared.invocations, now_s, &mut seen);
                    meter.add(&plan.net, &seen);
                    unsaved.add(&plan.net, &seen);
                    windows.add(&plan.net, now_s, &seen, Action::Accept, &mut explain);
                }
            }
        }
        if let Some(r) = rejects.as_mut() {
            match r.read(now_s) {
                Ok(got) => {
                    let stats = &shared.stats;
                    stats.lost_rejects.fetch_add(got.lost, Ordering::Relaxed);
                    stats
                        .refused
                        .fetch_add(got.packets.len() as u64, Ordering::Relaxed);
                    add_refused(&plan, &mut windows, now_s, &got.packets);
                }
                Err(e) => {
                    set_problem(shared, Some(crate::error::chain_text(&e)));
                    rejects = None;
                }
            }
        }
        let dropped = windows.dropped();
        shared
            .stats
            .dropped
            .fetch_add(dropped - dropped_before, Ordering::Relaxed);
        dropped_before = dropped;
        let records = windows.flush(&plan.net, now_s, false);
        write(shared, &mut sink, &plan, &records);
    }
}

/// Names the invocation a function environment's connection belongs to: the
/// one its environment ran when the connection started.
fn invocation_of(
    plan: &FlowLogPlan,
    log: &cove_scheduler::InvocationLog,
    now_s: u64,
    seen: &mut cove_flowlog::Seen,
) {
    let (Some(f), Some(k)) = (seen.function, seen.environment) else {
        return;
    };
    if let Some(ns) = plan.env_ns.get(&(f, k)) {
        seen.invocation = log.at(ns, seen.started_ms.unwrap_or(now_s * 1000));
    }
}

/// How long a NAT gateway's translation is remembered after it was last seen.
const NAT_MEMORY_S: u64 = 300;

/// The NAT gateways' tables, read for the addresses across them.
struct NatReaders {
    readers: std::collections::HashMap<String, cove_host::TableReader>,
    table: cove_flowlog::NatTable,
}

impl NatReaders {
    fn new(net: &Network) -> NatReaders {
        NatReaders {
            readers: std::collections::HashMap::new(),
            table: cove_flowlog::NatTable::new(net),
        }
    }

    /// Learns every gateway's translations now (a gateway whose namespace
    /// cannot be read is skipped: not there yet, or gone).
    fn read(&mut self, plan: &FlowLogPlan, now_s: u64) {
        for g in &plan.nat_gateways {
            if self.readers.get(&g.ns).is_some_and(|r| !r.current()) {
                self.readers.remove(&g.ns);
            }
            if !self.readers.contains_key(&g.ns) {
                let Ok(r) = cove_host::TableReader::open(&g.ns) else {
                    continue;
                };
                self.readers.insert(g.ns.clone(), r);
            }
            match self.readers.get(&g.ns).map(cove_host::TableReader::read) {
                Some(Ok(flows)) => self.table.learn(g.vpc, &flows, now_s),
                _ => {
                    self.readers.remove(&g.ns);
                }
            }
        }
        self.table.forget_before(now_s.saturating_sub(NAT_MEMORY_S));
    }
}

/// Adds refused packets to the windows as REJECT records at the refusing
/// interface, with the refusing component as their rule.
fn add_refused(
    plan: &FlowLogPlan,
    windows: &mut Aggregator,
    now_s: u64,
    packets: &[cove_flowlog::Refused],
) {
    for p in packets {
        let Some((seen, rejection)) = plan.directory.refused(&plan.codes, p) else {
            continue;
        };
        let mut explain = |s: &cove_flowlog::Seen| {
            Some(cove_flowlog::reject::refused_by(
                &plan.net,
                &plan.labels,
                s,
                &rejection,
            ))
        };
        windows.add(&plan.net, now_s, &seen, Action::Reject, &mut explain);
    }
}

fn write(
    shared: &Shared,
    sink: &mut FileSink,
    plan: &FlowLogPlan,
    records: &[cove_flowlog::Record],
) {
    if records.is_empty() {
        return;
    }
    let (written, failed) = sink.write(&plan.dir, &plan.net, records);
    shared.stats.written.fetch_add(written, Ordering::Relaxed);
    shared.stats.dropped.fetch_add(failed, Ordering::Relaxed);
}

/// Writes the month's metering — its saved totals plus what was metered since
/// (`unsaved`) — and starts the next month from zero when it changed.
fn save_meter(
    shared: &Shared,
    plan: &FlowLogPlan,
    month: &mut crate::metering::Month,
    billed: &mut crate::metering::Totals,
    unsaved: &mut cove_flowlog::Meter,
) {
    let total = billed.plus(unsaved);
    if let Err(e) = crate::metering::save(&plan.metering, month, &total) {
        set_problem(shared, Some(format!("metering: {e}")));
        return;
    }
    *unsaved = cove_flowlog::Meter::default();
    let now = crate::metering::Month::now();
    if now == *month {
        *billed = total;
    } else {
        *month = now;
        *billed = crate::metering::load(&plan.metering, month);
    }
}

/// Samples every NAT gateway's namespace (one that cannot be read — not there
/// yet, or gone — is left out). The gateway translates to its private
/// addresses, which `table` maps to the public IPs they stand for.
fn sample_nat_gateways(shared: &Shared, plan: &FlowLogPlan, table: &cove_flowlog::NatTable) {
    let mut samples = std::collections::BTreeMap::new();
    for NatGatewayRef { vpc, label, ns } in &plan.nat_gateways {
        if let Ok(mut s) = cove_host::nat_sample(ns) {
            // Connections per public IP, where the private address has one.
            s.connections = s
                .connections
                .into_iter()
                .map(|(ip, n)| (table.public_ip(*vpc, ip).unwrap_or(ip), n))
                .collect();
            samples.insert(label.clone(), s);
        }
    }
    *shared.stats.nat.lock().unwrap_or_else(|e| e.into_inner()) = samples;
}

fn set_problem(shared: &Shared, problem: Option<String>) {
    *shared.problem.lock().unwrap_or_else(|e| e.into_inner()) = problem;
}
