//! The environment's seccomp filter (pure): which system calls a function may not
//! make, and with which error.
//!
//! A deny list, the same for every runtime (python3.11, nodejs20, go, ruby3.1,
//! provided all run under it; `crates/cove/tests/runtimes.rs` runs each): every
//! other system call is allowed, since the unprivileged user, the namespaces and the
//! cgroups already confine it. Denied calls fail with `EPERM` (the error a program
//! gets without the privilege, so runtimes handle it), never a kill:
//!
//! * [`DENIED`]: namespaces (`unshare`, `setns`), mounts and the new mount API,
//!   `pivot_root`, `chroot`, tracing other processes (`ptrace`,
//!   `process_vm_readv`/`writev`, `kcmp`), kernel keyrings, `bpf`,
//!   `perf_event_open`, `userfaultfd`, `io_uring_*`, kernel modules, `kexec_*`,
//!   `reboot`, swap, clocks, `syslog`, `acct`, `quotactl`, file handles,
//!   `iopl`/`ioperm`, `vhangup`;
//! * `clone` with any namespace flag ([`CLONE_NAMESPACE_FLAGS`]): `EPERM` (threads and
//!   processes are fine);
//! * `clone3` fails with `ENOSYS` ([`ENOSYS_CALLS`]): its flags are in memory a filter
//!   cannot read, and on `ENOSYS` the C library falls back to `clone`, which is
//!   checked.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// System calls that always fail with `EPERM`, by name.
pub const DENIED: [&str; 46] = [
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "syslog",
    "acct",
    "quotactl",
    "open_by_handle_at",
    "name_to_handle_at",
    "iopl",
    "ioperm",
    "vhangup",
];

/// System calls that fail with `ENOSYS` (as on a kernel without them).
pub const ENOSYS_CALLS: [&str; 1] = ["clone3"];

/// The `clone` flags that create namespaces; `clone` with any of them is denied.
pub const CLONE_NAMESPACE_FLAGS: [(&str, u64); 8] = [
    ("CLONE_NEWNS", 0x0002_0000),
    ("CLONE_NEWCGROUP", 0x0200_0000),
    ("CLONE_NEWUTS", 0x0400_0000),
    ("CLONE_NEWIPC", 0x0800_0000),
    ("CLONE_NEWUSER", 0x1000_0000),
    ("CLONE_NEWPID", 0x2000_0000),
    ("CLONE_NEWNET", 0x4000_0000),
    ("CLONE_NEWTIME", 0x0000_0080),
];

/// A failure to build the filter (an unknown system call name or architecture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

/// The number of system call `name` on this architecture, if it has one (some,
/// e.g. `iopl`, exist only on x86).
pub fn syscall_number(name: &str) -> Option<i64> {
    let n = match name {
        "unshare" => libc::SYS_unshare,
        "setns" => libc::SYS_setns,
        "mount" => libc::SYS_mount,
        "umount2" => libc::SYS_umount2,
        "pivot_root" => libc::SYS_pivot_root,
        "chroot" => libc::SYS_chroot,
        "fsopen" => libc::SYS_fsopen,
        "fsconfig" => libc::SYS_fsconfig,
        "fsmount" => libc::SYS_fsmount,
        "fspick" => libc::SYS_fspick,
        "move_mount" => libc::SYS_move_mount,
        "open_tree" => libc::SYS_open_tree,
        "mount_setattr" => libc::SYS_mount_setattr,
        "ptrace" => libc::SYS_ptrace,
        "process_vm_readv" => libc::SYS_process_vm_readv,
        "process_vm_writev" => libc::SYS_process_vm_writev,
        "kcmp" => libc::SYS_kcmp,
        "keyctl" => libc::SYS_keyctl,
        "add_key" => libc::SYS_add_key,
        "request_key" => libc::SYS_request_key,
        "bpf" => libc::SYS_bpf,
        "perf_event_open" => libc::SYS_perf_event_open,
        "userfaultfd" => libc::SYS_userfaultfd,
        "io_uring_setup" => libc::SYS_io_uring_setup,
        "io_uring_enter" => libc::SYS_io_uring_enter,
        "io_uring_register" => libc::SYS_io_uring_register,
        "init_module" => libc::SYS_init_module,
        "finit_module" => libc::SYS_finit_module,
        "delete_module" => libc::SYS_delete_module,
        "kexec_load" => libc::SYS_kexec_load,
        "kexec_file_load" => libc::SYS_kexec_file_load,
        "reboot" => libc::SYS_reboot,
        "swapon" => libc::SYS_swapon,
        "swapoff" => libc::SYS_swapoff,
        "settimeofday" => libc::SYS_settimeofday,
        "clock_settime" => libc::SYS_clock_settime,
        "clock_adjtime" => libc::SYS_clock_adjtime,
        "adjtimex" => libc::SYS_adjtimex,
        "syslog" => libc::SYS_syslog,
        "acct" => libc::SYS_acct,
        "quotactl" => libc::SYS_quotactl,
        "open_by_handle_at" => libc::SYS_open_by_handle_at,
        "name_to_handle_at" => libc::SYS_name_to_handle_at,
        #[cfg(target_arch = "x86_64")]
        "iopl" => libc::SYS_iopl,
        #[cfg(target_arch = "x86_64")]
        "ioperm" => libc::SYS_ioperm,
        "vhangup" => libc::SYS_vhangup,
        "clone" => libc::SYS_clone,
        "clone3" => libc::SYS_clone3,
        _ => return None,
    };
    Some(n)
}

