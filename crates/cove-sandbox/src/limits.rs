//! Kernel limits from an environment's memory size (pure): memory in bytes, the CPU
//! quota in proportion to memory (Lambda: one vCPU per 1,769 MB) and the process cap.

/// How CPU follows memory. Lambda gives one vCPU per 1,769 MB of memory; cove turns
/// that share into a CFS quota (`cpu.max` on cgroup v2, `cpu.cfs_quota_us` on v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuPolicy {
    /// MiB of memory that buy one full CPU (Lambda: 1769).
    pub mib_per_cpu: u64,
    /// Smallest CPU share in thousandths of a CPU, whatever the memory (a 128 MiB
    /// function would get 0.072 CPU otherwise, and a language runtime's start-up is
    /// CPU-bound).
    pub min_millicpus: u64,
    /// The CFS period in microseconds (the kernel's default is 100,000).
    pub period_us: u64,
}

impl Default for CpuPolicy {
    /// Lambda's proportion, at least 0.1 CPU, the kernel's 100 ms period.
    fn default() -> Self {
        CpuPolicy {
            mib_per_cpu: 1769,
            min_millicpus: 100,
            period_us: 100_000,
        }
    }
}

/// The kernel's smallest CFS quota (1 ms).
pub(crate) const MIN_QUOTA_US: u64 = 1000;

/// The numbers written into an environment's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Hard memory limit in bytes (swap is limited to zero on top of it).
    pub memory_bytes: u64,
    /// Most processes and threads.
    pub pids_max: u64,
    /// CPU time per period, in microseconds.
    pub cpu_quota_us: u64,
    /// The CFS period, in microseconds.
    pub cpu_period_us: u64,
}

impl Limits {
    /// The limits for `memory_mib` MiB of memory and `pids_max` processes under
    /// `cpu`. The quota is never below the kernel's 1 ms minimum.
    pub fn new(memory_mib: u64, pids_max: u64, cpu: &CpuPolicy) -> Limits {
        let period = cpu.period_us.max(MIN_QUOTA_US);
        let millicpus = (memory_mib.saturating_mul(1000) / cpu.mib_per_cpu.max(1))
            .max(cpu.min_millicpus)
            .max(1);
        let quota = (period.saturating_mul(millicpus) / 1000).max(MIN_QUOTA_US);
        Limits {
            memory_bytes: memory_mib.saturating_mul(1 << 20),
            pids_max,
            cpu_quota_us: quota,
            cpu_period_us: period,
        }
    }

    /// The CPU share in thousandths of a CPU.
    pub fn millicpus(&self) -> u64 {
        self.cpu_quota_us.saturating_mul(1000) / self.cpu_period_us.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cpu_per_1769_mib() {
        let p = CpuPolicy::default();
        let l = Limits::new(1769, 1024, &p);
        assert_eq!(l.memory_bytes, 1769 * 1024 * 1024);
        assert_eq!((l.cpu_quota_us, l.cpu_period_us), (100_000, 100_000));
        assert_eq!(l.millicpus(), 1000);
        // Lambda's largest size: 10,240 MB gives about 5.8 CPUs.
        let big = Limits::new(10240, 1024, &p);
        assert_eq!(big.millicpus(), 10240 * 1000 / 1769);
        assert!(big.cpu_quota_us > 5 * big.cpu_period_us);
    }

    #[test]
    fn small_functions_get_the_floor() {
        let p = CpuPolicy::default();
        let l = Limits::new(128, 64, &p);
        // 128 * 1000 / 1769 = 72 millicpus, below the 100 floor.
        assert_eq!(l.millicpus(), p.min_millicpus);
        assert_eq!(l.pids_max, 64);
        let no_floor = CpuPolicy {
            min_millicpus: 0,
            ..p
        };
        assert_eq!(Limits::new(128, 64, &no_floor).millicpus(), 72);
    }

    #[test]
    fn quota_never_below_the_kernel_minimum() {
        let p = CpuPolicy {
            mib_per_cpu: 1_000_000,
            min_millicpus: 0,
            period_us: 10_000,
        };
        let l = Limits::new(16, 1, &p);
        assert_eq!(l.cpu_quota_us, MIN_QUOTA_US);
    }

    #[test]
    fn share_grows_with_memory() {
        let p = CpuPolicy::default();
        let mut last = 0;
        for mib in (128..=10240).step_by(64) {
            let q = Limits::new(mib, 1, &p).cpu_quota_us;
            assert!(q >= last, "{mib} MiB: {q} < {last}");
            last = q;
        }
    }
}
