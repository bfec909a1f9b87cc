//! Leader leases and idempotency records, against SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use common::{TestDb, both, chain, meta, put};
use cove_store::{Generation, IdempotencyBegin, LeaseState, StoreError};
use serde_json::json;

both!(
    one_leader_at_a_time_and_takeover_after_expiry,
    racing_processes_elect_one_leader,
    a_deposed_leader_cannot_record_applied,
    idempotency_replays_the_first_answer_and_refuses_another_body,
);

const LONG: Duration = Duration::from_secs(3600);

fn held(state: LeaseState) -> cove_store::Lease {
    match state {
        LeaseState::Held(lease) => lease,
        other => panic!("expected to hold the lease: {other:?}"),
    }
}

async fn one_leader_at_a_time_and_takeover_after_expiry(db: TestDb) {
    let (a, b) = (db.open().await, db.open().await);
    let first = held(
        a.acquire_or_renew("reconciler", "A", LONG)
            .await
            .expect("A"),
    );
    assert_eq!(first.token, 1);
    match b
        .acquire_or_renew("reconciler", "B", LONG)
        .await
        .expect("B")
    {
        LeaseState::NotLeader { holder, expires_at } => {
            assert_eq!(holder, "A");
            assert_eq!(expires_at, first.expires_at);
        }
        other => panic!(
            "{}: B must not lead while A's lease runs: {other:?}",
            db.backend
        ),
    }
    // Renewal keeps the tenure (same token) and moves the expiry.
    let renewed = held(
        a.acquire_or_renew("reconciler", "A", LONG)
            .await
            .expect("renew"),
    );
    assert_eq!((renewed.token, renewed.acquired_at), (1, first.acquired_at));
    assert!(renewed.expires_at >= first.expires_at);
    // Other lease names are independent.
    held(b.acquire_or_renew("other", "B", LONG).await.expect("other"));

    // A renews with a 1 ms lease and stops renewing: B takes over once it lapses on the
    // database's clock (B retries until then).
    held(
        a.acquire_or_renew("reconciler", "A", Duration::from_millis(1))
            .await
            .expect("short"),
    );
    let mut attempts = 0;
    let taken = loop {
        attempts += 1;
        match b
            .acquire_or_renew("reconciler", "B", LONG)
            .await
            .expect("B again")
        {
            LeaseState::Held(lease) => break lease,
            LeaseState::NotLeader { holder, .. } => {
                assert_eq!(holder, "A");
                assert!(attempts < 10_000, "A's 1 ms lease never lapsed");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    assert_eq!(taken.holder, "B");
    assert_eq!(taken.token, 2, "a new tenure gets the next fencing token");
    assert!(matches!(
        a.acquire_or_renew("reconciler", "A", LONG).await.expect("A late"),
        LeaseState::NotLeader { ref holder, .. } if holder == "B"
    ));
    // Releasing hands it over at once; releasing a lease one no longer holds is a no-op.
    assert!(!a.release(&renewed).await.expect("release stale"));
    assert!(b.release(&taken).await.expect("release"));
    let again = held(
        a.acquire_or_renew("reconciler", "A", LONG)
            .await
            .expect("A after release"),
    );
    assert_eq!(again.token, 3);
    let err = a
        .acquire_or_renew("reconciler", "", LONG)
        .await
        .expect_err("no holder");
    assert!(
        matches!(err, StoreError::InvalidInput { ref field, .. } if field == "lease.holder"),
        "{err}"
    );
}

async fn racing_processes_elect_one_leader(db: TestDb) {
    // 16 contenders on separate pools, all at once, several rounds of renewing.
    let mut handles = Vec::new();
    for i in 0..16 {
        let store = db.open().await;
        handles.push(tokio::spawn(async move {
            let mut led = 0;
            for _ in 0..5 {
                match store.acquire_or_renew("race", &format!("h{i}"), LONG).await {
                    Ok(LeaseState::Held(_)) => led += 1,
                    Ok(LeaseState::NotLeader { .. }) => {}
                    Err(e) => panic!("h{i}: {}", chain(&e)),
                }
            }
            (i, led)
        }));
    }
    let mut leaders = Vec::new();
    for h in handles {
        let (i, led) = h.await.expect("task");
        if led > 0 {
            assert_eq!(led, 5, "the leader keeps leading");
            leaders.push(i);
        }
    }
    assert_eq!(
        leaders.len(),
        1,
        "{}: exactly one leader: {leaders:?}",
        db.backend
    );
}

async fn a_deposed_leader_cannot_record_applied(db: TestDb) {
    let store = db.open().await;
    store
        .change(&meta("1"), None, &[put("k", None, "a", json!(1))])
        .await
        .expect("change");
    let a = held(
        store
            .acquire_or_renew("reconciler", "A", LONG)
            .await
            .expect("A"),
    );
    store
        .record_applied(Generation(1), Some(&a))
        .await
        .expect("the leader records");
    store.release(&a).await.expect("release");
    let b = held(
        store
            .acquire_or_renew("reconciler", "B", LONG)
            .await
            .expect("B"),
    );
    store
        .change(&meta("2"), None, &[put("k", None, "a", json!(2))])
        .await
        .expect("change");
    let err = store
        .record_applied(Generation(2), Some(&a))
        .await
        .expect_err("A was deposed");
    assert!(
        matches!(err, StoreError::LeaseLost { token: 1, .. }),
        "{}",
        chain(&err)
    );
    assert_eq!(store.generations().await.expect("state").1, Generation(1));
    store
        .record_applied(Generation(2), Some(&b))
        .await
        .expect("B records");
}

async fn idempotency_replays_the_first_answer_and_refuses_another_body(db: TestDb) {
    let store = db.open().await;
    let t = Some("acme");
    assert_eq!(
        store.idempotency_begin(t, "k1", "h1").await.expect("begin"),
        IdempotencyBegin::Started
    );
    // While the first request runs, a retry is told so (not run twice).
    assert_eq!(
        store.idempotency_begin(t, "k1", "h1").await.expect("again"),
        IdempotencyBegin::InProgress
    );
    store
        .idempotency_finish(t, "k1", "h1", 201, r#"{"id":"n-1"}"#)
        .await
        .expect("finish");
    match store
        .idempotency_begin(t, "k1", "h1")
        .await
        .expect("replay")
    {
        IdempotencyBegin::Replay(rec) => {
            assert_eq!(
                (rec.status, rec.response.as_str()),
                (201, r#"{"id":"n-1"}"#)
            );
            assert_eq!(rec.request_hash, "h1");
        }
        other => panic!("{}: expected the stored answer: {other:?}", db.backend),
    }
    assert_eq!(
        store
            .idempotency_begin(t, "k1", "h2")
            .await
            .expect("other body"),
        IdempotencyBegin::Mismatch {
            stored_hash: "h1".into()
        }
    );
    // Keys are per tenant: another tenant (or the operator) may use the same key.
    assert_eq!(
        store
            .idempotency_begin(Some("beta"), "k1", "h2")
            .await
            .expect("beta"),
        IdempotencyBegin::Started
    );
    assert_eq!(
        store.idempotency_begin(None, "k1", "h3").await.expect("op"),
        IdempotencyBegin::Started
    );
    // A finished answer cannot be overwritten; an unknown key cannot be finished.
    let err = store
        .idempotency_finish(t, "k1", "h1", 500, "{}")
        .await
        .expect_err("twice");
    assert!(
        matches!(err, StoreError::IdempotencyNotReserved { .. }),
        "{}",
        chain(&err)
    );
    let err = store
        .idempotency_finish(t, "nope", "h1", 200, "{}")
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, StoreError::IdempotencyNotReserved { .. }),
        "{}",
        chain(&err)
    );
    // A request that failed early frees its key for the retry.
    store.idempotency_begin(t, "k2", "h").await.expect("k2");
    store
        .idempotency_abandon(t, "k2", "h")
        .await
        .expect("abandon");
    assert_eq!(
        store.idempotency_begin(t, "k2", "h").await.expect("retry"),
        IdempotencyBegin::Started
    );
    // The sweep removes old records only (database clock).
    assert_eq!(store.sweep_idempotency(LONG).await.expect("sweep none"), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        store
            .sweep_idempotency(Duration::from_millis(1))
            .await
            .expect("sweep"),
        4
    );
    assert_eq!(
        store
            .idempotency_begin(t, "k1", "h2")
            .await
            .expect("after sweep"),
        IdempotencyBegin::Started
    );
    // Concurrent first uses of one key: exactly one starts.
    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.idempotency_begin(Some("acme"), "race", "h").await
        }));
    }
    let mut started = 0;
    for h in handles {
        match h.await.expect("task").expect("begin") {
            IdempotencyBegin::Started => started += 1,
            IdempotencyBegin::InProgress => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(started, 1, "{}", db.backend);
}
