//! The S3-compatible server: `s3s` over its file-system backend (`s3s-fs`), one
//! store for the deployment, served connection by connection. Whoever accepts a
//! connection (a listener opened inside an endpoint's or a VPC's services
//! namespace) knows where it came from and hands that over as the connection's
//! [`RequestContext`]; every request of the connection carries it, and the
//! bucket's policy is decided on it ([`crate::policy`]).
//!
//! Requests are signed (SigV4) with a tenant's key ([`Keys`]); the key names the
//! requester's account, which is the bucket owner's or not. Unsigned requests are
//! anonymous: only a policy statement for everyone grants them anything. Buckets are declared
//! ([`Bucket`]), not created over the API; listing all buckets is refused (a
//! tenant must not learn another's bucket names).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Result, s3_error};

use crate::policy::{Decision, Policy, RequestContext};

/// Something the store could not do.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    /// The store's directory could not be created or opened.
    #[error("could not open the object store at {path}")]
    Open {
        /// The directory.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The deployment's key secret could not be read or created.
    #[error("could not read or create the access-key secret {path}")]
    KeySecret {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A declared bucket's directory could not be created.
    #[error("could not create bucket {bucket}'s directory")]
    Bucket {
        /// The bucket.
        bucket: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// A declared bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The owner's account id.
    pub owner: String,
    /// Its policy, if any.
    pub policy: Option<Policy>,
}

/// Access keys: access key id → (secret, account id).
#[derive(Debug, Clone, Default)]
pub struct Keys(pub BTreeMap<String, (String, String)>);

struct Auth(Arc<RwLock<Keys>>);

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let keys = self.0.read().unwrap_or_else(|e| e.into_inner());
        match keys.0.get(access_key) {
            Some((secret, _)) => Ok(SecretKey::from(secret.as_str())),
            None => Err(s3_error!(InvalidAccessKeyId)),
        }
    }
}

struct Access {
    keys: Arc<RwLock<Keys>>,
    buckets: Arc<RwLock<BTreeMap<String, Bucket>>>,
}

/// The policy action of an S3 operation (`GetObject` → `s3:GetObject`), as S3
/// authorizes it.
pub fn action(op: &str) -> String {
    let name = match op {
        "HeadObject" => "GetObject",
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "ListBucket",
        "DeleteObjects" => "DeleteObject",
        "CreateMultipartUpload"
        | "UploadPart"
        | "CompleteMultipartUpload"
        | "CopyObject"
        | "UploadPartCopy" => "PutObject",
        "AbortMultipartUpload" => "AbortMultipartUpload",
        "ListParts" => "ListMultipartUploadParts",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        other => other,
    };
    format!("s3:{name}")
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(origin) = cx.extensions_mut().get::<RequestContext>().cloned() else {
            return Err(s3_error!(
                AccessDenied,
                "the request came through no cove listener"
            ));
        };
        // An unsigned request is anonymous: only a policy that grants everyone
        // (`"Principal": "*"`) lets it through, as in S3 (a browser loading a
        // static site through the endpoint).
        let account = cx.credentials().and_then(|creds| {
            let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
            keys.0.get(&creds.access_key).map(|k| k.1.clone())
        });
        let op = cx.s3_op().name().to_owned();
        let (bucket, resource) = match cx.s3_path() {
            S3Path::Root => {
                return Err(s3_error!(
                    AccessDenied,
                    "listing every bucket is not allowed: list one, s3://BUCKET"
                ));
            }
            S3Path::Bucket { bucket } => (bucket.to_string(), format!("arn:aws:s3:::{bucket}")),
            S3Path::Object { bucket, key } => {
                (bucket.to_string(), format!("arn:aws:s3:::{bucket}/{key}"))
            }
        };
        if matches!(
            op.as_str(),
            "CreateBucket" | "DeleteBucket" | "PutBucketPolicy" | "DeleteBucketPolicy"
        ) {
            return Err(s3_error!(
                AccessDenied,
                "buckets and their policies are declared in the spec"
            ));
        }
        let mut cx_req = origin;
        cx_req.account.clone_from(&account);
        // Decided under the read lock: the bucket's policy is not copied per
        // request.
        let decision = {
            let buckets = self.buckets.read().unwrap_or_else(|e| e.into_inner());
            let Some(b) = buckets.get(&bucket) else {
                return Err(s3_error!(NoSuchBucket));
            };
            let owner = account.as_deref() == Some(b.owner.as_str());
            match &b.policy {
                Some(p) => p.decide(&cx_req, &action(&op), &resource, owner),
                None if owner => Decision::Allow,
                None => Decision::ImplicitDeny,
            }
        };
        match decision {
            Decision::Allow => Ok(()),
            Decision::ImplicitDeny => Err(s3_error!(
                AccessDenied,
                "no statement of the bucket policy allows this"
            )),
            Decision::ExplicitDeny(sid) => Err(s3_error!(
                AccessDenied,
                "denied by the bucket policy's statement {sid}"
            )),
        }
    }
}

