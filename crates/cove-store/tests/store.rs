//! Changes, reads, generations, the audit log and the applied generation, against SQLite
//! and PostgreSQL.

mod common;

use common::{TestDb, both, chain, meta, put};
use cove_store::{DocId, DocOp, Filter, Generation, Store, StoreError};
use serde_json::json;

both!(
    migrations_run_on_an_empty_database_and_again,
    generations_are_gapless_and_each_change_is_audited,
    reads_are_filtered_and_ordered,
    a_conflicting_expected_generation_writes_nothing,
    a_change_failing_midway_leaves_nothing,
    the_applied_generation_never_goes_back,
    a_body_written_by_something_else_is_refused_by_name,
);

async fn count(store: &Store, db: &TestDb) -> (Generation, usize, usize) {
    let snap = store.snapshot().await.expect("snapshot");
    let audit = store
        .audit(Generation::ZERO, 1_000_000)
        .await
        .expect("audit");
    let _ = db;
    (snap.generation, snap.documents.len(), audit.len())
}

async fn migrations_run_on_an_empty_database_and_again(db: TestDb) {
    let store = db.open().await;
    assert_eq!(
        store.generations().await.expect("state"),
        (Generation::ZERO, Generation::ZERO)
    );
    store
        .change(
            &meta("r1"),
            None,
            &[put("fn", Some("acme"), "f", json!({"a": 1}))],
        )
        .await
        .expect("change");
    // Again on the open store, then by a second open: applied migrations are skipped and
    // nothing is lost or re-seeded.
    store.migrate().await.expect("migrate again");
    store.close().await;
    let again = db.open().await;
    again.migrate().await.expect("migrate a third time");
    let snap = again.snapshot().await.expect("snapshot");
    assert_eq!(snap.generation, Generation(1), "{}", db.backend);
    assert_eq!(snap.documents.len(), 1);
    assert_eq!(
        snap.documents[0]
            .decode::<serde_json::Value>()
            .expect("json"),
        json!({"a": 1})
    );
}

