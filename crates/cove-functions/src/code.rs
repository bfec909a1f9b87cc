//! Code snapshots. A function's code (a directory or a `.zip`) is copied into a
//! content-addressed store, `<store>/<sha256>/`, when the spec is applied or the
//! function deployed: later edits to the source do not change a deployed function
//! (as with Lambda's deployment packages), and identical code is stored once.
//!
//! A snapshot's files are readable (environments run as an unprivileged user) and
//! never written again; it is mounted read-only at `/var/task` of the environments
//! that run it, which is their only way to it: the store itself is root's alone
//! (`0700`), and environments have their own root file system.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::CodeRef;

/// Lambda's limit on the unzipped size of a function's code (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// A failed snapshot. Nothing is left in the store.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The code path does not exist or cannot be read.
    #[error("cannot read the code at {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// Neither a directory nor a `.zip` file.
    #[error(
        "the code at {path} is neither a directory nor a .zip file; give a directory or a .zip"
    )]
    NotCode {
        /// The path.
        path: PathBuf,
    },
    /// The zip file is malformed or has an entry that would land outside the code.
    #[error("the zip file {path} cannot be unpacked: {reason}; rebuild the archive")]
    Zip {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Over Lambda's unzipped-size limit.
    #[error(
        "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes (the code at {path} has {size}); leave out what the function does not need"
    )]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// Writing into the store failed.
    #[error("cannot write the code snapshot under {path}")]
    Store {
        /// The path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// Snapshots the code at `src` (a directory or a `.zip`) into `store`. A snapshot
/// already in `store` is used as it is.
pub fn snapshot(src: &Path, store: &Path) -> Result<CodeRef, CodeError> {
    let read = |source| CodeError::Read {
        path: src.to_owned(),
        source,
    };
    let meta = fs::metadata(src).map_err(read)?;
    if let Some(existing) = stored(src, store, &meta) {
        return Ok(existing);
    }
    let store_err = |path: &Path| {
        let path = path.to_owned();
        move |source| CodeError::Store { path, source }
    };
    fs::create_dir_all(store).map_err(store_err(store))?;
    // Root only: a snapshot is read by the environments that run it through their
    // read-only bind at /var/task, never through this path.
    fs::set_permissions(store, fs::Permissions::from_mode(0o700)).map_err(store_err(store))?;
    // A directory is hashed where it is: code already stored is not copied again
    // (every `cove apply` snapshots every function's code).
    let known = if meta.is_dir() {
        let (sha256, size) = digest(src, src)?;
        check_size(src, size)?;
        let dir = store.join(&sha256);
        if dir.is_dir() {
            return Ok(CodeRef { sha256, dir, size });
        }
        Some((sha256, size))
    } else {
        None
    };
    let tmp = store.join(format!(".tmp-{}-{}", std::process::id(), unique()));
    let result = (|| {
        if meta.is_dir() {
            copy_tree(src, &tmp)?;
        } else if meta.is_file()
            && src
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        {
            unzip(src, &tmp)?;
        } else {
            return Err(CodeError::NotCode {
                path: src.to_owned(),
            });
        }
        // The copy hashes as its source does (same names, kinds, executable bits,
        // contents), so a directory's hash is not computed twice.
        let (sha256, size) = match known.clone() {
            Some(k) => k,
            None => digest(&tmp, src)?,
        };
        check_size(src, size)?;
        let dir = store.join(&sha256);
        if dir.is_dir() {
            // Identical code is already stored.
            remove_tree(&tmp);
        } else if let Err(e) = fs::rename(&tmp, &dir) {
            // Another snapshot of the same code may have been renamed into place
            // meanwhile (two uploads at once): that one is as good.
            if !dir.is_dir() {
                return Err(store_err(&dir)(e));
            }
            remove_tree(&tmp);
        }
        Ok(CodeRef { sha256, dir, size })
    })();
    if result.is_err() {
        remove_tree(&tmp);
    }
    result
}

/// Refuses code over Lambda's unzipped-size limit.
fn check_size(src: &Path, size: u64) -> Result<(), CodeError> {
    if size > MAX_UNZIPPED_BYTES {
        return Err(CodeError::TooLarge {
            path: src.to_owned(),
            size,
        });
    }
    Ok(())
}

/// `src` itself, if it is a snapshot directory of `store` (`<store>/<64 hex>`).
fn stored(src: &Path, store: &Path, meta: &fs::Metadata) -> Option<CodeRef> {
    let name = src.file_name()?.to_str()?;
    let is_sha = name.len() == 64 && name.bytes().all(|c| c.is_ascii_hexdigit());
    let same_store = src.parent()?.canonicalize().ok()? == store.canonicalize().ok()?;
    if !(meta.is_dir() && is_sha && same_store) {
        return None;
    }
    let mut size = 0;
    du(src, &mut size).ok()?;
    Some(CodeRef {
        sha256: name.to_owned(),
        dir: src.to_owned(),
        size,
    })
}

fn du(dir: &Path, size: &mut u64) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let m = fs::symlink_metadata(e.path())?;
        if m.is_dir() {
            du(&e.path(), size)?;
        } else if m.is_file() {
            *size += m.len();
        }
    }
    Ok(())
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (u64::from(t) << 16) ^ N.fetch_add(1, Ordering::Relaxed)
}

