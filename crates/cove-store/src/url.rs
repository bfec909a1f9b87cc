//! The `--database` value: which backend, and the URL with its password redacted for
//! messages (pure).

use std::path::PathBuf;

use crate::error::StoreError;

/// The forms `--database` accepts, for error messages.
pub const ACCEPTED_FORMS: &str = "sqlite:///ABSOLUTE/PATH/cove.db (an embedded SQLite file, \
created if missing) or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (also postgresql://)";

/// A parsed `--database` value.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An embedded SQLite database in one file (created if missing).
    Sqlite {
        /// The database file (absolute).
        path: PathBuf,
    },
    /// A PostgreSQL server.
    Postgres {
        /// The URL as given (with its password, if any; never print it: use
        /// [`DatabaseUrl::redacted`]).
        url: String,
    },
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// Parses `sqlite:///ABSOLUTE/PATH` or `postgres://…` / `postgresql://…`.
    pub fn parse(value: &str) -> Result<DatabaseUrl, StoreError> {
        let bad = |reason: &str| StoreError::BadUrl {
            url: redact(value),
            reason: reason.to_owned(),
        };
        if let Some(rest) = value.strip_prefix("sqlite://") {
            if rest.contains('?') || rest.contains('#') {
                return Err(bad(
                    "options in a sqlite URL are not supported (cove sets WAL, 0600 and the busy timeout itself): remove everything from `?`",
                ));
            }
            if !rest.starts_with('/') {
                return Err(bad(
                    "the SQLite path must be absolute: write sqlite:///ABSOLUTE/PATH (three slashes)",
                ));
            }
            if rest.ends_with('/') {
                return Err(bad("the SQLite path names a directory: add a file name"));
            }
            return Ok(DatabaseUrl::Sqlite {
                path: PathBuf::from(rest),
            });
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            let after = value.split_once("://").map_or("", |(_, r)| r);
            if after.is_empty() || after.starts_with('/') && !after.contains("host=") {
                return Err(bad("the PostgreSQL URL names no host"));
            }
            return Ok(DatabaseUrl::Postgres {
                url: value.to_owned(),
            });
        }
        if value.starts_with("sqlite:") {
            return Err(bad(
                "write sqlite:///ABSOLUTE/PATH (in-memory and relative SQLite databases are not supported)",
            ));
        }
        Err(bad("unknown scheme"))
    }

    /// A SQLite database in `path` (e.g. `<state>/cove.db`).
    pub fn sqlite_file(path: impl Into<PathBuf>) -> DatabaseUrl {
        DatabaseUrl::Sqlite { path: path.into() }
    }

    /// The URL for messages and logs: the password (in the authority or a `password=`
    /// parameter) replaced by `***`.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => redact(url),
        }
    }

    /// The backend's name: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite { .. } => "sqlite",
            DatabaseUrl::Postgres { .. } => "postgres",
        }
    }
}

/// `url` with any password replaced by `***`: the userinfo's password and every
/// `password=` query parameter.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_userinfo_and_parameters() {
        assert_eq!(
            redact("postgres://cove:s3cr:et@db.example:5432/cove"),
            "postgres://cove:***@db.example:5432/cove"
        );
        assert_eq!(
            redact("postgres://cove@db/cove?sslmode=require&password=hunter2"),
            "postgres://cove@db/cove?sslmode=require&password=***"
        );
        assert_eq!(redact("postgres://db/cove"), "postgres://db/cove");
        let parsed = DatabaseUrl::parse("postgresql://u:pw@h/d").expect("valid");
        assert_eq!(format!("{parsed:?}"), "postgresql://u:***@h/d");
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/cove/cove.db").expect("valid"),
            DatabaseUrl::sqlite_file("/var/lib/cove/cove.db")
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://cove@localhost/cove")
                .expect("valid")
                .backend(),
            "postgres"
        );
    }

    #[test]
    fn bad_values_name_the_accepted_forms_and_hide_the_password() {
        for (value, reason) in [
            ("mysql://u:topsecret@h/d", "unknown scheme"),
            ("sqlite://relative/cove.db", "must be absolute"),
            ("sqlite::memory:", "in-memory"),
            ("sqlite:///tmp/cove.db?mode=rwc", "options"),
            ("sqlite:///tmp/", "directory"),
            ("postgres://", "no host"),
            ("/var/lib/cove.db", "unknown scheme"),
        ] {
            let err = DatabaseUrl::parse(value).expect_err(value);
            let msg = err.to_string();
            assert!(msg.contains(reason), "{value}: {msg}");
            assert!(msg.contains("sqlite:///ABSOLUTE/PATH"), "{msg}");
            assert!(msg.contains("postgres://"), "{msg}");
            assert!(msg.contains("--database"), "{msg}");
            assert!(!msg.contains("topsecret"), "{msg}");
        }
    }
}
