//! Private DNS (issue 12): private hosted zones and their record sets, as
//! validation resolves them, and DNS names in their one canonical form.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::model::{Network, TenantId, VpcId};

/// A private hosted zone (Route 53): its records answer queries from the VPCs it
/// is associated with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostedZone {
    /// The tenant that owns it.
    pub tenant: TenantId,
    /// Its domain, canonical ([`canonical_name`]: lowercase, with the final dot).
    pub name: String,
    /// The VPCs whose resolver answers from it.
    pub vpcs: Vec<VpcId>,
    /// Its record sets, one per (name, type).
    pub records: Vec<RecordSet>,
}

/// The records of one name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordSet {
    /// The owner name, canonical; inside its zone (`*.` in front: a wildcard).
    pub name: String,
    /// Seconds a resolver may cache it.
    pub ttl: u32,
    /// The records.
    pub data: RecordData,
}

/// The records of a record set, by type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "values")]
pub enum RecordData {
    /// IPv4 addresses.
    A(Vec<Ipv4Addr>),
    /// IPv6 addresses.
    #[serde(rename = "AAAA")]
    Aaaa(Vec<Ipv6Addr>),
    /// An alias for another name (alone at its name).
    #[serde(rename = "CNAME")]
    Cname(String),
    /// Text strings (each at most 255 bytes).
    #[serde(rename = "TXT")]
    Txt(Vec<String>),
    /// Services: priority, weight, port, target.
    #[serde(rename = "SRV")]
    Srv(Vec<Srv>),
    /// Mail exchangers: preference, host.
    #[serde(rename = "MX")]
    Mx(Vec<Mx>),
}

impl RecordData {
    /// The type as written (`A`, `AAAA`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            RecordData::A(_) => "A",
            RecordData::Aaaa(_) => "AAAA",
            RecordData::Cname(_) => "CNAME",
            RecordData::Txt(_) => "TXT",
            RecordData::Srv(_) => "SRV",
            RecordData::Mx(_) => "MX",
        }
    }
}

/// One SRV record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Srv {
    /// Lower is tried first.
    pub priority: u16,
    /// Among the same priority, the share of the load.
    pub weight: u16,
    /// The service's port.
    pub port: u16,
    /// The host, canonical.
    pub target: String,
}

/// One MX record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mx {
    /// Lower is tried first.
    pub preference: u16,
    /// The mail host, canonical.
    pub exchange: String,
}

/// Why a DNS name is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing but dots or blanks.
    #[error("the name is empty")]
    Empty,
    /// More than 253 characters (without the final dot).
    #[error("the name has {0} characters; at most 253")]
    TooLong(usize),
    /// A label of more than 63 characters, or an empty one (`a..b`).
    #[error("label `{0}` is empty or longer than 63 characters")]
    BadLabelLength(String),
    /// A character other than letters, digits, `-` and `_` (and a leading `*`
    /// label where wildcards are allowed).
    #[error("label `{0}` has a character other than letters, digits, `-` and `_`")]
    BadCharacter(String),
}

/// `name` in its canonical form: lowercase, with the final dot. With `wildcard`,
/// the first label may be `*`.
pub fn canonical_name(name: &str, wildcard: bool) -> Result<String, NameError> {
    let trimmed = name.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.len() > 253 {
        return Err(NameError::TooLong(trimmed.len()));
    }
    for (i, label) in trimmed.split('.').enumerate() {
        if label.is_empty() || label.len() > 63 {
            return Err(NameError::BadLabelLength(label.to_owned()));
        }
        if wildcard && i == 0 && label == "*" {
            continue;
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(NameError::BadCharacter(label.to_owned()));
        }
    }
    Ok(format!("{}.", trimmed.to_ascii_lowercase()))
}

/// The region of an S3 service name (`com.amazonaws.us-east-1.s3` →
/// `us-east-1`); `None` for any other service.
pub fn s3_region(service: &str) -> Option<&str> {
    service
        .strip_prefix("com.amazonaws.")?
        .strip_suffix(".s3")
        .filter(|r| !r.is_empty() && !r.contains('.'))
}

/// The region of an API Gateway service name
/// (`com.amazonaws.us-east-1.execute-api` → `us-east-1`); `None` for any other.
pub fn execute_api_region(service: &str) -> Option<&str> {
    service
        .strip_prefix("com.amazonaws.")?
        .strip_suffix(".execute-api")
        .filter(|r| !r.is_empty() && !r.contains('.'))
}