fn remove_tree(p: &Path) {
    let _ = fs::remove_dir_all(p);
}

/// The readable mode of a copied file: world-readable, executable if any `x` bit.
fn file_mode(mode: u32) -> u32 {
    if mode & 0o111 != 0 { 0o755 } else { 0o644 }
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), CodeError> {
    let read = |p: &Path| {
        let path = p.to_owned();
        move |source| CodeError::Read { path, source }
    };
    let write = |p: &Path| {
        let path = p.to_owned();
        move |source| CodeError::Store { path, source }
    };
    fs::create_dir(to).map_err(write(to))?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).map_err(write(to))?;
    let mut entries: Vec<_> = fs::read_dir(from)
        .map_err(read(from))?
        .collect::<Result<_, _>>()
        .map_err(read(from))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for e in entries {
        let path = e.path();
        let target = to.join(e.file_name());
        let meta = fs::symlink_metadata(&path).map_err(read(&path))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let link = fs::read_link(&path).map_err(read(&path))?;
            symlink(&link, &target).map_err(write(&target))?;
        } else if kind.is_dir() {
            copy_tree(&path, &target)?;
        } else if kind.is_file() {
            fs::copy(&path, &target).map_err(write(&target))?;
            fs::set_permissions(&target, fs::Permissions::from_mode(file_mode(meta.mode())))
                .map_err(write(&target))?;
        }
        // Sockets, FIFOs and devices are not code: left out.
    }
    Ok(())
}

use std::os::unix::fs::MetadataExt;

fn unzip(zip_path: &Path, to: &Path) -> Result<(), CodeError> {
    let bad = |reason: String| CodeError::Zip {
        path: zip_path.to_owned(),
        reason,
    };
    let write = |p: &Path| {
        let path = p.to_owned();
        move |source| CodeError::Store { path, source }
    };
    let file = fs::File::open(zip_path).map_err(|source| CodeError::Read {
        path: zip_path.to_owned(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    fs::create_dir(to).map_err(write(to))?;
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).map_err(write(to))?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        let raw = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        if raw.starts_with('/') || raw.starts_with('\\') || raw.get(1..2) == Some(":") {
            return Err(bad(format!(
                "entry `{raw}` has an absolute path (paths are relative to the code's top)"
            )));
        }
        let Some(rel) = entry.enclosed_name() else {
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            return Err(bad(format!("entry `{name}` points outside the archive")));
        };
        let target = to.join(&rel);
        if entry.is_dir() {
            fs::create_dir_all(&target).map_err(write(&target))?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
                .map_err(write(&target))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(write(parent))?;
        }
        total = total.saturating_add(entry.size());
        if total > MAX_UNZIPPED_BYTES {
            return Err(CodeError::TooLarge {
                path: zip_path.to_owned(),
                size: total,
            });
        }
        let mode = entry.unix_mode().unwrap_or(0o644);
        if mode & 0o170_000 == 0o120_000 {
            // A symbolic link: kept as one if it stays inside the code, refused if it
            // would lead out of it (an absolute target, or `..` past the top).
            let mut link = String::new();
            entry
                .by_ref()
                .take(4096)
                .read_to_string(&mut link)
                .map_err(|e| bad(format!("entry `{}`: {e}", rel.display())))?;
            if !link_stays_inside(&rel, &link) {
                return Err(bad(format!(
                    "entry `{}` is a symbolic link to `{link}`, outside the archive",
                    rel.display()
                )));
            }
            symlink(&link, &target).map_err(write(&target))?;
            continue;
        }
        let mut out = fs::File::create(&target).map_err(write(&target))?;
        let mut buf = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
        entry
            .read_to_end(&mut buf)
            .map_err(|e| bad(format!("entry `{}`: {e}", rel_name(&target, to))))?;
        out.write_all(&buf).map_err(write(&target))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(file_mode(mode)))
            .map_err(write(&target))?;
    }
    // Directories created implicitly for files are made traversable too.
    fix_dirs(to).map_err(write(to))
}

