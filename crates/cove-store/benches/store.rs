//! A change and a snapshot read, on SQLite and on PostgreSQL (the same operations, one
//! after the other, so the ratio is from one run).
//!
//! ```sh
//! COVE_PG_DURABLE=1 bash scripts/pg-throwaway.sh run -- cargo bench -p cove-store --bench store
//! ```
//!
//! PostgreSQL comes from `COVE_TEST_POSTGRES_URL` (a throwaway server: the benchmark
//! creates and drops a `cvst_bench_…` database on it).

use std::time::Duration;

use cove_store::{ChangeMeta, DocId, DocOp, Store};
use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::Connection;

/// Documents in the store when a snapshot is read.
const DOCS: usize = 1_000;

fn body(i: usize) -> serde_json::Value {
    // About 1 KB, like a function's configuration.
    serde_json::json!({
        "name": format!("fn-{i}"),
        "runtime": "python3.12",
        "handler": "app.handler",
        "memory": 256,
        "env": (0..20).map(|j| (format!("VAR_{j}"), serde_json::Value::from("x".repeat(30)))).collect::<serde_json::Map<_, _>>(),
    })
}

fn meta() -> ChangeMeta {
    ChangeMeta {
        tenant: Some("bench".into()),
        token_id: Some("tok".into()),
        request_id: Some("req".into()),
        summary: "bench".into(),
    }
}

async fn seed(store: &Store) {
    let ops: Vec<DocOp> = (0..DOCS)
        .map(|i| {
            DocOp::put(
                DocId::new("function", Some("bench"), format!("fn-{i}")),
                &body(i),
            )
            .expect("json")
        })
        .collect();
    store.change(&meta(), None, &ops).await.expect("seed");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir().join(format!("cvst-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let admin = std::env::var("COVE_TEST_POSTGRES_URL")
        .expect("COVE_TEST_POSTGRES_URL: run through scripts/pg-throwaway.sh run --");
    let pg_name = format!("cvst_bench_{}", std::process::id());
    let pg_url = format!(
        "{}/{pg_name}",
        admin.rsplit_once('/').expect("a database in the URL").0
    );
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {pg_name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
    });
    let stores = rt.block_on(async {
        let sqlite = Store::open(&format!("sqlite://{}/cove.db", dir.display()))
            .await
            .expect("sqlite");
        let pg = Store::open(&pg_url).await.expect("postgres");
        for s in [&sqlite, &pg] {
            seed(s).await;
        }
        [("sqlite", sqlite), ("postgres", pg)]
    });

    let mut group = c.benchmark_group("change");
    group.measurement_time(Duration::from_secs(5));
    for (name, store) in &stores {
        let mut i = 0usize;
        group.bench_function(*name, |b| {
            b.iter(|| {
                i += 1;
                let op = DocOp::put(
                    DocId::new("function", Some("bench"), format!("fn-{}", i % DOCS)),
                    &body(i),
                )
                .expect("json");
                rt.block_on(store.change(&meta(), None, &[op]))
                    .expect("change")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("snapshot_1000_docs");
    group.measurement_time(Duration::from_secs(5));
    for (name, store) in &stores {
        group.bench_function(*name, |b| {
            b.iter(|| {
                rt.block_on(store.snapshot())
                    .expect("snapshot")
                    .documents
                    .len()
            })
        });
    }
    group.finish();

    rt.block_on(async {
        for (_, s) in &stores {
            s.close().await;
        }
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect");
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