async fn generations_are_gapless_and_each_change_is_audited(db: TestDb) {
    let store = db.open().await;
    for i in 1..=20i64 {
        let ops = [
            put("network", Some("acme"), &format!("n{i}"), json!({"i": i})),
            put("spec", Some("acme"), "spec", json!({"v": i})),
        ];
        let generation = store
            .change(&meta(&format!("r{i}")), None, &ops)
            .await
            .expect("change");
        assert_eq!(generation, Generation(i), "{}", db.backend);
    }
    let audit = store.audit(Generation::ZERO, 100).await.expect("audit");
    assert_eq!(audit.len(), 20);
    for (i, row) in audit.iter().enumerate() {
        let after = i64::try_from(i).expect("small") + 1;
        assert_eq!(
            (row.before, row.after),
            (Generation(after - 1), Generation(after))
        );
        assert_eq!(
            row.meta.request_id.as_deref(),
            Some(format!("r{after}").as_str())
        );
        assert_eq!(row.meta.tenant.as_deref(), Some("acme"));
        assert_eq!(row.meta.token_id.as_deref(), Some("tok-1"));
        assert!(
            row.at.0 > 1_700_000_000_000,
            "the database clock in ms: {:?}",
            row.at
        );
    }
    assert!(audit.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(
        store.audit(Generation(18), 100).await.expect("audit").len(),
        2
    );
    // Each document carries the generation that last wrote it.
    let spec = store
        .get(&DocId::new("spec", Some("acme"), "spec"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(spec.generation, Generation(20));
    assert_eq!(
        spec.decode::<serde_json::Value>().expect("json"),
        json!({"v": 20})
    );
    let n3 = store
        .get(&DocId::new("network", Some("acme"), "n3"))
        .await
        .expect("get");
    assert_eq!(n3.expect("exists").generation, Generation(3));
    // A delete is a change too.
    let generation = store
        .change(
            &meta("del"),
            Some(Generation(20)),
            &[DocOp::Delete {
                id: DocId::new("network", Some("acme"), "n3"),
            }],
        )
        .await
        .expect("delete");
    assert_eq!(generation, Generation(21));
    assert!(
        store
            .get(&DocId::new("network", Some("acme"), "n3"))
            .await
            .expect("get")
            .is_none()
    );
}

async fn reads_are_filtered_and_ordered(db: TestDb) {
    let store = db.open().await;
    let ops = [
        put("network", Some("beta"), "b", json!(1)),
        put("network", Some("acme"), "z", json!(2)),
        put("network", Some("acme"), "a", json!(3)),
        put("function", Some("acme"), "f", json!(4)),
        put("tenant", None, "acme", json!({"name": "acme"})),
        // Same kind and key, another tenant: another document.
        put("function", Some("beta"), "f", json!(5)),
    ];
    store.change(&meta("r"), None, &ops).await.expect("change");
    let keys = |snap: cove_store::Snapshot| -> Vec<String> {
        snap.documents
            .iter()
            .map(|d| {
                format!(
                    "{}/{}/{}",
                    d.id.kind,
                    d.id.tenant.as_deref().unwrap_or("-"),
                    d.id.key
                )
            })
            .collect()
    };
    assert_eq!(
        keys(store.snapshot().await.expect("all")),
        [
            "function/acme/f",
            "function/beta/f",
            "network/acme/a",
            "network/acme/z",
            "network/beta/b",
            "tenant/-/acme"
        ]
    );
    assert_eq!(
        keys(
            store
                .read(Filter::KindOfTenant("network", Some("acme")))
                .await
                .expect("kt")
        ),
        ["network/acme/a", "network/acme/z"]
    );
    assert_eq!(
        keys(
            store
                .read(Filter::KindOfTenant("tenant", None))
                .await
                .expect("op")
        ),
        ["tenant/-/acme"]
    );
    assert_eq!(
        keys(store.read(Filter::Tenant("beta")).await.expect("t")),
        ["function/beta/f", "network/beta/b"]
    );
    let by_kind = store.read(Filter::Kind("function")).await.expect("k");
    assert_eq!(by_kind.generation, Generation(1));
    assert_eq!(keys(by_kind), ["function/acme/f", "function/beta/f"]);
    let err = store
        .read(Filter::Kind("Bad Kind"))
        .await
        .expect_err("bad kind");
    assert!(
        matches!(err, StoreError::InvalidInput { ref field, .. } if field == "filter.kind"),
        "{err}"
    );
}

async fn a_conflicting_expected_generation_writes_nothing(db: TestDb) {
    let store = db.open().await;
    store
        .change(
            &meta("1"),
            Some(Generation::ZERO),
            &[put("k", None, "a", json!(1))],
        )
        .await
        .expect("first");
    let before = count(&store, &db).await;
    let err = store
        .change(
            &meta("2"),
            Some(Generation::ZERO),
            &[put("k", None, "b", json!(2))],
        )
        .await
        .expect_err("stale expected generation");
    match err {
        StoreError::Conflict { expected, current } => {
            assert_eq!((expected, current), (Generation(0), Generation(1)));
        }
        other => panic!("{}: not a conflict: {}", db.backend, chain(&other)),
    }
    assert_eq!(count(&store, &db).await, before);
    assert!(
        store
            .get(&DocId::new("k", None, "b"))
            .await
            .expect("get")
            .is_none()
    );
}

async fn a_change_failing_midway_leaves_nothing(db: TestDb) {
    let store = db.open().await;
    store
        .change(&meta("1"), None, &[put("k", None, "exists", json!(1))])
        .await
        .expect("first");
    let before = count(&store, &db).await;
    // Two writes succeed inside the transaction, then the third op fails.
    let ops = [
        put("k", None, "new", json!(2)),
        put("k", None, "exists", json!("overwritten")),
        DocOp::create(DocId::new("k", None, "exists"), &3).expect("json"),
    ];
    let err = store
        .change(&meta("2"), None, &ops)
        .await
        .expect_err("create of an existing doc");
    assert!(
        matches!(err, StoreError::AlreadyExists { .. }),
        "{}",
        chain(&err)
    );
    assert_eq!(count(&store, &db).await, before, "{}", db.backend);
    let ops = [
        put("k", None, "new", json!(2)),
        DocOp::Delete {
            id: DocId::new("k", None, "missing"),
        },
    ];
    let err = store
        .change(&meta("3"), None, &ops)
        .await
        .expect_err("delete of a missing doc");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "{}",
        chain(&err)
    );
    assert_eq!(count(&store, &db).await, before, "{}", db.backend);
    let kept = store
        .get(&DocId::new("k", None, "exists"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(kept.decode::<serde_json::Value>().expect("json"), json!(1));
    // The connection that failed went back to the pool clean: the store still works.
    assert_eq!(
        store
            .change(
                &meta("4"),
                Some(before.0),
                &[put("k", None, "new", json!(4))]
            )
            .await
            .expect("after"),
        Generation(2)
    );
}

async fn the_applied_generation_never_goes_back(db: TestDb) {
    let store = db.open().await;
    for i in 0..3 {
        store
            .change(
                &meta(&i.to_string()),
                None,
                &[put("k", None, "a", json!(i))],
            )
            .await
            .expect("change");
    }
    store
        .record_applied(Generation(2), None)
        .await
        .expect("record 2");
    store
        .record_applied(Generation(2), None)
        .await
        .expect("the same again");
    let err = store
        .record_applied(Generation(1), None)
        .await
        .expect_err("older");
    assert!(
        matches!(
            err,
            StoreError::StaleApplied {
                generation: Generation(1),
                applied: Generation(2)
            }
        ),
        "{}",
        chain(&err)
    );
    let err = store
        .record_applied(Generation(4), None)
        .await
        .expect_err("future");
    assert!(
        matches!(err, StoreError::FutureApplied { .. }),
        "{}",
        chain(&err)
    );
    store
        .record_applied(Generation(3), None)
        .await
        .expect("record 3");
    assert_eq!(
        store.generations().await.expect("state"),
        (Generation(3), Generation(3))
    );
    assert_eq!(store.snapshot().await.expect("snap").applied, Generation(3));
}

async fn a_body_written_by_something_else_is_refused_by_name(db: TestDb) {
    let store = db.open().await;
    store
        .change(&meta("1"), None, &[put("fn", Some("acme"), "f", json!(1))])
        .await
        .expect("change");
    let sql = "UPDATE cove_documents SET body = 'not json' WHERE key = 'f'";
    match &db.sqlite_path {
        Some(path) => {
            use sqlx::Connection;
            let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
            let mut conn = sqlx::SqliteConnection::connect_with(&opts)
                .await
                .expect("connect");
            sqlx::query(sql).execute(&mut conn).await.expect("update");
        }
        None => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            sqlx::query(sql).execute(&mut conn).await.expect("update");
        }
    }
    let err = store
        .get(&DocId::new("fn", Some("acme"), "f"))
        .await
        .expect_err("not JSON");
    assert!(
        matches!(err, StoreError::CorruptBody { .. }),
        "{}",
        chain(&err)
    );
    assert_eq!(
        err.to_string(),
        r#"the stored body of fn "f" of tenant "acme" is not JSON"#
    );
    assert!(matches!(
        store.snapshot().await,
        Err(StoreError::CorruptBody { .. })
    ));
}
