//! The names other crates hand to the sandbox, as checked types: the cgroup root of a
//! deployment ([`CgroupRoot`]) and an environment's id ([`EnvId`]). Both become one
//! path component in every cgroup hierarchy, so both are checked when made.

use crate::error::SandboxError;
use crate::spec::{ID_RULE, MAX_ID_LEN, valid_name};

/// The name of cove's cgroup root: one directory in every hierarchy (e.g.
/// `cove-<prefix>`); every directory in it is an environment. 1 to 64 characters
/// `[A-Za-z0-9_.-]`, not starting with `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CgroupRoot(String);

impl CgroupRoot {
    /// Checks `name` ([`SandboxError::InvalidRoot`] if it is not one safe path
    /// component).
    pub fn new(name: &str) -> Result<CgroupRoot, SandboxError> {
        if valid_name(name, MAX_ID_LEN) {
            Ok(CgroupRoot(name.to_owned()))
        } else {
            Err(SandboxError::InvalidRoot {
                root: name.to_owned(),
                rule: ID_RULE,
            })
        }
    }

    /// The root of a cove deployment: `cove-<prefix>`.
    pub fn for_prefix(prefix: &str) -> Result<CgroupRoot, SandboxError> {
        CgroupRoot::new(&format!("cove-{prefix}"))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CgroupRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of one execution environment; names its cgroup directories. 1 to 64
/// characters `[A-Za-z0-9_.-]`, not starting with `.`. cove's scheduler makes them
/// with [`EnvId::for_slot`] (`p<launcher pid>-<slot namespace>-<n>`), so that a
/// later cove can tell whose environment it is ([`EnvId::launcher_pid`]) and in
/// which network slot it ran ([`EnvId::slot`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvId(String);

impl EnvId {
    /// Checks `id` ([`SandboxError::InvalidSpec`] for field `id` if it is not one
    /// safe path component).
    pub fn new(id: &str) -> Result<EnvId, SandboxError> {
        if valid_name(id, MAX_ID_LEN) {
            Ok(EnvId(id.to_owned()))
        } else {
            Err(SandboxError::InvalidSpec {
                field: "id",
                value: format!("{id:?}"),
                fix: ID_RULE.to_owned(),
            })
        }
    }

    /// The id of the `n`th environment the process `launcher_pid` starts in the
    /// network slot (namespace) `slot`: `p<pid>-<slot>-<n>`.
    pub fn for_slot(launcher_pid: u32, slot: &str, n: u64) -> Result<EnvId, SandboxError> {
        EnvId::new(&format!("p{launcher_pid}-{slot}-{n}"))
    }

    /// The process that launched the environment, for an id made by
    /// [`EnvId::for_slot`].
    pub fn launcher_pid(&self) -> Option<u32> {
        self.parts().map(|(pid, _)| pid)
    }

    /// The network slot the environment ran in, for an id made by
    /// [`EnvId::for_slot`].
    pub fn slot(&self) -> Option<&str> {
        self.parts().map(|(_, slot)| slot)
    }

    fn parts(&self) -> Option<(u32, &str)> {
        let (pid, rest) = self.0.strip_prefix('p')?.split_once('-')?;
        let (slot, n) = rest.rsplit_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(pid) || !digits(n) || slot.is_empty() {
            return None;
        }
        Some((pid.parse().ok()?, slot))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EnvId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_ids_are_one_safe_path_component() {
        for bad in ["", "../etc", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(
                matches!(CgroupRoot::new(bad), Err(SandboxError::InvalidRoot { .. })),
                "{bad:?}"
            );
            assert!(
                matches!(
                    EnvId::new(bad),
                    Err(SandboxError::InvalidSpec { field: "id", .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            CgroupRoot::for_prefix("cvde1").map(|r| r.to_string()).ok(),
            Some("cove-cvde1".to_owned())
        );
        assert!(CgroupRoot::for_prefix("../x").is_err());
        assert!(EnvId::for_slot(1, "a/b", 0).is_err());
    }

    #[test]
    fn an_id_for_a_slot_names_its_launcher_and_slot() {
        let id = EnvId::for_slot(4242, "cove-f-0a1b2c3d", 7).expect("id");
        assert_eq!(id.as_str(), "p4242-cove-f-0a1b2c3d-7");
        assert_eq!(id.launcher_pid(), Some(4242));
        assert_eq!(id.slot(), Some("cove-f-0a1b2c3d"));
        // Ids made otherwise say nothing.
        for other in ["live", "p-x-1", "px-ns-1", "p12-ns-x", "p12-1", "p12--1"] {
            let id = EnvId::new(other).expect("id");
            assert_eq!((id.launcher_pid(), id.slot()), (None, None), "{other}");
        }
    }
}