/// Whether a link at `rel` (relative to the code's top) to `target` resolves inside
/// the code, by its text alone (links are not followed).
fn link_stays_inside(rel: &Path, target: &str) -> bool {
    let t = Path::new(target);
    if target.is_empty() || t.is_absolute() {
        return false;
    }
    // Depth of the link's directory below the top.
    let mut depth = rel.components().count().saturating_sub(1);
    for c in t.components() {
        match c {
            std::path::Component::Normal(_) => depth += 1,
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            std::path::Component::RootDir | std::path::Component::Prefix(_) => return false,
        }
    }
    true
}

fn rel_name(p: &Path, base: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

fn fix_dirs(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            fix_dirs(&e.path())?;
        }
    }
    Ok(())
}

/// SHA-256 over every entry's relative path, kind, mode and contents (sorted), and
/// the total size of the files.
fn digest(root: &Path, src: &Path) -> Result<(String, u64), CodeError> {
    let mut h = Sha256::new();
    let mut size = 0u64;
    walk(root, root, &mut h, &mut size).map_err(|source| CodeError::Read {
        path: src.to_owned(),
        source,
    })?;
    let bytes = h.finalize();
    Ok((bytes.iter().map(|b| format!("{b:02x}")).collect(), size))
}

fn walk(root: &Path, dir: &Path, h: &mut Sha256, size: &mut u64) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for e in entries {
        let path = e.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let meta = fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        if !(kind.is_symlink() || kind.is_dir() || kind.is_file()) {
            // Sockets, FIFOs and devices are not code (`copy_tree` leaves them out).
            continue;
        }
        h.update(rel.as_os_str().as_encoded_bytes());
        h.update([0]);
        if meta.file_type().is_symlink() {
            h.update(b"l");
            h.update(fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else if meta.is_dir() {
            h.update(b"d");
            walk(root, &path, h, size)?;
        } else {
            h.update(if meta.mode() & 0o111 != 0 { b"x" } else { b"f" });
            h.update(meta.len().to_le_bytes());
            *size += meta.len();
            let mut f = fs::File::open(&path)?;
            io::copy(&mut f, h)?;
        }
        h.update([0]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "cove-code-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        fs::create_dir_all(&d).expect("tmp");
        d
    }

    #[test]
    fn directory_and_zip_of_the_same_code_have_the_same_snapshot() {
        let base = tmpdir("same");
        let src = base.join("src");
        fs::create_dir_all(src.join("lib")).expect("mkdir");
        fs::write(src.join("app.py"), "def handler(e, c):\n    return e\n").expect("write");
        fs::write(src.join("lib/util.py"), "X = 1\n").expect("write");
        fs::write(src.join("bootstrap"), "#!/bin/sh\n").expect("write");
        fs::set_permissions(src.join("bootstrap"), fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let store = base.join("store");
        let a = snapshot(&src, &store).expect("dir snapshot");
        assert_eq!(
            fs::read_to_string(a.dir.join("lib/util.py")).expect("read"),
            "X = 1\n"
        );
        let mode = fs::metadata(a.dir.join("bootstrap")).expect("meta").mode() & 0o777;
        assert_eq!(
            mode, 0o755,
            "executables stay executable and become world-readable"
        );
        // Same code again: same snapshot, nothing new in the store.
        let again = snapshot(&src, &store).expect("again");
        assert_eq!(again, a);
        // The snapshot itself is recognised, not copied again.
        assert_eq!(snapshot(&a.dir, &store).expect("stored"), a);
        // The same files zipped.
        let zip_path = base.join("code.zip");
        let mut z = zip::ZipWriter::new(fs::File::create(&zip_path).expect("zip"));
        let opts = |mode| zip::write::SimpleFileOptions::default().unix_permissions(mode);
        z.start_file("app.py", opts(0o644)).expect("entry");
        z.write_all(b"def handler(e, c):\n    return e\n")
            .expect("write");
        z.start_file("bootstrap", opts(0o755)).expect("entry");
        z.write_all(b"#!/bin/sh\n").expect("write");
        z.start_file("lib/util.py", opts(0o600)).expect("entry");
        z.write_all(b"X = 1\n").expect("write");
        z.finish().expect("finish");
        let b = snapshot(&zip_path, &store).expect("zip snapshot");
        assert_eq!(b.sha256, a.sha256);
        // A change is a new snapshot; the old one stays.
        fs::write(src.join("lib/util.py"), "X = 2\n").expect("write");
        let c = snapshot(&src, &store).expect("changed");
        assert_ne!(c.sha256, a.sha256);
        assert!(a.dir.is_dir());
        let leftovers = fs::read_dir(&store)
            .expect("store")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
        remove_tree(&base);
    }

    #[test]
    fn bad_code_is_refused_and_leaves_nothing() {
        let base = tmpdir("bad");
        let store = base.join("store");
        let missing = snapshot(&base.join("nope"), &store);
        assert!(
            matches!(missing, Err(CodeError::Read { .. })),
            "{missing:?}"
        );
        fs::write(base.join("code.tar"), "x").expect("write");
        let not = snapshot(&base.join("code.tar"), &store);
        assert!(matches!(not, Err(CodeError::NotCode { .. })), "{not:?}");
        fs::write(base.join("broken.zip"), "not a zip").expect("write");
        let broken = snapshot(&base.join("broken.zip"), &store);
        assert!(matches!(broken, Err(CodeError::Zip { .. })), "{broken:?}");
        let evil = base.join("evil.zip");
        let mut z = zip::ZipWriter::new(fs::File::create(&evil).expect("zip"));
        z.start_file("../../escape", zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(b"x").expect("write");
        z.finish().expect("finish");
        let escaped = snapshot(&evil, &store);
        assert!(matches!(escaped, Err(CodeError::Zip { .. })), "{escaped:?}");
        assert_eq!(fs::read_dir(&store).expect("store").count(), 0);
        remove_tree(&base);
    }

    fn zip_with_link(path: &Path, link: &str, target: &str) {
        let mut z = zip::ZipWriter::new(fs::File::create(path).expect("zip"));
        z.start_file("lib/app.py", zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(b"X = 1\n").expect("write");
        z.add_symlink(link, target, zip::write::SimpleFileOptions::default())
            .expect("link");
        z.finish().expect("finish");
    }

    #[test]
    fn zip_links_inside_the_code_are_kept_and_escaping_ones_refused() {
        let base = tmpdir("links");
        let store = base.join("store");
        let ok = base.join("ok.zip");
        zip_with_link(&ok, "lib/alias.py", "app.py");
        let snap = snapshot(&ok, &store).expect("a link inside the code");
        assert_eq!(
            fs::read_link(snap.dir.join("lib/alias.py")).expect("link"),
            PathBuf::from("app.py")
        );
        for (i, (link, target)) in [
            ("etc", "/etc"),
            ("up", "../x"),
            ("lib/up2", "../../x"),
            ("lib/deep", "./../../etc/passwd"),
        ]
        .into_iter()
        .enumerate()
        {
            let evil = base.join(format!("evil{i}.zip"));
            zip_with_link(&evil, link, target);
            let e = snapshot(&evil, &store).expect_err(target);
            assert!(
                e.to_string().contains("symbolic link") && e.to_string().contains(target),
                "{e}"
            );
        }
        // Only the good snapshot is in the store (no temporary directory left).
        assert_eq!(fs::read_dir(&store).expect("store").count(), 1);
        remove_tree(&base);
    }
}