/// The architecture the filter is built for (the one cove runs on).
fn arch() -> Result<TargetArch, FilterError> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| FilterError(e.to_string()))
}

/// The filters to install, in order: the `EPERM` deny list (with `clone`'s namespace
/// flags) and the `ENOSYS` list. The kernel runs both on every call; a call either
/// one denies fails.
pub fn filters() -> Result<Vec<BpfProgram>, FilterError> {
    let bad = |e: seccompiler::BackendError| FilterError(e.to_string());
    let arch = arch()?;
    let mut eperm: BTreeMap<i64, Vec<SeccompRule>> = DENIED
        .iter()
        .filter_map(|name| syscall_number(name))
        .map(|n| (n, Vec::new()))
        .collect();
    // clone(flags, …): the flags are the first argument on every architecture cove
    // supports.
    let clone_rules = CLONE_NAMESPACE_FLAGS
        .iter()
        .map(|(_, flag)| {
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(*flag),
                *flag,
            )
            .and_then(|c| SeccompRule::new(vec![c]))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    eperm.insert(libc::SYS_clone, clone_rules);
    let enosys: BTreeMap<i64, Vec<SeccompRule>> = ENOSYS_CALLS
        .iter()
        .filter_map(|name| syscall_number(name))
        .map(|n| (n, Vec::new()))
        .collect();
    let errno = |e: nix::errno::Errno| SeccompAction::Errno(e as u32);
    [
        (eperm, errno(nix::errno::Errno::EPERM)),
        (enosys, errno(nix::errno::Errno::ENOSYS)),
    ]
    .into_iter()
    .map(|(rules, action)| {
        SeccompFilter::new(rules, SeccompAction::Allow, action, arch)
            .and_then(BpfProgram::try_from)
            .map_err(bad)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_denied_name_is_a_system_call_here() {
        for name in DENIED.iter().chain(&ENOSYS_CALLS) {
            let x86_only = matches!(*name, "iopl" | "ioperm");
            assert!(
                syscall_number(name).is_some() || (x86_only && !cfg!(target_arch = "x86_64")),
                "{name}"
            );
        }
        assert_eq!(syscall_number("read"), None, "only listed names map");
    }

    #[test]
    fn the_list_has_no_duplicates_and_spares_what_runtimes_use() {
        let set: std::collections::BTreeSet<&str> = DENIED.iter().copied().collect();
        assert_eq!(set.len(), DENIED.len());
        for needed in [
            "clone", "execve", "socket", "connect", "mmap", "futex", "wait4",
        ] {
            assert!(!set.contains(needed), "{needed}");
        }
        for dangerous in [
            "unshare",
            "setns",
            "mount",
            "ptrace",
            "bpf",
            "keyctl",
            "kexec_load",
        ] {
            assert!(set.contains(dangerous), "{dangerous}");
        }
    }

    #[test]
    fn filters_compile() {
        let progs = filters().expect("filters");
        assert_eq!(progs.len(), 2);
        assert!(progs.iter().all(|p| !p.is_empty()));
        // Every namespace flag is a single bit, distinct from the others and from
        // the flags threads use (CLONE_VM, CLONE_THREAD, …).
        let mut all = 0u64;
        for (_, f) in CLONE_NAMESPACE_FLAGS {
            assert_eq!(f.count_ones(), 1);
            assert_eq!(all & f, 0);
            all |= f;
        }
        let thread_flags = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000;
        assert_eq!(all & thread_flags, 0);
    }
}
