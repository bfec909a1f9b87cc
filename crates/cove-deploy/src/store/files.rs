//! Reading and writing cove's state files (`applied.yaml`, `deployed.yaml`,
//! `functions.json`, `generation.yaml`) and spec files: reads are size-capped and every failure but a
//! missing file is an error that names the file; writes are atomic (temporary file in
//! the same directory, fsync, rename) and YAML state ends with a checksum trailer
//! (required), so a truncated or damaged file is never read as a smaller deployment.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The largest spec or state file cove reads (64 MiB): a spec pointing at
/// `/dev/zero` is refused, not read until memory runs out.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The last line of a YAML state file: `# cove-sha256: <hex of everything before>`.
const TRAILER: &str = "# cove-sha256: ";

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed (permissions, I/O error, a directory, …).
    #[error("reading failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`] (or endless, like `/dev/zero`).
    #[error("larger than the {limit} MiB cove reads (or endless, like /dev/zero)", limit = MAX_FILE_BYTES >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("not UTF-8 text (invalid byte at offset {offset})")]
    NotText {
        /// The file.
        path: PathBuf,
        /// Where the first invalid byte is.
        offset: usize,
    },
}

/// Reads `path` as UTF-8 text of at most [`MAX_FILE_BYTES`]; `Ok(None)` if it does
/// not exist.
pub fn read_text(path: &Path) -> Result<Option<String>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
        });
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| ReadError::NotText {
            path: path.to_owned(),
            offset: e.utf8_error().valid_up_to(),
        })
}

/// A state file that cannot be trusted; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be read.
    #[error("cannot use the state file {path}; {fix}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What to do.
        fix: String,
        /// Why.
        #[source]
        source: ReadError,
    },
    /// The file ends early (its checksum trailer is missing or does not match).
    #[error(
        "the state file {path} is truncated or damaged (its checksum line is missing or does not match); {fix}"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What to do.
        fix: String,
    },
    /// The file does not parse.
    #[error("the state file {path} is corrupt ({reason}); {fix}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// What to do.
        fix: String,
    },
}

/// Which state file, for the advice in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `applied.yaml`: the last applied spec (rewritten by every apply).
    Applied,
    /// `deployed.yaml`: the functions deployed with `cove fn deploy` (recorded only
    /// here).
    Deployed,
    /// `functions.json`: the applied functions' code snapshots (rewritten by every
    /// apply).
    Registry,
    /// `generation.yaml`: the desired and the applied generation.
    Generation,
}

impl Kind {
    /// What the user can safely do about a bad file of this kind.
    pub fn fix(self, path: &Path) -> String {
        match self {
            Kind::Applied | Kind::Registry | Kind::Generation => format!(
                "move it aside (`mv {p} {p}.bad`) and run `cove apply -f SPEC` with the spec you last applied (apply compares the kernel with SPEC itself and writes the file again), or run `cove destroy` to remove the deployment",
                p = path.display()
            ),
            Kind::Deployed => format!(
                "it is the only record of the functions deployed with `cove fn deploy`: restore it from a backup, or move it aside (`mv {p} {p}.bad`) and deploy those functions again (until then `cove apply` removes their network slots); `cove destroy` removes the deployment",
                p = path.display()
            ),
        }
    }
}

/// Reads a state file: `Ok(None)` if absent; the content without its trailer if
/// intact. YAML state files end with a checksum trailer, which must match.
pub fn read_state(path: &Path, kind: Kind) -> Result<Option<String>, StateError> {
    let text = read_text(path).map_err(|source| StateError::Unreadable {
        path: path.to_owned(),
        fix: kind.fix(path),
        source,
    })?;
    let Some(text) = text else {
        return Ok(None);
    };
    if kind == Kind::Registry {
        return Ok(Some(text));
    }
    match verified_body(&text) {
        Some(body) => Ok(Some(body.to_owned())),
        None => Err(StateError::Damaged {
            path: path.to_owned(),
            fix: kind.fix(path),
        }),
    }
}

/// The body of `text` if its last line is a trailer with the body's checksum (a file
/// cut short loses its trailer, so a missing trailer is damage too).
fn verified_body(text: &str) -> Option<&str> {
    let body_end = text.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
    let hex = text[body_end..]
        .trim_end_matches('\n')
        .strip_prefix(TRAILER)?;
    let body = &text[..body_end];
    (hex == checksum(body)).then_some(body)
}

