//! What keeps a network namespace alive in this test process, for the observer
//! tests only: it asks each socket for its namespace with an `ioctl`, which needs
//! `unsafe`, and the workspace forbids `unsafe` code, so this file does not build
//! yet (it is kept out of `common/mod.rs` so that the other kernel tests build).

use std::os::unix::fs::MetadataExt;

/// What in this process still refers to the network namespace with inode `ino`:
/// threads inside it (`/proc/self/task/*/ns/net`) and sockets opened in it (asked
/// of each socket with `SIOCGSKNS`). Empty when this process does not keep the
/// namespace alive. File descriptors closed meanwhile by other tests are skipped.
pub fn holders_of_netns(ino: u64) -> Vec<String> {
    use std::os::fd::{FromRawFd, OwnedFd};
    /// `SIOCGSKNS` (linux/sockios.h): a new descriptor of a socket's namespace.
    const SIOCGSKNS: nix::libc::c_ulong = 0x894C;
    let mut held = Vec::new();
    let link_ino = |path: &std::path::Path| {
        std::fs::read_link(path).ok().and_then(|t| {
            t.to_str()?
                .strip_prefix("net:[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()
        })
    };
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if link_ino(&task.path().join("ns/net")) == Some(ino) {
                held.push(format!("thread {}", task.file_name().to_string_lossy()));
            }
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        for fd in fds.flatten() {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            let Some(n) = fd.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if !target.to_string_lossy().starts_with("socket:") {
                continue;
            }
            // SAFETY: an ioctl on a descriptor number; a closed or reused number
            // fails (EBADF / ENOTTY) or names another socket, both harmless.
            let ns_fd = unsafe { nix::libc::ioctl(n, SIOCGSKNS as _) };
            if ns_fd < 0 {
                continue;
            }
            // SAFETY: the ioctl returned a new descriptor this function owns.
            let ns = unsafe { OwnedFd::from_raw_fd(ns_fd) };
            let same = std::fs::File::from(ns)
                .metadata()
                .is_ok_and(|m| m.ino() == ino);
            if same {
                held.push(format!("socket fd {n} ({})", target.display()));
            }
        }
    }
    held
}
