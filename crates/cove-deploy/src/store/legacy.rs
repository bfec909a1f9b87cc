//! The state files of an older cove (`applied.yaml`, `deployed.yaml`,
//! `functions.json`, `generation.yaml` in `<state dir>/<prefix>`): imported once
//! into an empty store, in one change, then renamed `<file>.imported`. A damaged
//! file is an error naming it and what to do (nothing is imported); a file beside a
//! store that already holds state is refused (unless it is exactly what was
//! imported and only the rename was interrupted).

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::docs;
use super::files::{self, Kind};
use super::{Desired, Generations, Store, StoreError};

/// The legacy files, with their kinds.
fn legacy_files(store: &Store) -> [(PathBuf, Kind); 4] {
    let d = store.dir();
    [
        (d.join("applied.yaml"), Kind::Applied),
        (d.join("deployed.yaml"), Kind::Deployed),
        (d.join("functions.json"), Kind::Registry),
        (d.join("generation.yaml"), Kind::Generation),
    ]
}

fn corrupt(path: &std::path::Path, kind: Kind, reason: String) -> files::StateError {
    files::StateError::Corrupt {
        reason,
        fix: kind.fix(path),
        path: path.to_owned(),
    }
}

/// What the legacy files hold, and each present file's SHA-256.
struct Legacy {
    desired: Desired,
    generations: Generations,
    sums: BTreeMap<String, String>,
    present: Vec<PathBuf>,
}

fn read(store: &Store) -> Result<Option<Legacy>, files::StateError> {
    let mut legacy = Legacy {
        desired: Desired::default(),
        generations: Generations::default(),
        sums: BTreeMap::new(),
        present: Vec::new(),
    };
    for (path, kind) in legacy_files(store) {
        // Anything at the path (a directory too) is read, so damage is reported.
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        let Some(text) = files::read_state(&path, kind)? else {
            continue;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        legacy.sums.insert(
            name,
            Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
        match kind {
            Kind::Applied => legacy.desired.spec = Some(text),
            Kind::Deployed => {
                legacy.desired.deployed = serde_saphyr::from_str(&text)
                    .map_err(|e| corrupt(&path, kind, e.to_string()))?;
            }
            Kind::Registry => {
                legacy.desired.code =
                    serde_json::from_str(&text).map_err(|e| corrupt(&path, kind, e.to_string()))?;
            }
            Kind::Generation => {
                legacy.generations = serde_saphyr::from_str(&text)
                    .map_err(|e| corrupt(&path, kind, e.to_string()))?;
            }
        }
        legacy.present.push(path);
    }
    Ok((!legacy.present.is_empty()).then_some(legacy))
}

fn rename_all(present: &[PathBuf]) -> Result<(), StoreError> {
    for path in present {
        let mut to = path.as_os_str().to_owned();
        to.push(".imported");
        match std::fs::rename(path, &to) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Rename {
                    path: path.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Imports the legacy files of `store`'s directory, if there are any.
pub(super) fn import(store: &Store) -> Result<(), StoreError> {
    let read_err = |source| StoreError::Read {
        dir: store.dir().to_owned(),
        source,
    };
    let Some(legacy) = read(store).map_err(read_err)? else {
        return Ok(());
    };
    let marker = docs::LEGACY_IMPORT;
    let marker_id = cove_store::DocId::new(marker, None, "files");
    let encode = |source| StoreError::Encode {
        db: store.database().url().to_owned(),
        source,
    };
    for _ in 0..2 {
        let snapshot = store.snapshot()?;
        if snapshot.generation != cove_store::Generation::ZERO {
            let imported = snapshot
                .documents
                .iter()
                .find(|d| d.id == marker_id)
                .and_then(|d| d.decode::<BTreeMap<String, String>>().ok());
            if imported.is_some_and(|m| legacy.sums.iter().all(|(k, v)| m.get(k) == Some(v))) {
                return rename_all(&legacy.present);
            }
            return Err(StoreError::LegacyBesideStore {
                path: legacy.present[0].clone(),
                db: store.database().url().to_owned(),
            });
        }
        let mut ops = docs::operator_ops(&snapshot, &legacy.desired).map_err(encode)?;
        ops.push(cove_store::DocOp::put(marker_id.clone(), &legacy.sums).map_err(encode)?);
        let meta = cove_store::ChangeMeta {
            summary: "import of the state files of an older cove".to_owned(),
            ..cove_store::ChangeMeta::default()
        };
        match store.block_on(
            store
                .database()
                .change(&meta, Some(snapshot.generation), &ops),
        ) {
            Ok(imported) => {
                let g = legacy.generations;
                let in_sync = g.desired.0 > 0 && g.applied == g.desired;
                if in_sync {
                    store
                        .block_on(store.database().record_applied(imported, None))
                        .map_err(|source| StoreError::Database {
                            step: "recording the imported applied generation",
                            db: store.database().url().to_owned(),
                            source: Box::new(source),
                        })?;
                }
                return rename_all(&legacy.present);
            }
            // Another process imported meanwhile: look again.
            Err(e) if e.is_conflict() => continue,
            Err(source) => {
                return Err(StoreError::Database {
                    step: "importing the state files of an older cove",
                    db: store.database().url().to_owned(),
                    source: Box::new(source),
                });
            }
        }
    }
    Ok(())
}
