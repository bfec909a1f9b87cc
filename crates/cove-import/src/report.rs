//! The import report: everything that was not turned into spec objects, and why.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One object (or part of an object) that the import did not turn into spec objects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ReportItem {
    /// What it is (`transit-gateway`, `route`, `security-group-rule`, …).
    pub kind: String,
    /// Its resource id, or the id of the object it belongs to.
    pub id: String,
    /// Why it was not imported (or imported differently).
    pub reason: String,
    /// The file it came from.
    pub file: PathBuf,
}

/// Collects report items.
#[derive(Debug, Default)]
pub(crate) struct Report {
    items: Vec<ReportItem>,
}

impl Report {
    /// Adds one item.
    pub(crate) fn add(
        &mut self,
        kind: impl Into<String>,
        id: impl Into<String>,
        reason: impl Into<String>,
        file: &Path,
    ) {
        self.items.push(ReportItem {
            kind: kind.into(),
            id: id.into(),
            reason: reason.into(),
            file: file.to_path_buf(),
        });
    }

    /// The items, sorted by file, kind and id (deterministic), duplicates removed.
    pub(crate) fn finish(mut self) -> Vec<ReportItem> {
        self.items.sort_by(|a, b| {
            (&a.file, &a.kind, &a.id, &a.reason).cmp(&(&b.file, &b.kind, &b.id, &b.reason))
        });
        self.items.dedup();
        self.items
    }
}