/// Virtual-hosted-style names (`BUCKET.s3.REGION.amazonaws.com`) name their
/// bucket; any other `Host` (S3's regional name, an address, a name of the
/// operator's) is path-style (`/BUCKET/KEY`).
struct AwsHosts;

impl s3s::host::S3Host for AwsHosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<s3s::host::VirtualHost<'a>> {
        let name = host.split(':').next().unwrap_or(host);
        match cove_model::dns::s3_bucket_of_host(host) {
            Some(bucket) => {
                let domain = &name[bucket.len() + 1..];
                Ok(s3s::host::VirtualHost::new(domain).with_bucket(bucket))
            }
            None => Ok(s3s::host::VirtualHost::new(name)),
        }
    }
}

/// The deployment's object store.
#[derive(Clone)]
pub struct ObjectStore {
    service: S3Service,
    root: std::path::PathBuf,
    keys: Arc<RwLock<Keys>>,
    buckets: Arc<RwLock<BTreeMap<String, Bucket>>>,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl ObjectStore {
    /// The store kept under `root` (created, `0700`, if missing).
    pub fn open(root: &Path) -> Result<ObjectStore, ObjectsError> {
        let err = |source| ObjectsError::Open {
            path: root.display().to_string(),
            source,
        };
        std::fs::create_dir_all(root).map_err(err)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| err(std::io::Error::other(format!("{e:?}"))))?;
        let keys = Arc::new(RwLock::new(Keys::default()));
        let buckets = Arc::new(RwLock::new(BTreeMap::new()));
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(Auth(Arc::clone(&keys)));
        builder.set_host(AwsHosts);
        builder.set_access(Access {
            keys: Arc::clone(&keys),
            buckets: Arc::clone(&buckets),
        });
        Ok(ObjectStore {
            service: builder.build(),
            root: root.to_owned(),
            keys,
            buckets,
        })
    }

    /// Accepts requests signed with these keys from now on.
    pub fn set_keys(&self, keys: Keys) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    /// Serves these buckets from now on (each one's directory created; a
    /// bucket no longer declared keeps its objects but is not served).
    pub fn set_buckets(&self, buckets: BTreeMap<String, Bucket>) -> Result<(), ObjectsError> {
        for name in buckets.keys() {
            std::fs::create_dir_all(self.root.join(name)).map_err(|source| {
                ObjectsError::Bucket {
                    bucket: name.clone(),
                    source,
                }
            })?;
        }
        *self.buckets.write().unwrap_or_else(|e| e.into_inner()) = buckets;
        Ok(())
    }

    /// Serves one accepted connection, every request of it coming from `origin`.
    pub async fn serve(&self, stream: tokio::net::TcpStream, origin: RequestContext) {
        let service = self.service.clone();
        let svc =
            hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(origin.clone());
                let service = service.clone();
                async move { service.call(req.map(s3s::Body::from)).await }
            });
        let io = hyper_util::rt::TokioIo::new(stream);
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .await;
    }
}

impl cove_listeners::Serve for ObjectStore {
    fn serve(
        &self,
        stream: tokio::net::TcpStream,
        origin: RequestContext,
    ) -> impl std::future::Future<Output = ()> + Send {
        ObjectStore::serve(self, stream, origin)
    }
}
