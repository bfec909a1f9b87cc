//! Function log retention (issue 14): `cove serve` deletes function logs past
//! `--log-retention-days` and keeps each function's under `--log-max-mb`, oldest
//! first, from its start on.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::time::{Duration, Instant};

use common::Deployment;

#[test]
fn old_and_surplus_function_logs_are_deleted() {
    if !cove_probe::privileged("log_retention") {
        return;
    }
    let d = Deployment::new("lr");
    let logs = d.state.path().join(&d.prefix).join("logs");
    let old = logs.join("t").join("aged");
    let big = logs.join("t").join("big");
    std::fs::create_dir_all(&old).expect("dir");
    std::fs::create_dir_all(&big).expect("dir");
    // One file a week and a day old (its mtime set back), and two of 700 KiB for
    // a 1 MiB budget.
    std::fs::write(old.join("0001.log"), b"START RequestId: x\n").expect("write");
    let eight_days = std::time::SystemTime::now() - Duration::from_secs(8 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(old.join("0001.log"))
        .and_then(|f| f.set_modified(eight_days))
        .expect("mtime");
    std::fs::write(big.join("older.log"), vec![b'x'; 700 << 10]).expect("write");
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(big.join("newer.log"), vec![b'y'; 700 << 10]).expect("write");
    let (_serve, _addr) = common::functions::serve(&d, &["--log-max-mb", "1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while old.join("0001.log").exists() || big.join("older.log").exists() {
        assert!(Instant::now() < deadline, "retention did not run");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Within both limits now: the newest stays.
    assert!(big.join("newer.log").exists());
}
