//! The state files of an older cove are imported once into the store (one change),
//! then renamed; a damaged one is an error naming it; one beside a store that
//! already holds state is refused with what to do.

use std::path::Path;

use cove_deploy::store::{Generation, Generations, Store, StoreError};
use sha2::{Digest, Sha256};

fn with_trailer(body: &str) -> String {
    let sum: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{body}# cove-sha256: {sum}\n")
}

const SPEC: &str = "tenants: []\n";

/// `deployed.yaml` of one function `f` in `a/b`, as an older cove wrote it.
fn deployed() -> String {
    let mut f = cove_model::spec::DeployedFunction {
        vpc: "a/b".into(),
        ..Default::default()
    };
    f.function.name = "f".into();
    serde_saphyr::to_string(&vec![f]).expect("yaml")
}

fn write_legacy(dir: &Path, in_sync: bool) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("applied.yaml"), with_trailer(SPEC)).expect("write");
    std::fs::write(dir.join("deployed.yaml"), with_trailer(&deployed())).expect("write");
    std::fs::write(dir.join("functions.json"), "{}").expect("write");
    let applied = if in_sync { 4 } else { 3 };
    std::fs::write(
        dir.join("generation.yaml"),
        with_trailer(&format!("desired: 4\napplied: {applied}\n")),
    )
    .expect("write");
}

#[test]
fn an_older_install_is_imported_once_and_its_files_renamed() {
    let state = tempfile::tempdir().expect("tmp");
    let dir = state.path().join("cvrel");
    write_legacy(&dir, true);
    let store = Store::open(dir.clone(), None).expect("open imports");
    let desired = store.desired().expect("desired");
    assert_eq!(desired.spec.as_deref(), Some(SPEC));
    assert_eq!(desired.deployed.len(), 1);
    assert_eq!(desired.deployed[0].function.name, "f");
    // One change; the kernel was in sync with the old state, so it still is.
    assert_eq!(
        store.generations().expect("generations"),
        Generations {
            desired: Generation(1),
            applied: Generation(1)
        }
    );
    for f in [
        "applied.yaml",
        "deployed.yaml",
        "functions.json",
        "generation.yaml",
    ] {
        assert!(!dir.join(f).exists(), "{f} left in place");
        assert!(dir.join(format!("{f}.imported")).exists(), "{f} not kept");
    }
    drop(store);
    // Opening again imports nothing more.
    let again = Store::open(dir, None).expect("reopen");
    assert_eq!(again.generations().expect("g").desired, Generation(1));
}

#[test]
fn an_older_install_that_was_not_applied_stays_to_be_reconciled() {
    let state = tempfile::tempdir().expect("tmp");
    let dir = state.path().join("cvrel");
    write_legacy(&dir, false);
    let store = Store::open(dir, None).expect("open imports");
    assert_eq!(
        store.generations().expect("generations"),
        Generations {
            desired: Generation(1),
            applied: Generation(0)
        }
    );
}

#[test]
fn a_legacy_file_beside_a_store_with_state_is_refused_naming_it() {
    let state = tempfile::tempdir().expect("tmp");
    let dir = state.path().join("cvrel");
    write_legacy(&dir, true);
    drop(Store::open(dir.clone(), None).expect("import"));
    // Another old file appears later (restored from a backup, say).
    std::fs::write(dir.join("applied.yaml"), with_trailer("tenants: [] # b\n")).expect("write");
    let e = Store::open(dir.clone(), None).expect_err("refused");
    assert!(matches!(e, StoreError::LegacyBesideStore { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&dir.join("applied.yaml").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("move the file aside"), "{msg}");
}

#[test]
fn a_damaged_legacy_file_is_an_error_naming_it_and_nothing_is_imported() {
    let state = tempfile::tempdir().expect("tmp");
    let dir = state.path().join("cvrel");
    write_legacy(&dir, true);
    std::fs::write(dir.join("deployed.yaml"), "- vpc: a/b\n").expect("truncate");
    let e = Store::open(dir.clone(), None).expect_err("damaged");
    let msg = format!(
        "{e}: {}",
        std::error::Error::source(&e)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        msg.contains(&dir.join("deployed.yaml").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("truncated or damaged"), "{msg}");
    // Nothing was imported or renamed.
    assert!(dir.join("applied.yaml").exists());
}
