//! What the function tests share: the runtime clients, the test function, and
//! processes that end with the test.

use std::path::PathBuf;
use std::process::Child;

use super::Deployment;

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test function of `runtime` (`crates/cove-runtimes/fixtures/<runtime>`).
pub fn fixture(runtime: &str) -> PathBuf {
    repo().join("crates/cove-runtimes/fixtures").join(runtime)
}

/// The runtime clients must be installed; under CI a missing install is a failure.
pub fn runtimes_ready() -> bool {
    let dir = cove_runtimes::fs::runtime_dir();
    let ok = dir.join("python/awslambdaric").is_dir() && dir.join("python/pg8000").is_dir();
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "runtime clients missing in {}: run scripts/install-runtimes.sh",
        dir.display()
    );
    ok
}

/// Deploys the Python test function as `name`.
pub fn deploy_python(d: &Deployment, name: &str, extra: &[&str]) {
    super::deploy(
        d,
        name,
        "python3.11",
        "handler.handler",
        &fixture("python"),
        extra,
    );
}

/// A process killed on drop.
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