fn checksum(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` with the checksum trailer that [`read_state`] verifies.
#[cfg(test)]
pub fn with_trailer(text: &str) -> String {
    let mut body = text.to_owned();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let sum = checksum(&body);
    body.push_str(TRAILER);
    body.push_str(&sum);
    body.push('\n');
    body
}

/// Why a state file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The state directory could not be created.
    #[error("cannot create the state directory {dir}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The temporary file could not be written and synced.
    #[error("cannot write {tmp}")]
    Write {
        /// The temporary file.
        tmp: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The temporary file could not replace the state file.
    #[error("cannot replace {path}")]
    Rename {
        /// The state file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Creates (or truncates) a file for cove's state: the one place new state files are
/// opened, so that their mode is decided here.
pub fn create_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Writes `bytes` to a temporary file in `path`'s directory, syncs it, renames it
/// over `path` and syncs the directory: readers see the old file or the new one,
/// never a part, even after a crash.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| WriteError::CreateDir {
        dir: dir.to_owned(),
        source,
    })?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = create_file(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError::Write { tmp, source });
    }
    if let Err(source) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError::Rename {
            path: path.to_owned(),
            source,
        });
    }
    // The rename itself is durable once the directory is synced (best effort).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temp dir")
    }

    #[test]
    fn a_missing_file_is_none_and_a_written_one_reads_back() {
        let d = dir();
        let p = d.path().join("s").join("applied.yaml");
        assert!(read_state(&p, Kind::Applied).expect("read").is_none());
        write_atomically(&p, with_trailer("tenants: []\n").as_bytes()).expect("write");
        assert_eq!(
            read_state(&p, Kind::Applied).expect("read").as_deref(),
            Some("tenants: []\n")
        );
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn truncated_or_damaged_state_is_an_error_naming_the_file() {
        let d = dir();
        let p = d.path().join("deployed.yaml");
        let full = with_trailer("- vpc: a/b\n  function:\n    name: f\n- vpc: a/b\n");
        let no_trailer = "- vpc: a/b\n  function:\n    name: f\n";
        for bad in [&full[..full.len() - 10], &full[..20], "", "\n", no_trailer] {
            std::fs::write(&p, bad).unwrap();
            let e = read_state(&p, Kind::Deployed).expect_err(bad);
            assert!(matches!(e, StateError::Damaged { .. }), "{bad:?}: {e:?}");
            let msg = e.to_string();
            assert!(msg.contains(&p.display().to_string()), "{msg}");
            assert!(msg.contains("cove fn deploy"), "{msg}");
        }
        let flipped = full.replacen("name: f", "name: g", 1);
        std::fs::write(&p, flipped).unwrap();
        assert!(matches!(
            read_state(&p, Kind::Deployed),
            Err(StateError::Damaged { .. })
        ));
    }

    #[test]
    fn unreadable_binary_and_oversized_files_are_distinct_errors() {
        let d = dir();
        // A directory where the file should be.
        let e = read_state(d.path(), Kind::Applied).expect_err("a directory");
        assert!(
            matches!(
                &e,
                StateError::Unreadable {
                    source: ReadError::Io { .. },
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("cove apply -f SPEC"), "{e}");
        // Binary garbage.
        let p = d.path().join("applied.yaml");
        std::fs::write(&p, [0x00, 0xff, 0xfe, 0x80]).unwrap();
        let e = read_state(&p, Kind::Applied).expect_err("binary");
        assert!(
            matches!(
                &e,
                StateError::Unreadable {
                    source: ReadError::NotText { offset: 1, .. },
                    ..
                }
            ),
            "{e:?}"
        );
        // Endless and too large.
        assert!(matches!(
            read_text(Path::new("/dev/zero")),
            Err(ReadError::TooLarge { .. })
        ));
        let big = d.path().join("big.yaml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        assert!(matches!(read_text(&big), Err(ReadError::TooLarge { .. })));
        f.set_len(MAX_FILE_BYTES).unwrap();
        assert_eq!(
            read_text(&big).unwrap().map(|t| t.len() as u64),
            Some(MAX_FILE_BYTES)
        );
    }
}
