//! The kernel fast path for repeated UDP queries (issue 12's "fast path for
//! private answers"): an eBPF program on the TC ingress (tcx) of each router
//! link that queries arrive on answers a query the resolver already answered on
//! that link in the current catalog, from a map the resolver fills as it
//! answers, without the router's firewall, routing, socket and a thread's wake-up
//! (see [`program`] for what it matches and why it cannot answer more than the
//! resolver would).
//!
//! * [`FastPath::put`]: the UDP thread keeps each answer it sends that fits
//!   (authoritative answers until the catalog changes, cached forwarded ones for
//!   as long as its memo replays them);
//! * [`FastPath::set_generation`]: a new catalog makes every older entry
//!   unreachable at once (the generation is part of the key);
//! * [`FastPath::attach`]: the program goes on a link when the first query
//!   arrives on it (from the thread in the router's namespace); links that go
//!   away are let go ([`FastPath::prune`]);
//! * [`FastPath::collect`]: its answers are added to the resolver's counters.
//!
//! Dropping it detaches the program from every link and frees the maps: a
//! resolver that stops leaves nothing in the kernel. Without the fast path
//! (a kernel without tcx, or `ResolverConfig::fast_path` off) the resolver
//! answers every query itself, as before.

pub(crate) mod asm;
pub(crate) mod elf;
pub(crate) mod program;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray};
use aya::programs::tc::{SchedClassifierLinkId, TcAttachOptions};
use aya::programs::{LinkOrder, SchedClassifier, TcAttachType};
use aya::{Ebpf, EbpfLoader};

use crate::Stats;
use crate::fastpath::elf::MapDef;
use crate::fastpath::program::{ANSWERS, COUNTERS, GENERATION, KEY_LEN, VALUE_LEN};

/// Answers the map keeps (the least recently used make room).
pub(crate) const ENTRIES: u32 = 16_384;

const MAP_TYPE_ARRAY: u32 = 2;
const MAP_TYPE_PERCPU_ARRAY: u32 = 6;
const MAP_TYPE_LRU_HASH: u32 = 9;

/// The program's maps.
pub(crate) const MAPS: [MapDef; 3] = [
    MapDef {
        name: ANSWERS,
        kind: MAP_TYPE_LRU_HASH,
        key_size: program::KEY_SIZE,
        value_size: program::VALUE_SIZE,
        max_entries: ENTRIES,
    },
    MapDef {
        name: GENERATION,
        kind: MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
    },
    MapDef {
        name: COUNTERS,
        kind: MAP_TYPE_PERCPU_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 2,
    },
];

/// The license the program is loaded under (cove's; it calls no GPL-only
/// helper).
const LICENSE: &str = "Apache-2.0";

