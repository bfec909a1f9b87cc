//! Test databases: every store test runs against a fresh SQLite file and a fresh
//! PostgreSQL database.
//!
//! PostgreSQL comes from `COVE_TEST_POSTGRES_URL` (scripts/test.sh starts one throwaway
//! server for the whole run: scripts/pg-throwaway.sh). Without it, `CI=true` is a
//! failure; otherwise this test process starts its own throwaway server with the same
//! script, stopped when the process exits. Each test gets its own `cvst_…` database,
//! dropped afterwards.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Runs each named `async fn(TestDb)` as two tests: `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::TestDb::sqlite()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::TestDb::postgres().await).await
            }
        }
    )* };
}

/// A fresh database; removed on drop.
pub struct TestDb {
    /// Its `--database` URL.
    pub url: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The SQLite file (`None` for PostgreSQL).
    pub sqlite_path: Option<PathBuf>,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    PgDatabase { admin: String, name: String },
}

fn unique(tag: &str) -> String {
    format!(
        "cvst_{tag}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The PostgreSQL server's URL (see the module doc).
pub fn postgres_admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("COVE_TEST_POSTGRES_URL") {
            if !url.is_empty() {
                return url;
            }
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "COVE_TEST_POSTGRES_URL is not set and CI=true: every store test runs against \
             PostgreSQL too. Run `bash scripts/test.sh`, or \
             `bash scripts/pg-throwaway.sh run -- cargo test -p cove-store`"
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-throwaway.sh");
        let out = std::process::Command::new("bash")
            .args([
                script,
                "start",
                "--watch-pid",
                &std::process::id().to_string(),
            ])
            .output()
            .expect("run scripts/pg-throwaway.sh");
        assert!(
            out.status.success(),
            "scripts/pg-throwaway.sh start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("export COVE_TEST_POSTGRES_URL="))
            .expect("the script prints the URL")
            .to_owned()
    })
    .clone()
}

/// `url` naming database `name` instead.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl TestDb {
    /// A SQLite file in a fresh private directory.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(unique("sqlite"));
        std::fs::create_dir_all(&dir).expect("create the test dir");
        let path = dir.join("cove.db");
        TestDb {
            url: format!("sqlite://{}", path.display()),
            backend: "sqlite",
            sqlite_path: Some(path),
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh database on the test PostgreSQL server.
    pub async fn postgres() -> TestDb {
        let admin = postgres_admin_url();
        let name = unique("pg");
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", cove_store::redact(&admin)));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let _ = conn.close().await;
        TestDb {
            url: with_database(&admin, &name),
            backend: "postgres",
            sqlite_path: None,
            cleanup: Cleanup::PgDatabase { admin, name },
        }
    }

    /// Opens the store (migrating it).
    pub async fn open(&self) -> cove_store::Store {
        cove_store::Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {}: {}", self.backend, chain(&e)))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PgDatabase { admin, name } => {
                let (admin, name) = (admin.clone(), name.clone());
                // Drop may run inside the test's runtime: a thread with its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async {
                        if let Ok(mut conn) = PgConnection::connect(&admin).await {
                            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut conn)
                            .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// An error with its sources, for assertion messages.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

/// A change's metadata for tests.
pub fn meta(request: &str) -> cove_store::ChangeMeta {
    cove_store::ChangeMeta {
        tenant: Some("acme".into()),
        token_id: Some("tok-1".into()),
        request_id: Some(request.into()),
        summary: format!("test {request}"),
    }
}

/// A `Put` of a JSON value.
pub fn put(
    kind: &str,
    tenant: Option<&str>,
    key: &str,
    value: serde_json::Value,
) -> cove_store::DocOp {
    cove_store::DocOp::put(cove_store::DocId::new(kind, tenant, key), &value).expect("json")
}
