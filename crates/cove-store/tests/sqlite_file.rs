//! The embedded SQLite file: created 0600 whatever the umask, WAL (its -wal and -shm
//! 0600 too), an existing file's mode fixed, a bad `--database` value refused with the
//! accepted forms.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{TestDb, meta, put};
use cove_store::{Store, StoreError};
use serde_json::json;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn companion(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

#[tokio::test]
async fn the_database_and_its_wal_and_shm_are_0600_in_wal_mode() {
    // A permissive umask, as a careless service manager might leave: the files must
    // still be private. (umask is per process; the other test here creates no file.)
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o000));
    let db = TestDb::sqlite();
    let path = db.sqlite_path.clone().expect("sqlite");
    let store = db.open().await;
    store
        .change(&meta("1"), None, &[put("k", None, "a", json!(1))])
        .await
        .expect("change");
    let (wal, shm) = (companion(&path, "-wal"), companion(&path, "-shm"));
    assert!(
        wal.exists() && shm.exists(),
        "WAL mode keeps a -wal and a -shm beside the file"
    );
    for p in [&path, &wal, &shm] {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    let journal: (String,) = match sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut sqlx_conn(&path).await)
        .await
    {
        Ok(row) => row,
        Err(e) => panic!("read journal_mode: {e}"),
    };
    assert_eq!(journal.0, "wal");
    store.close().await;

    // A file something else made world-readable is made private again on open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = db.open().await;
    assert_eq!(mode(&path), 0o600);
    store.close().await;

    // A missing directory is created private.
    let nested = path.parent().expect("dir").join("state/cove.db");
    let store = Store::open(&format!("sqlite://{}", nested.display()))
        .await
        .expect("nested");
    assert_eq!(mode(nested.parent().expect("dir")), 0o700);
    assert_eq!(mode(&nested), 0o600);
    store.close().await;
}

async fn sqlx_conn(path: &Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    sqlx::SqliteConnection::connect_with(&opts)
        .await
        .expect("connect")
}

#[tokio::test]
async fn a_bad_database_value_names_the_accepted_forms() {
    for value in [
        "sqlite://cove.db",
        "mysql://root:pw@localhost/cove",
        "cove.db",
    ] {
        let err = Store::open(value).await.expect_err(value);
        assert!(matches!(err, StoreError::BadUrl { .. }), "{value}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains("sqlite:///ABSOLUTE/PATH") && msg.contains("postgres://"),
            "{msg}"
        );
        assert!(!msg.contains(":pw@"), "the password is redacted: {msg}");
    }
    // A PostgreSQL server that does not answer: the error names it, password redacted.
    let opts = cove_store::StoreOptions {
        busy_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let url =
        cove_store::DatabaseUrl::parse("postgres://cove:hunter2@127.0.0.1:1/cove").expect("url");
    let err = Store::open_with(&url, &opts)
        .await
        .expect_err("nothing listens on port 1");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{msg}");
    assert!(
        msg.contains("postgres://cove:***@127.0.0.1:1/cove") && !msg.contains("hunter2"),
        "{msg}"
    );
}
