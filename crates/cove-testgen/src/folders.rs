//! Finding AWS export folders for tests.

use std::path::{Path, PathBuf};

/// Every folder under `dir` (itself included) that directly holds `.json` files,
/// sorted — one AWS export (account/region) each.
pub fn json_folders(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    if entries
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "json"))
    {
        out.push(dir.to_path_buf());
    }
    for sub in entries.iter().filter(|p| p.is_dir()) {
        walk(sub, out);
    }
}
