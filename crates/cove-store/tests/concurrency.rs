//! Concurrent writers, as tasks sharing a pool, as separate pools and as separate
//! processes (`cove-store-stress`): no lost update, every committed change visible
//! once, one audit row per generation. Against SQLite and PostgreSQL.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use common::{TestDb, both, chain, put};
use cove_store::{ChangeMeta, DocId, DocOp, Filter, Generation, Store};
use serde_json::json;

both!(
    blind_writers_in_tasks_lose_nothing,
    counter_writers_with_expected_generation_lose_no_update,
    writer_processes_lose_nothing,
    processes_opening_a_new_store_at_once_all_succeed,
);

const TASKS: usize = 8;
const PER_TASK: usize = 25;

fn meta(writer: usize, i: usize) -> ChangeMeta {
    ChangeMeta {
        tenant: Some(format!("t{writer}")),
        token_id: None,
        request_id: Some(format!("w{writer}-{i}")),
        summary: String::new(),
    }
}

/// Every generation 1..=n has exactly one audit row, with the request ids `expected`.
async fn check_audit(store: &Store, n: usize, expected: &BTreeSet<String>) {
    let audit = store
        .audit(Generation::ZERO, u32::MAX)
        .await
        .expect("audit");
    assert_eq!(audit.len(), n);
    for (i, row) in audit.iter().enumerate() {
        let after = i64::try_from(i + 1).expect("small");
        assert_eq!((row.before.0, row.after.0), (after - 1, after));
    }
    let ids: BTreeSet<String> = audit
        .iter()
        .filter_map(|r| r.meta.request_id.clone())
        .collect();
    assert_eq!(&ids, expected, "each committed change audited once");
}

async fn blind_writers_in_tasks_lose_nothing(db: TestDb) {
    // Half the tasks share one pool, half have a pool each (more connections).
    let shared = db.open().await;
    let mut handles = Vec::new();
    for w in 0..TASKS {
        let store = if w % 2 == 0 {
            shared.clone()
        } else {
            db.open().await
        };
        handles.push(tokio::spawn(async move {
            let mut generations = Vec::new();
            for i in 0..PER_TASK {
                let ops = [
                    put("w", Some(&format!("t{w}")), &i.to_string(), json!(i)),
                    put("last", None, &w.to_string(), json!(i)),
                ];
                let g = store.change(&meta(w, i), None, &ops).await;
                generations.push(g.unwrap_or_else(|e| panic!("writer {w}: {}", chain(&e))));
            }
            generations
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        let gens = h.await.expect("writer task");
        assert!(
            gens.windows(2).all(|w| w[0] < w[1]),
            "a writer's generations increase"
        );
        all.extend(gens);
    }
    all.sort();
    let n = TASKS * PER_TASK;
    let want: Vec<Generation> = (1..=i64::try_from(n).expect("small"))
        .map(Generation)
        .collect();
    assert_eq!(
        all, want,
        "{}: every generation handed out once, no gap",
        db.backend
    );
    let snap = shared.snapshot().await.expect("snapshot");
    assert_eq!(
        snap.generation,
        Generation(i64::try_from(n).expect("small"))
    );
    let w_docs = snap.documents.iter().filter(|d| d.id.kind == "w").count();
    assert_eq!(w_docs, n, "every committed write is visible");
    for w in 0..TASKS {
        let last = shared
            .get(&DocId::new("last", None, w.to_string()))
            .await
            .expect("get");
        assert_eq!(
            last.expect("exists").decode::<usize>().expect("json"),
            PER_TASK - 1
        );
    }
    let ids = (0..TASKS)
        .flat_map(|w| (0..PER_TASK).map(move |i| format!("w{w}-{i}")))
        .collect();
    check_audit(&shared, n, &ids).await;
}

async fn counter_writers_with_expected_generation_lose_no_update(db: TestDb) {
    let shared = db.open().await;
    let mut handles = Vec::new();
    for w in 0..TASKS {
        let store = if w % 2 == 0 {
            shared.clone()
        } else {
            db.open().await
        };
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            for i in 0..PER_TASK {
                loop {
                    let snap = store.read(Filter::Kind("counter")).await.expect("read");
                    let value = snap
                        .documents
                        .first()
                        .map_or(0, |d| d.decode::<u64>().expect("n"));
                    let ops = [
                        DocOp::put(DocId::new("counter", None, "c"), &(value + 1)).expect("json")
                    ];
                    match store.change(&meta(w, i), Some(snap.generation), &ops).await {
                        Ok(_) => break,
                        Err(e) if e.is_conflict() => conflicts += 1,
                        Err(e) => panic!("writer {w}: {}", chain(&e)),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for h in handles {
        conflicts += h.await.expect("writer task");
    }
    let n = TASKS * PER_TASK;
    let counter = shared
        .get(&DocId::new("counter", None, "c"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        counter.decode::<usize>().expect("n"),
        n,
        "{}: no lost update ({conflicts} conflicts retried)",
        db.backend
    );
    assert_eq!(
        counter.generation,
        Generation(i64::try_from(n).expect("small"))
    );
    let ids = (0..TASKS)
        .flat_map(|w| (0..PER_TASK).map(move |i| format!("w{w}-{i}")))
        .collect();
    check_audit(&shared, n, &ids).await;
}

const PROCS: usize = 4;
const PER_PROC: usize = 30;

fn spawn_writer(url: &str, writer: &str, mode: &str, count: usize) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_cove-store-stress"))
        .args([url, writer, mode, &count.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cove-store-stress")
}

async fn writer_processes_lose_nothing(db: TestDb) {
    // Migrate first, so that the processes race on writes only.
    let store = db.open().await;
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            let mode = if p % 2 == 0 { "blind" } else { "counter" };
            spawn_writer(&db.url, &format!("p{p}"), mode, PER_PROC)
        })
        .collect();
    let mut committed = Vec::new();
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("wait");
        assert!(
            out.status.success(),
            "{}: writer failed: {}",
            db.backend,
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        committed.extend(
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix("gen "))
                .map(|g| g.parse::<i64>().expect("gen")),
        );
    }
    committed.sort_unstable();
    let n = PROCS * PER_PROC;
    assert_eq!(
        committed,
        (1..=i64::try_from(n).expect("small")).collect::<Vec<_>>(),
        "{}",
        db.backend
    );
    let snap = store.snapshot().await.expect("snapshot");
    let blind = snap.documents.iter().filter(|d| d.id.kind == "w").count();
    assert_eq!(blind, PROCS.div_ceil(2) * PER_PROC);
    let counter = store
        .get(&DocId::new("counter", None, "c"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        counter.decode::<usize>().expect("n"),
        (PROCS / 2) * PER_PROC,
        "no lost update across processes"
    );
    let ids = (0..PROCS)
        .flat_map(|p| (0..PER_PROC).map(move |i| format!("p{p}-{i}")))
        .collect();
    check_audit(&store, n, &ids).await;
}

async fn processes_opening_a_new_store_at_once_all_succeed(db: TestDb) {
    // Nobody has created the schema yet: every process migrates at the same time.
    let children: Vec<_> = (0..PROCS)
        .map(|p| spawn_writer(&db.url, &format!("o{p}"), "blind", 1))
        .collect();
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("wait");
        assert!(
            out.status.success(),
            "{}: {}",
            db.backend,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = db.open().await;
    assert_eq!(
        store.snapshot().await.expect("snap").generation,
        Generation(i64::try_from(PROCS).expect("small"))
    );
}
