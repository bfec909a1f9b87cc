//! The store with the real AWS CLI (`aws s3 cp`, `aws s3 sync`, `aws s3 ls`;
//! PyPI's awscli, which `scripts/test.sh` installs): two listeners on loopback
//! stand for two VPC endpoints, and a bucket whose policy denies everything not
//! coming through the first one. Uploads, syncs and downloads through it work;
//! the same requests through the other endpoint, another tenant's key, and
//! listing every bucket are refused with AccessDenied.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Output};

use cove_objects::{Bucket, Keys, ObjectStore, Policy, RequestContext};

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "OnlyThroughTheSpaEndpoint",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::spa", "arn:aws:s3:::spa/*"],
    "Condition": { "StringNotEquals": { "aws:SourceVpce": "vpce-0aaa" } }
  }]
}"#;

/// A listener whose connections all come "through" endpoint `vpce` of `vpc`.
async fn endpoint(store: ObjectStore, vpce: &str, vpc: &str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (vpce, vpc) = (vpce.to_owned(), vpc.to_owned());
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let origin = RequestContext {
                source_vpce: Some(vpce.clone()),
                source_vpc: Some(vpc.clone()),
                vpc_source_ip: match peer.ip() {
                    std::net::IpAddr::V4(ip) => Some(ip),
                    std::net::IpAddr::V6(_) => None,
                },
                ..RequestContext::default()
            };
            let store = store.clone();
            tokio::spawn(async move { store.serve(stream, origin).await });
        }
    });
    addr
}

/// `aws --endpoint-url http://ADDR s3 ARGS…` with `key`'s credentials.
async fn aws(config: &Path, addr: SocketAddr, key: (&str, &str), args: &[&str]) -> Output {
    let mut cmd = Command::new("aws");
    cmd.arg("--endpoint-url")
        .arg(format!("http://{addr}"))
        .arg("s3")
        .args(args)
        .env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ACCESS_KEY_ID", key.0)
        .env("AWS_SECRET_ACCESS_KEY", key.1)
        .env("AWS_DEFAULT_REGION", "us-east-1");
    tokio::task::spawn_blocking(move || cmd.output().expect("aws"))
        .await
        .expect("join")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_reaches_the_bucket_only_through_its_endpoint() {
    if Command::new("aws").arg("--version").output().is_err() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "the AWS CLI is missing: scripts/test.sh installs it"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let store = ObjectStore::open(&dir.path().join("objects")).expect("store");
    let acme = ("AKIAACME00000000TEST", "acme-secret");
    let bolt = ("AKIABOLT00000000TEST", "bolt-secret");
    let mut keys = BTreeMap::new();
    keys.insert(
        acme.0.to_owned(),
        (acme.1.to_owned(), "111111111111".to_owned()),
    );
    keys.insert(
        bolt.0.to_owned(),
        (bolt.1.to_owned(), "222222222222".to_owned()),
    );
    store.set_keys(Keys(keys));
    let mut buckets = BTreeMap::new();
    buckets.insert(
        "spa".to_owned(),
        Bucket {
            owner: "111111111111".to_owned(),
            policy: Some(Policy::parse(POLICY).expect("policy")),
        },
    );
    store.set_buckets(buckets).expect("buckets");
    let through = endpoint(store.clone(), "vpce-0aaa", "vpc-0one").await;
    let other = endpoint(store.clone(), "vpce-0bbb", "vpc-0one").await;

    let config = dir.path().join("aws-config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n",
    )
    .expect("config");
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("assets")).expect("site");
    std::fs::write(site.join("index.html"), "<h1>closed network</h1>\n").expect("write");
    std::fs::write(site.join("assets/app.js"), "console.log('private api');\n").expect("write");
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(site.join("assets/blob.bin"), &big).expect("write");

    // Through the bucket's endpoint: sync, list, download.
    let out = aws(
        &config,
        through,
        acme,
        &["sync", site.to_str().expect("utf8"), "s3://spa/"],
    )
    .await;
    assert!(out.status.success(), "sync: {}", text(&out));
    let out = aws(&config, through, acme, &["ls", "--recursive", "s3://spa/"]).await;
    assert!(out.status.success(), "ls: {}", text(&out));
    let listing = text(&out);
    for key in ["index.html", "assets/app.js", "assets/blob.bin"] {
        assert!(listing.contains(key), "{key} missing: {listing}");
    }
    let back = dir.path().join("blob.back");
    let out = aws(
        &config,
        through,
        acme,
        &[
            "cp",
            "s3://spa/assets/blob.bin",
            back.to_str().expect("utf8"),
        ],
    )
    .await;
    assert!(out.status.success(), "cp: {}", text(&out));
    assert_eq!(std::fs::read(&back).expect("read"), big);

    // Through the other endpoint: denied by the policy, even for the owner.
    let out = aws(&config, other, acme, &["ls", "s3://spa/"]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("AccessDenied"), "{}", text(&out));
    let out = aws(
        &config,
        other,
        acme,
        &[
            "cp",
            site.join("index.html").to_str().expect("utf8"),
            "s3://spa/x.html",
        ],
    )
    .await;
    assert!(text(&out).contains("AccessDenied"), "{}", text(&out));
    // Another tenant through the right endpoint: not the owner, nothing allows it.
    let out = aws(&config, through, bolt, &["ls", "s3://spa/"]).await;
    assert!(text(&out).contains("AccessDenied"), "{}", text(&out));
    // An unknown key, and listing every bucket.
    let out = aws(
        &config,
        through,
        ("AKIANOBODY0000000000", "x"),
        &["ls", "s3://spa/"],
    )
    .await;
    assert!(text(&out).contains("InvalidAccessKeyId"), "{}", text(&out));
    let out = aws(&config, through, acme, &["ls"]).await;
    assert!(text(&out).contains("AccessDenied"), "{}", text(&out));
    // Nothing was written by the refused requests.
    assert!(!dir.path().join("objects/spa/x.html").exists());
}