/// The bucket a virtual-hosted S3 name names (`spa.s3.us-east-1.amazonaws.com`
/// → `spa`, dotted bucket names included), without a port or the final dot;
/// `None` for any other host (S3's regional name, an address: path-style).
pub fn s3_bucket_of_host(host: &str) -> Option<&str> {
    let name = host.split(':').next().unwrap_or(host).trim_end_matches('.');
    if !name.ends_with(".amazonaws.com") {
        return None;
    }
    name.find(".s3.").filter(|i| *i > 0).map(|i| &name[..i])
}

/// The API id a private API's host names: `<api-id>.execute-api.<region>.amazonaws.com`
/// or the Route 53 alias `<api-id>-<vpce-id>.execute-api.…`; `None` for the
/// endpoint's own name `<vpce-id>.execute-api.…` (it names the endpoint: the
/// `x-apigw-api-id` header names the API) and any other host. Lowercase.
pub fn api_id_of_host(host: &str) -> Option<String> {
    let h = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let (first, rest) = h.split_once('.')?;
    if !rest.starts_with("execute-api.") || first.starts_with("vpce-") {
        return None;
    }
    Some(first.split('-').next().unwrap_or(first).to_owned())
}

/// S3's regional name (`s3.us-east-1.amazonaws.com.`), canonical: inside a VPC
/// it resolves to the VPC's S3 endpoint, and so do the buckets'
/// virtual-hosted names under it.
pub fn s3_name(region: &str) -> String {
    format!("s3.{region}.amazonaws.com.")
}

/// Whether canonical `name` is `zone` or inside it.
pub fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// The name an ENI's address has when its VPC has DNS hostnames
/// (`ip-10-20-1-5.ec2.internal.` in us-east-1, `ip-….<region>.compute.internal.`
/// elsewhere), as AWS names them.
pub fn eni_hostname(ip: Ipv4Addr, region: &str) -> String {
    let o = ip.octets();
    let domain = if region == "us-east-1" {
        "ec2.internal".to_owned()
    } else {
        format!("{region}.compute.internal")
    };
    format!("ip-{}-{}-{}-{}.{domain}.", o[0], o[1], o[2], o[3])
}

/// The region of VPC `v`, as its ENI hostnames name it: its first subnet's
/// availability zone without the zone letter (`us-east-1a` → `us-east-1`);
/// `us-east-1` when that leaves nothing.
pub fn vpc_region(net: &Network, v: VpcId) -> String {
    net.vpcs[v.index()]
        .subnets
        .first()
        .map(|s| {
            net.subnets[s.index()]
                .az
                .trim_end_matches(|c: char| c.is_ascii_lowercase())
                .to_owned()
        })
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// The reverse-lookup name of an address (`5.1.20.10.in-addr.arpa.`).
pub fn reverse_name(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_with_the_final_dot_and_checked() {
        assert_eq!(
            canonical_name("DB.Internal", false),
            Ok("db.internal.".into())
        );
        assert_eq!(
            canonical_name("db.internal.", false),
            Ok("db.internal.".into())
        );
        assert_eq!(
            canonical_name("_pg._tcp.db.internal", false),
            Ok("_pg._tcp.db.internal.".into())
        );
        assert_eq!(
            canonical_name("*.db.internal", true),
            Ok("*.db.internal.".into())
        );
        assert!(matches!(
            canonical_name("*.db.internal", false),
            Err(NameError::BadCharacter(_))
        ));
        assert!(matches!(
            canonical_name("a..b", false),
            Err(NameError::BadLabelLength(_))
        ));
        assert_eq!(canonical_name(" . ", false), Err(NameError::Empty));
        assert!(matches!(
            canonical_name(&"a".repeat(64), false),
            Err(NameError::BadLabelLength(_))
        ));
        let long = vec!["abcdefgh"; 30].join(".");
        assert!(matches!(
            canonical_name(&long, false),
            Err(NameError::TooLong(_))
        ));
        assert!(matches!(
            canonical_name("db internal", false),
            Err(NameError::BadCharacter(_))
        ));
    }

    #[test]
    fn zones_contain_their_names_and_only_those() {
        assert!(in_zone("db.internal.", "db.internal."));
        assert!(in_zone("a.db.internal.", "db.internal."));
        assert!(!in_zone("xdb.internal.", "db.internal."));
        assert!(!in_zone("internal.", "db.internal."));
    }

    #[test]
    fn eni_hostnames_and_reverse_names_are_awss() {
        let ip = Ipv4Addr::new(10, 20, 1, 5);
        assert_eq!(eni_hostname(ip, "us-east-1"), "ip-10-20-1-5.ec2.internal.");
        assert_eq!(
            eni_hostname(ip, "eu-west-1"),
            "ip-10-20-1-5.eu-west-1.compute.internal."
        );
        assert_eq!(reverse_name(ip), "5.1.20.10.in-addr.arpa.");
    }
}
