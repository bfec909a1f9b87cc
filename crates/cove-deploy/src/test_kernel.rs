//! The kernel model the unit tests put behind [`crate::Kernel`].

use std::cell::RefCell;

use crate::kernel::Kernel;

/// The kernel model of `cove-plan`, recording every plan it is given.
#[derive(Default)]
pub(crate) struct ModelKernel {
    pub(crate) state: RefCell<cove_plan::HostState>,
    pub(crate) applied: RefCell<Vec<usize>>,
    /// How long each apply takes (a slow kernel change).
    pub(crate) apply_delay: std::cell::Cell<std::time::Duration>,
    /// What [`Kernel::router_links`] reports.
    pub(crate) links: RefCell<Option<std::collections::BTreeMap<String, bool>>>,
    /// What [`Kernel::shared_eni_connections`] reports.
    pub(crate) connections: RefCell<std::collections::BTreeMap<std::net::Ipv4Addr, u64>>,
}

impl Kernel for ModelKernel {
    fn observe(&self) -> Result<cove_plan::HostState, crate::KernelError> {
        Ok(self.state.borrow().clone())
    }

    fn apply(&self, plan: &cove_plan::Plan) -> Result<(), crate::KernelError> {
        std::thread::sleep(self.apply_delay.get());
        let next = cove_plan::simulate::simulate(self.state.borrow().clone(), plan)?;
        *self.state.borrow_mut() = next;
        self.applied.borrow_mut().push(plan.ops.len());
        Ok(())
    }

    fn destroy(&self) -> Result<usize, Vec<crate::KernelError>> {
        let n = self.state.borrow().namespaces.len();
        *self.state.borrow_mut() = cove_plan::HostState::default();
        Ok(n)
    }

    fn reap_orphan_environments(&self) -> Result<usize, crate::KernelError> {
        Ok(0)
    }

    fn remove_environments(&self) -> Result<usize, crate::KernelError> {
        Ok(0)
    }

    fn router_links(
        &self,
    ) -> Result<Option<std::collections::BTreeMap<String, bool>>, crate::KernelError> {
        Ok(self.links.borrow().clone())
    }

    fn shared_eni_connections(
        &self,
    ) -> Result<std::collections::BTreeMap<std::net::Ipv4Addr, u64>, crate::KernelError> {
        Ok(self.connections.borrow().clone())
    }
}
