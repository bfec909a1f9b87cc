//! Where execution environments get their credentials: Lambda gives a function
//! its execution role's keys in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`;
//! cove gives each function its tenant's key (the object store accepts it), so
//! the AWS CLI and SDKs inside a function sign requests with no configuration.

use std::sync::Arc;

/// What answers a tenant's credentials.
type Lookup = dyn Fn(&str) -> Option<cove_runtimes::Credentials> + Send + Sync;

/// The credentials of a tenant's functions, by tenant name (`None`: the tenant's
/// functions get none).
#[derive(Clone)]
pub struct CredentialSource(Arc<Lookup>);

impl CredentialSource {
    /// A source answering with `f`.
    pub fn new(
        f: impl Fn(&str) -> Option<cove_runtimes::Credentials> + Send + Sync + 'static,
    ) -> CredentialSource {
        CredentialSource(Arc::new(f))
    }

    /// Tenant `tenant`'s credentials.
    pub fn for_tenant(&self, tenant: &str) -> Option<cove_runtimes::Credentials> {
        (self.0)(tenant)
    }
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialSource(..)")
    }
}
