//! State that never lies: a damaged, unreadable or oversized state file is an error
//! that names the file (never "nothing applied"), and spec reads are size-capped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/secure-compute.yaml")
}

/// `cove` on prefix `hsst<pid>` with state in `state`.
fn cove(state: &Path) -> Command {
    let mut c = Command::cargo_bin("cove").expect("binary");
    c.env(
        "COVE_PREFIX",
        format!("hsst{}", std::process::id() % 100_000),
    )
    .env("COVE_STATE_DIR", state)
    .timeout(Duration::from_secs(60));
    c
}

fn prefix_dir(state: &Path) -> PathBuf {
    state.join(format!("hsst{}", std::process::id() % 100_000))
}

/// Runs `args` and returns (exit code, stderr).
fn run(state: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = cove(state).args(args).output().expect("run cove");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every way a state file can be bad, each with a word the error must contain.
const DAMAGE: [(&str, Damage); 4] = [
    ("truncated", Damage::Truncated),
    ("not UTF-8", Damage::Binary),
    ("Is a directory", Damage::Directory),
    ("larger than", Damage::TooLarge),
];

#[derive(Clone, Copy)]
enum Damage {
    /// The first half of a spec.
    Truncated,
    /// Bytes that are not text.
    Binary,
    /// A directory where the file belongs.
    Directory,
    /// One byte over the cap (sparse).
    TooLarge,
}

fn damage(file: &Path, how: Damage) {
    clear(file);
    match how {
        Damage::Truncated => {
            let text = std::fs::read_to_string(example()).expect("example");
            std::fs::write(file, &text[..text.len() / 2]).expect("write");
        }
        Damage::Binary => std::fs::write(file, [0x7f, 0x45, 0xff, 0x00, 0x80]).expect("write"),
        Damage::Directory => std::fs::create_dir(file).expect("mkdir"),
        Damage::TooLarge => {
            let f = std::fs::File::create(file).expect("create");
            f.set_len(64 * 1024 * 1024 + 1).expect("grow");
        }
    }
}

fn clear(file: &Path) {
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_dir(file);
}

#[test]
fn a_bad_applied_spec_is_an_error_naming_the_file_not_nothing_applied() {
    let state = tempfile::tempdir().expect("state dir");
    let dir = prefix_dir(state.path());
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("applied.yaml");
    // Missing: nothing is applied (exit 2, the usual advice).
    let (code, err) = run(state.path(), &["fn", "list"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nothing is applied"), "{err}");
    for (word, how) in DAMAGE {
        damage(&file, how);
        let example = example();
        let plan = ["plan", "-f", example.to_str().expect("utf-8")];
        let mut commands = vec![
            &["fn", "list"][..],
            &["check", "--from", "fn-a", "--to", "db-1", "--port", "5432"],
        ];
        // `plan` observes the kernel first (root).
        if nix::unistd::geteuid().is_root() {
            commands.push(&plan);
        }
        for args in commands {
            let (code, err) = run(state.path(), args);
            assert_eq!(code, Some(1), "{word} {args:?}: {err}");
            assert!(
                err.contains(&file.display().to_string()),
                "{word} {args:?}: {err}"
            );
            assert!(err.contains(word), "{word} {args:?}: {err}");
            assert!(err.contains("cove apply -f SPEC"), "{word} {args:?}: {err}");
            assert!(
                !err.contains("nothing is applied"),
                "{word} {args:?}: {err}"
            );
        }
    }
    clear(&file);
}

#[test]
fn a_bad_deployed_functions_record_is_an_error_naming_the_file() {
    let state = tempfile::tempdir().expect("state dir");
    let dir = prefix_dir(state.path());
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("deployed.yaml");
    for (word, how) in DAMAGE {
        damage(&file, how);
        // `validate` reads no state; `plan` with a spec reads the deployed functions.
        let out = cove(state.path())
            .args(["plan", "-f"])
            .arg(example())
            .output()
            .expect("plan");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{word}: {err}");
        assert!(err.contains(&file.display().to_string()), "{word}: {err}");
        assert!(err.contains(word), "{word}: {err}");
        assert!(err.contains("cove fn deploy"), "{word}: {err}");
    }
    clear(&file);
}

#[test]
fn spec_reads_are_size_capped() {
    let state = tempfile::tempdir().expect("state dir");
    let big = state.path().join("big.yaml");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(64 * 1024 * 1024 + 1).expect("grow");
    for spec in [Path::new("/dev/zero"), big.as_path()] {
        for cmd in ["validate", "plan"] {
            let out = cove(state.path())
                .args([cmd, "-f"])
                .arg(spec)
                .output()
                .expect("run");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} {}: {err}",
                spec.display()
            );
            assert!(err.contains("larger than the 64 MiB"), "{err}");
            assert!(err.contains(&spec.display().to_string()), "{err}");
        }
        // An invocation's payload file too.
        let out = cove(state.path())
            .args(["fn", "invoke", "f", "--payload-file"])
            .arg(spec)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("larger than the 64 MiB"), "{err}");
    }
}

#[test]
fn a_bad_code_registry_is_an_error_naming_the_file() {
    use sha2::{Digest, Sha256};
    let state = tempfile::tempdir().expect("state dir");
    let dir = prefix_dir(state.path());
    std::fs::create_dir_all(&dir).expect("mkdir");
    // An intact applied spec (as cove writes it: the text, then its checksum line).
    let text = std::fs::read_to_string(example()).expect("example");
    let sum: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(
        dir.join("applied.yaml"),
        format!("{text}# cove-sha256: {sum}\n"),
    )
    .expect("write");
    let (code, err) = run(state.path(), &["fn", "list"]);
    assert_eq!(code, Some(0), "an intact applied spec reads: {err}");
    let file = dir.join("functions.json");
    for (word, how) in DAMAGE {
        damage(&file, how);
        // JSON that ends early does not parse: "corrupt".
        let word = if word == "truncated" { "corrupt" } else { word };
        let (code, err) = run(state.path(), &["fn", "list"]);
        assert_eq!(code, Some(1), "{word}: {err}");
        assert!(err.contains(&file.display().to_string()), "{word}: {err}");
        assert!(err.contains(word), "{word}: {err}");
        assert!(err.contains("cove apply -f SPEC"), "{word}: {err}");
    }
    clear(&file);
}