/// A step of setting up the fast path that failed.
#[derive(Debug, thiserror::Error)]
pub enum FastPathError {
    /// Writing the program.
    #[error("cannot assemble the DNS fast path's program")]
    Assemble(#[source] asm::AsmError),
    /// Writing its object.
    #[error("cannot write the DNS fast path's object")]
    Object(#[source] elf::ElfError),
    /// Loading it (the kernel's verifier, permissions, an old kernel).
    #[error("cannot load the DNS fast path into the kernel")]
    Load(#[source] Box<aya::EbpfError>),
    /// The verifier or the kernel refused the program.
    #[error("the kernel refused the DNS fast path's program")]
    Program(#[source] Box<aya::programs::ProgramError>),
    /// A map of the object.
    #[error("the DNS fast path's map {name}")]
    Map {
        /// Which.
        name: &'static str,
        /// Why.
        #[source]
        source: Box<aya::maps::MapError>,
    },
    /// Putting the program on a link (a kernel without tcx: before 6.6).
    #[error("cannot put the DNS fast path on link {link}")]
    Attach {
        /// The router link.
        link: String,
        /// Why.
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// The object lost its program.
    #[error("the DNS fast path's object has no program")]
    NoProgram,
}

/// The loaded program and its maps.
pub struct FastPath {
    ebpf: Mutex<Ebpf>,
    attached: Mutex<HashMap<u32, SchedClassifierLinkId>>,
    /// Why the program could not go on a link, the last time it could not.
    attach_error: Mutex<Option<String>>,
    answers: Mutex<BpfHashMap<MapData, [u8; KEY_LEN], [u8; VALUE_LEN]>>,
    generation: Mutex<Array<MapData, u32>>,
    counters: PerCpuArray<MapData, u64>,
    /// Counter totals already added to the resolver's [`Stats`].
    counted: Mutex<[u64; 2]>,
    /// Off for good (its generation could not be moved).
    disabled: AtomicBool,
}

impl std::fmt::Debug for FastPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastPath").finish_non_exhaustive()
    }
}

fn map_error(name: &'static str) -> impl Fn(aya::maps::MapError) -> FastPathError {
    move |e| FastPathError::Map {
        name,
        source: Box::new(e),
    }
}

impl FastPath {
    /// Assembles the program for a resolver on UDP `port` and loads it (verified
    /// by the kernel) with its maps.
    pub fn load(port: u16) -> Result<FastPath, FastPathError> {
        let program = program::program(port).map_err(FastPathError::Assemble)?;
        let object = elf::object(&program, &MAPS, LICENSE).map_err(FastPathError::Object)?;
        let mut ebpf = EbpfLoader::new()
            .load(&object)
            .map_err(|e| FastPathError::Load(Box::new(e)))?;
        let p: &mut SchedClassifier = ebpf
            .program_mut(elf::PROGRAM)
            .ok_or(FastPathError::NoProgram)?
            .try_into()
            .map_err(|e| FastPathError::Program(Box::new(e)))?;
        p.load().map_err(|e| FastPathError::Program(Box::new(e)))?;
        let take = |ebpf: &mut Ebpf, name: &'static str| {
            ebpf.take_map(name).ok_or(FastPathError::Map {
                name,
                source: Box::new(aya::maps::MapError::InvalidName {
                    name: name.to_owned(),
                }),
            })
        };
        let answers =
            BpfHashMap::try_from(take(&mut ebpf, ANSWERS)?).map_err(map_error(ANSWERS))?;
        let generation =
            Array::try_from(take(&mut ebpf, GENERATION)?).map_err(map_error(GENERATION))?;
        let counters =
            PerCpuArray::try_from(take(&mut ebpf, COUNTERS)?).map_err(map_error(COUNTERS))?;
        Ok(FastPath {
            ebpf: Mutex::new(ebpf),
            attached: Mutex::new(HashMap::new()),
            attach_error: Mutex::new(None),
            answers: Mutex::new(answers),
            generation: Mutex::new(generation),
            counters,
            counted: Mutex::new([0; 2]),
            disabled: AtomicBool::new(false),
        })
    }

    /// Makes `generation` the current one: entries kept under another are never
    /// matched again.
    pub fn set_generation(&self, generation: u32) -> Result<(), FastPathError> {
        lock(&self.generation)
            .set(0, generation, 0)
            .map_err(map_error(GENERATION))
    }

    /// Puts the program on link `ifindex` (named `name` in the calling thread's
    /// namespace, the router's), once. Nothing is done if `name` is no longer that
    /// link (it went away, or was made again with another index). A failure is
    /// kept for [`FastPath::attach_error`]; the next call tries again.
    pub fn attach(&self, ifindex: u32, name: &str) -> Result<(), FastPathError> {
        let mut attached = lock(&self.attached);
        if attached.contains_key(&ifindex) || self.disabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        if nix::net::if_::if_nametoindex(name).ok() != Some(ifindex) {
            return Ok(());
        }
        let mut ebpf = lock(&self.ebpf);
        let p: &mut SchedClassifier = ebpf
            .program_mut(elf::PROGRAM)
            .ok_or(FastPathError::NoProgram)?
            .try_into()
            .map_err(|e| FastPathError::Program(Box::new(e)))?;
        match p.attach_with_options(
            name,
            TcAttachType::Ingress,
            TcAttachOptions::TcxOrder(LinkOrder::default()),
        ) {
            Ok(id) => {
                attached.insert(ifindex, id);
                Ok(())
            }
            Err(e) => {
                let e = FastPathError::Attach {
                    link: name.to_owned(),
                    source: Box::new(e),
                };
                *lock(&self.attach_error) = Some(cove_host::error_chain(&e));
                Err(e)
            }
        }
    }

    /// Why the program could not go on a link, the last time it could not (a
    /// kernel without tcx, before 6.6, loads it but cannot attach it).
    pub fn attach_error(&self) -> Option<String> {
        lock(&self.attach_error).clone()
    }

    /// Whether the program is on link `ifindex`.
    pub fn attached(&self, ifindex: u32) -> bool {
        lock(&self.attached).contains_key(&ifindex)
    }

    /// Takes the program off every link, for good (the resolver answers every
    /// query itself from now on).
    pub fn disable(&self) {
        self.disabled.store(true, Ordering::Relaxed);
        self.prune(|_| true);
    }

    /// Lets go of the links for which `gone` says so (their interface no longer
    /// exists; the kernel detached the program already).
    pub fn prune(&self, gone: impl Fn(u32) -> bool) {
        let mut attached = lock(&self.attached);
        let dead: Vec<u32> = attached.keys().copied().filter(|i| gone(*i)).collect();
        let mut ebpf = lock(&self.ebpf);
        let program: Option<&mut SchedClassifier> = ebpf
            .program_mut(elf::PROGRAM)
            .and_then(|p| p.try_into().ok());
        let mut program = program;
        for i in dead {
            if let (Some(link), Some(p)) = (attached.remove(&i), program.as_mut()) {
                let _ = p.detach(link);
            }
        }
    }

    /// Keeps `answer` to `query` (both whole, ids included), received on link
    /// `ifindex` for address `asked`, under catalog `generation`, for `ttl` (none:
    /// until the generation changes). Queries and answers too long for the map
    /// are not kept. Returns whether it was kept.
    pub fn put(
        &self,
        ifindex: u32,
        asked: Ipv4Addr,
        generation: u32,
        query: &[u8],
        answer: &[u8],
        ttl: Option<Duration>,
    ) -> bool {
        let expires = match ttl {
            None => 0,
            Some(ttl) => {
                let Ok(now) = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) else {
                    return false;
                };
                let now = Duration::from(now);
                u64::try_from((now + ttl).as_nanos()).unwrap_or(u64::MAX)
            }
        };
        let (Some(k), Some(v)) = (
            program::key(ifindex, asked, generation, query),
            program::value(answer, expires),
        ) else {
            return false;
        };
        lock(&self.answers).insert(k, v, 0).is_ok()
    }

    /// Answers the program gave since the last call: (authoritative, cached
    /// forwarded), added to `stats` too (as UDP queries, and as local answers and
    /// cache hits). Callers may overlap (the UDP thread, `Resolver::stats`): the
    /// counters are read under the lock, and a counter that cannot be read now is
    /// left for the next call.
    pub fn collect(&self, stats: &Stats) -> (u64, u64) {
        let mut counted = lock(&self.counted);
        let mut new = [0u64; 2];
        for (i, n) in new.iter_mut().enumerate() {
            let Ok(values) = self.counters.get(&u32::try_from(i).unwrap_or(0), 0) else {
                continue;
            };
            let total: u64 = values.iter().sum();
            *n = total.saturating_sub(counted[i]);
            counted[i] = counted[i].max(total);
        }
        stats.fast_path(new[0], new[1]);
        (new[0], new[1])
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
