//! cove's state directory is root's alone: `<state>/<prefix>` and everything cove
//! writes in it are `0700` directories and `0600` files (`deployed.yaml` holds every
//! function's environment variables; logs hold what functions print). The code
//! snapshots under `code/` keep their own modes (readable, so the environment that
//! runs one can read it through its read-only bind at `/var/task`), but nobody else
//! reaches them: `code/` is `0700`. The state directory itself is `0711` (no
//! listing; the runtime clients installed in `<state>/runtimes` stay reachable for
//! tools that run them directly). Existing installs are fixed by every command that
//! writes state (when it takes the prefix lock).

use std::fs;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::Path;

/// The mode of the state directory itself (`/var/lib/cove`).
pub const STATE_DIR_MODE: u32 = 0o711;

/// The mode an entry at `rel` (relative to `<state>/<prefix>`, `""` for itself)
/// must have, or `None` when cove leaves it as it is (inside a code snapshot).
pub fn mode_for(rel: &Path, is_dir: bool) -> Option<u32> {
    let mut parts = rel.components();
    match parts.next().map(|c| c.as_os_str()) {
        Some(top) if top == "code" && parts.next().is_some() => None,
        _ if is_dir => Some(0o700),
        _ => Some(0o600),
    }
}

/// Creates `<state>/<prefix>` (`dir`) and its parent if missing and gives them and
/// everything cove wrote in them their modes ([`mode_for`], [`STATE_DIR_MODE`]).
pub fn secure(dir: &Path) -> std::io::Result<()> {
    if let Some(state) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !state.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(STATE_DIR_MODE)
                .create(state)?;
        }
        let mode = fs::metadata(state)?.permissions().mode() & 0o7777;
        // Only ever take permissions away from the state directory.
        let want = mode & (0o7700 | STATE_DIR_MODE);
        if want != mode {
            fs::set_permissions(state, fs::Permissions::from_mode(want))?;
        }
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fix(dir, dir)
}

fn fix(base: &Path, path: &Path) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let rel = path.strip_prefix(base).unwrap_or(path);
    let Some(want) = mode_for(rel, meta.is_dir()) else {
        return Ok(());
    };
    if meta.permissions().mode() & 0o7777 != want {
        fs::set_permissions(path, fs::Permissions::from_mode(want))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            fix(base, &entry?.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let m = |p: &str, d| mode_for(Path::new(p), d);
        assert_eq!(m("", true), Some(0o700));
        assert_eq!(m("deployed.yaml", false), Some(0o600));
        assert_eq!(m("logs", true), Some(0o700));
        assert_eq!(m("logs/f/x.log", false), Some(0o600));
        assert_eq!(m("slots/a.lock", false), Some(0o600));
        assert_eq!(m("code", true), Some(0o700));
        assert_eq!(m("code/abc", true), None);
        assert_eq!(m("code/abc/app.py", false), None);
    }

    #[test]
    fn an_old_install_is_fixed() {
        let state = std::env::temp_dir().join(format!("hi-state-{}", std::process::id()));
        let base = state.join("p");
        let snap = base.join("code").join("abc");
        fs::create_dir_all(base.join("logs/f")).expect("mkdir");
        fs::create_dir_all(&snap).expect("mkdir");
        for (p, mode) in [
            (base.join("deployed.yaml"), 0o644),
            (base.join("logs/f/x.log"), 0o644),
            (snap.join("app.py"), 0o644),
        ] {
            fs::write(&p, "x").expect("write");
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
        }
        for d in [&state, &base, &base.join("logs"), &base.join("code"), &snap] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        secure(&base).expect("secure");
        let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o7777;
        assert_eq!(mode(&state), 0o711);
        assert_eq!(mode(&base), 0o700);
        assert_eq!(mode(&base.join("deployed.yaml")), 0o600);
        assert_eq!(mode(&base.join("logs")), 0o700);
        assert_eq!(mode(&base.join("logs/f/x.log")), 0o600);
        assert_eq!(mode(&base.join("code")), 0o700);
        // A snapshot keeps its modes: the environment reads it through its bind.
        assert_eq!(mode(&snap), 0o755);
        assert_eq!(mode(&snap.join("app.py")), 0o644);
        let _ = fs::remove_dir_all(&state);
    }
}
