//! Environment cgroups on cgroup v1 and v2: detection and layout (pure, `detect`'s
//! parser and `layout`), and the file operations that carry them out (`ops`).

pub mod detect;
pub mod layout;
pub(crate) mod ops;

/// A limit controller cove uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    /// Memory (hard limit, no swap, OOM kill counter).
    Memory,
    /// Number of processes and threads.
    Pids,
    /// CPU bandwidth (CFS quota).
    Cpu,
}

impl Controller {
    /// Every controller cove uses.
    pub const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpu];

    /// The kernel's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }

    /// The controller named `name` (a kernel controller name), if cove uses it.
    pub fn from_name(name: &str) -> Option<Controller> {
        Controller::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
