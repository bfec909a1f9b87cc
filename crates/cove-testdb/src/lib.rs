//! Test support only: a throwaway database per test.
//!
//! Every store, API and reconciler test runs against a fresh SQLite file and a fresh
//! PostgreSQL database ([`TestDb`]). PostgreSQL comes from `COVE_TEST_POSTGRES_URL`
//! (scripts/test.sh starts one throwaway server for the whole run:
//! scripts/pg-throwaway.sh). Without it, `CI=true` is a failure, never a skip;
//! otherwise the test process starts its own throwaway server with the same script,
//! stopped when the process exits. Each test gets its own `cvtd_…` database, dropped
//! afterwards (also when the test fails: [`TestDb`]'s `Drop`).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Runs each named `async fn(TestDb)` as two tests: `NAME::sqlite` and
/// `NAME::postgres` (the calling crate needs `tokio` with `macros` and
/// `rt-multi-thread`).
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::TestDb::sqlite()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::TestDb::postgres().await).await
            }
        }
    )* };
}

/// Which database a [`TestDb`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A database on the throwaway PostgreSQL server.
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
        "cvtd_{tag}_{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The PostgreSQL server's URL (see the crate doc): `COVE_TEST_POSTGRES_URL`, or a
/// throwaway server started for this process (a panic with `CI=true`).
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
            "COVE_TEST_POSTGRES_URL is not set and CI=true: every test with a store runs \
             against PostgreSQL too. Run `bash scripts/test.sh`, or \
             `bash scripts/pg-throwaway.sh run -- cargo test -p CRATE`"
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-throwaway.sh");
        let out = std::process::Command::new("timeout")
            .args([
                "120",
                "bash",
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
pub fn with_database(url: &str, name: &str) -> String {
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

/// A future to run on [`on_own_runtime`].
type Job<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// Runs `f` on a thread of its own with a current-thread runtime (usable from
/// synchronous code and from inside another runtime alike); `Err` if it panicked.
fn on_own_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Job<T> + Send + 'static,
) -> std::thread::Result<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the test database")
            .block_on(f())
    })
    .join()
}

impl TestDb {
    /// A SQLite file in a fresh private directory.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(unique("sqlite"));
        std::fs::create_dir_all(&dir).expect("create the test dir");
        let path = dir.join("cove.db");
        TestDb {
            url: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite.as_str(),
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
            backend: Backend::Postgres.as_str(),
            sqlite_path: None,
            cleanup: Cleanup::PgDatabase { admin, name },
        }
    }

    /// [`TestDb::postgres`] for synchronous tests.
    pub fn postgres_blocking() -> TestDb {
        on_own_runtime(|| Box::pin(TestDb::postgres()))
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// A fresh database of `backend` (synchronous).
    pub fn of_blocking(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres_blocking(),
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
                let _ = on_own_runtime(move || {
                    Box::pin(async move {
                        if let Ok(mut conn) = PgConnection::connect(&admin).await {
                            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&mut conn)
                            .await;
                        }
                    })
                });
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

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(
            with_database(
                "postgres://u@127.0.0.1:5/postgres?sslmode=disable",
                "cvtd_x"
            ),
            "postgres://u@127.0.0.1:5/cvtd_x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5", "cvtd_x"),
            "postgres://u@127.0.0.1:5/cvtd_x"
        );
    }
}
