//! Opening a store: the SQLite file (created 0600, WAL, busy timeout) or the PostgreSQL
//! pool, then the migrations.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Database, Transaction};

use crate::error::StoreError;
use crate::url::DatabaseUrl;

/// The migrations (`crates/cove-store/migrations/`), one set for both backends.
static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");
/// The migrations table: prefixed like every object cove owns (sqlx's default
/// `_sqlx_migrations` could belong to another program in an operator's database).
const MIGRATIONS_TABLE: &str = "cove_migrations";

/// Connection settings.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// The most connections the pool opens (SQLite: readers in parallel; writers take
    /// turns anyway).
    pub max_connections: u32,
    /// How long a SQLite writer waits for the write lock, and how long any caller waits
    /// for a pooled connection.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            max_connections: 8,
            busy_timeout: Duration::from_secs(30),
        }
    }
}

/// The connection pool of one backend.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    /// Embedded SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// A handle on the store (cheap to clone: clones share the pool).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
    /// The URL, password redacted, for messages.
    pub(crate) db: String,
}

impl Store {
    /// Opens (and migrates) the store named by a `--database` value:
    /// `sqlite:///ABSOLUTE/PATH` or `postgres://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(&DatabaseUrl::parse(url)?, &StoreOptions::default()).await
    }

    /// Opens (and migrates) the store at `url` with `options`.
    pub async fn open_with(url: &DatabaseUrl, options: &StoreOptions) -> Result<Store, StoreError> {
        let db = url.redacted();
        match url {
            DatabaseUrl::Sqlite { path } => open_sqlite(path, db, options).await,
            DatabaseUrl::Postgres { url } => open_postgres(url, db, options).await,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// The database's URL with its password redacted.
    pub fn url(&self) -> &str {
        &self.db
    }

    /// Closes every connection (waits for those in use to come back).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }

    /// Runs the migrations again (they are idempotent: applied ones are skipped, and a
    /// changed applied migration is an error).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrate_err = |source| StoreError::Migrate {
            db: self.db.clone(),
            source,
        };
        match &self.backend {
            Backend::Sqlite(p) => migrator().run(p).await.map_err(migrate_err),
            Backend::Postgres(p) => migrator().run(p).await.map_err(migrate_err),
        }
    }

    pub(crate) fn begin_err(&self, what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        let db = self.db.clone();
        move |source| StoreError::Begin { what, db, source }
    }

    pub(crate) fn query_err(
        &self,
        step: impl Into<String>,
    ) -> impl FnOnce(sqlx::Error) -> StoreError {
        let (step, db) = (step.into(), self.db.clone());
        move |source| StoreError::Query { step, db, source }
    }

    /// Commits `tx` if `result` is `Ok`, else rolls it back (explicitly, so the
    /// connection goes back to the pool clean) and returns the error.
    pub(crate) async fn finish<DB: Database, T>(
        &self,
        tx: Transaction<'static, DB>,
        what: &'static str,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match result {
            Ok(value) => {
                tx.commit().await.map_err(|source| StoreError::Commit {
                    what,
                    db: self.db.clone(),
                    source,
                })?;
                Ok(value)
            }
            Err(err) => {
                // The error being returned is the one that matters; a failed rollback
                // also ends the transaction (the connection is then discarded).
                let _ = tx.rollback().await;
                Err(err)
            }
        }
    }
}

fn migrator() -> Migrator {
    let mut m = Migrator::with_migrations(MIGRATIONS.iter().cloned().collect());
    m.dangerous_set_table_name(MIGRATIONS_TABLE);
    m
}

/// The file's -wal and -shm companions.
fn companions(path: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [with("-wal"), with("-shm")]
}

/// Sets mode 0600 on the database file and on its -wal/-shm if they exist (SQLite gives
/// those the main file's mode; this also fixes files made by something else).
fn make_private(path: &Path) -> Result<(), StoreError> {
    let set = |p: &Path| {
        std::fs::set_permissions(p, Permissions::from_mode(0o600)).map_err(|source| {
            StoreError::SetMode {
                path: p.to_owned(),
                source,
            }
        })
    };
    set(path)?;
    for p in companions(path) {
        if p.exists() {
            set(&p)?;
        }
    }
    Ok(())
}

/// Takes an exclusive `flock` on the database's directory: opening processes take turns
/// to create and migrate the file (sqlx's SQLite migrator has no lock of its own). The
/// directory, not the file: closing a descriptor of the database file would drop the
/// POSIX locks SQLite holds on it in this process.
async fn lock_dir(dir: PathBuf, db_path: &Path) -> Result<Flock<File>, StoreError> {
    let lock_err = |source| StoreError::MigrationLock {
        path: db_path.to_owned(),
        source,
    };
    tokio::task::spawn_blocking(move || {
        let file = File::open(&dir)?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| std::io::Error::from(errno))
    })
    .await
    .map_err(|join| lock_err(std::io::Error::other(join.to_string())))?
    .map_err(lock_err)
}

async fn open_sqlite(path: &Path, db: String, options: &StoreOptions) -> Result<Store, StoreError> {
    let create_err = |p: &Path| {
        let p = p.to_owned();
        move |source| StoreError::CreateFile { path: p, source }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("/"))
        .to_owned();
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(create_err(&dir))?;
    }
    let _lock = lock_dir(dir, path).await?;
    if !path.exists() {
        // Created here with 0600 (not by SQLite with 0644 minus umask); the descriptor is
        // closed before SQLite opens the file.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(create_err(path))?;
    }
    make_private(path)?;
    let connect = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(options.busy_timeout)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.busy_timeout)
        .connect_with(connect)
        .await
        .map_err(|source| StoreError::Connect {
            db: db.clone(),
            source,
        })?;
    let store = Store {
        backend: Backend::Sqlite(pool),
        db,
    };
    store.migrate().await?;
    make_private(path)?;
    Ok(store)
}

async fn open_postgres(url: &str, db: String, options: &StoreOptions) -> Result<Store, StoreError> {
    let connect = PgConnectOptions::from_str(url).map_err(|source| StoreError::ParseUrl {
        db: db.clone(),
        source,
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.busy_timeout)
        .connect_with(connect)
        .await
        .map_err(|source| StoreError::Connect {
            db: db.clone(),
            source,
        })?;
    let store = Store {
        backend: Backend::Postgres(pool),
        db,
    };
    store.migrate().await?;
    Ok(store)
}
