//! `kill -9` of writer processes at random points (often mid-transaction): the store
//! stays consistent on SQLite and PostgreSQL, and the next writer carries on from the
//! last committed generation.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{TestDb, both, meta, put};
use cove_store::{Filter, Generation, Store};
use serde_json::json;

both!(killed_writers_leave_a_consistent_store);

const ROUNDS: usize = 6;
const WRITERS: usize = 2;

/// A small xorshift generator seeded from the clock: kill points differ between runs
/// (the seed is printed so a failure can be replayed with CVST_CRASH_SEED).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("CVST_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| u64::from(d.subsec_nanos()) | 1)
            });
        eprintln!("CVST_CRASH_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Starts a writer and returns once it has committed at least one change.
fn start_writer(url: &str, name: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cove-store-stress"))
        .args([url, name, "blind", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cove-store-stress");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("gen ") => break,
            Some(Ok(_)) => {}
            _ => panic!("writer {name} ended before its first change"),
        }
    }
    // Keep reading (and dropping) its output so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

/// The invariants a committed history must satisfy.
async fn check(store: &Store, backend: &str) -> Generation {
    // A writer killed right after sending COMMIT is gone, but PostgreSQL may still
    // be committing for it: read the snapshot and the audit again until no commit
    // lands between the two reads (bounded).
    let mut tries = 0;
    let (snap, audit) = loop {
        let snap = store.snapshot().await.expect("snapshot");
        let audit = store
            .audit(Generation::ZERO, u32::MAX)
            .await
            .expect("audit");
        let again = store.snapshot().await.expect("snapshot");
        tries += 1;
        if again.generation == snap.generation || tries == 100 {
            break (snap, audit);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let g = snap.generation;
    assert_eq!(
        audit.len(),
        usize::try_from(g.0).expect("small"),
        "{backend}: one audit row per generation"
    );
    for (i, row) in audit.iter().enumerate() {
        let after = i64::try_from(i + 1).expect("small");
        assert_eq!(
            (row.before.0, row.after.0),
            (after - 1, after),
            "{backend}: gapless"
        );
    }
    // Each change created w/<writer>/<i> and set last/<writer> = i together: per writer
    // the created keys are exactly 0..=last, each written once.
    let mut created: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for doc in &snap.documents {
        let writer = doc.id.tenant.clone().expect("tenant");
        assert!(doc.generation <= g);
        match doc.id.kind.as_str() {
            "w" => created
                .entry(writer)
                .or_default()
                .push(doc.id.key.parse().expect("n")),
            "last" => {
                last.insert(writer, doc.decode().expect("n"));
            }
            _ => {}
        }
    }
    let total: usize = created.values().map(Vec::len).sum();
    assert_eq!(
        total,
        audit.len(),
        "{backend}: every committed change's document is there"
    );
    for (writer, mut keys) in created {
        keys.sort_unstable();
        let l = last.get(&writer).copied().expect("last");
        assert_eq!(
            keys,
            (0..=l).collect::<Vec<_>>(),
            "{backend}: writer {writer}'s changes are whole"
        );
    }
    g
}

async fn killed_writers_leave_a_consistent_store(db: TestDb) {
    let store = db.open().await;
    let mut rng = Rng::new();
    let mut before = Generation::ZERO;
    for round in 0..ROUNDS {
        let url = db.url.clone();
        let children: Vec<Child> = tokio::task::spawn_blocking(move || {
            (0..WRITERS)
                .map(|w| start_writer(&url, &format!("r{round}w{w}")))
                .collect()
        })
        .await
        .expect("start writers");
        tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
        for mut child in children {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
        }
        let g = check(&store, db.backend).await;
        assert!(
            g > before,
            "{}: the writers committed something",
            db.backend
        );
        before = g;
    }
    if let Some(path) = &db.sqlite_path {
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts)
            .await
            .expect("connect");
        let (ok,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .expect("check");
        assert_eq!(ok, "ok");
    }
    // A new writer goes on from the last committed generation.
    let fresh = db.open().await;
    let g = fresh
        .change(
            &meta("after"),
            Some(before),
            &[put("k", None, "after", json!(1))],
        )
        .await
        .expect("change");
    assert_eq!(g, before.next());
    assert_eq!(
        fresh
            .read(Filter::Kind("w"))
            .await
            .expect("read")
            .generation,
        g
    );
}
