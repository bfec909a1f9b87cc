//! Tenants' access keys for the object store (and, later, the AWS-compatible
//! APIs): one random secret per deployment, kept in a file only root reads
//! (`0600`), from which each tenant's key pair is derived with HMAC-SHA256. A
//! tenant's key is therefore the same across restarts and on every host that
//! shares the secret, needs no table kept in step with the tenants, and changes
//! for every tenant when the file is replaced (rotation).
//!
//! The key id has AWS's shape (`AKIA` and 16 base-32 characters), the secret 40
//! characters; neither reveals the deployment secret or another tenant's key.

use std::io::Write as _;
use std::path::Path;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use crate::server::ObjectsError;

/// A tenant's access key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantKey {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
}

impl std::fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKey")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The deployment's key secret.
#[derive(Clone)]
pub struct KeySecret([u8; 32]);

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySecret(..)")
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl KeySecret {
    /// A secret from these bytes (tests; use [`KeySecret::load_or_create`]).
    pub fn from_bytes(bytes: [u8; 32]) -> KeySecret {
        KeySecret(bytes)
    }

    /// The secret kept at `path`, created (random, `0600`) when there is none.
    pub fn load_or_create(path: &Path) -> Result<KeySecret, ObjectsError> {
        let err = |source| ObjectsError::KeySecret {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read(path) {
            Ok(b) => {
                let bytes: [u8; 32] = b.as_slice().try_into().map_err(|_| {
                    err(std::io::Error::other(format!(
                        "it holds {} bytes, not 32; delete it to make a new one \
                         (every tenant's access key changes)",
                        b.len()
                    )))
                })?;
                return Ok(KeySecret(bytes));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| err(std::io::Error::other(e.to_string())))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        // Written whole under another name, then renamed: a reader never sees
        // half a secret; two creators race to the same kind of file and the
        // last rename wins before anyone used the first.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(err)?;
            f.write_all(&bytes).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, path).map_err(err)?;
        Ok(KeySecret(bytes))
    }

    fn derive(&self, purpose: &str, tenant: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(tenant.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Tenant `tenant`'s key pair.
    pub fn tenant_key(&self, tenant: &str) -> TenantKey {
        let id = self.derive("access-key-id", tenant);
        let secret = self.derive("secret-access-key", tenant);
        let mut access_key_id = String::from("AKIA");
        access_key_id.extend(
            id[..16]
                .iter()
                .map(|b| char::from(BASE32[usize::from(b & 31)])),
        );
        let secret_access_key = secret
            .iter()
            .chain(&id[16..])
            .take(40)
            .map(|b| char::from(SECRET_CHARS[usize::from(b & 63)]))
            .collect();
        TenantKey {
            access_key_id,
            secret_access_key,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_aws_shapes_and_differ_per_tenant_and_secret() {
        let s = KeySecret::from_bytes([7; 32]);
        let a = s.tenant_key("acme");
        assert_eq!(a.access_key_id.len(), 20);
        assert!(a.access_key_id.starts_with("AKIA"));
        assert!(a.access_key_id[4..].bytes().all(|b| BASE32.contains(&b)));
        assert_eq!(a.secret_access_key.len(), 40);
        assert_eq!(a, s.tenant_key("acme"));
        let b = s.tenant_key("globex");
        assert_ne!(a.access_key_id, b.access_key_id);
        assert_ne!(a.secret_access_key, b.secret_access_key);
        let other = KeySecret::from_bytes([8; 32]).tenant_key("acme");
        assert_ne!(a.access_key_id, other.access_key_id);
        assert!(!format!("{a:?}").contains(&a.secret_access_key));
    }

    #[test]
    fn the_secret_is_created_once_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("access-keys.secret");
        let a = KeySecret::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = KeySecret::load_or_create(&path).unwrap();
        assert_eq!(a.tenant_key("t"), b.tenant_key("t"));
        std::fs::write(&path, b"short").unwrap();
        let e = KeySecret::load_or_create(&path).unwrap_err();
        let text = format!("{e} {}", std::error::Error::source(&e).unwrap());
        assert!(text.contains("5 bytes, not 32"), "{text}");
    }
}
