//! AWS Signature Version 4 verification (pure). The canonical request and the
//! string to sign are rebuilt from the request exactly as it arrived (the signed
//! headers it names, its path and query as sent, its payload's hash); the signing
//! key and signature come from `aws-sigv4`. What fails gets AWS's codes: a missing
//! or malformed `Authorization`, an unknown access key, a clock off by more than
//! 15 minutes, a signature that does not match.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cove_model::http_api::percent_decode;
use sha2::{Digest, Sha256};

/// How far a request's time may be from the server's (AWS: 15 minutes).
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// A request as received, for verification.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// The query string as sent (without `?`).
    pub query: &'a str,
    /// Every header: (name, value).
    pub headers: Vec<(&'a str, &'a str)>,
    /// The body.
    pub body: &'a [u8],
}

impl Received<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Who signed: the access key and the scope it signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The access key id.
    pub access_key_id: String,
    /// The credential scope's region.
    pub region: String,
    /// The credential scope's service (`ec2`, `lambda`).
    pub service: String,
}

/// Why a request's signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// No `Authorization` header.
    #[error("the request has no Authorization header: sign it with AWS Signature Version 4")]
    Missing,
    /// The header or the date cannot be read.
    #[error("the Authorization header is malformed: {0}")]
    Malformed(String),
    /// The access key id is nobody's.
    #[error("the security token included in the request is invalid")]
    UnknownKey,
    /// The request's time is too far from the server's.
    #[error("the request's time {request} is more than 15 minutes from the server's {server}")]
    Expired {
        /// The request's `X-Amz-Date`.
        request: String,
        /// The server's time, in the same form.
        server: String,
    },
    /// The signature computed here differs.
    #[error(
        "the request signature we calculated does not match the signature you provided; check your AWS secret access key and signing method"
    )]
    Mismatch,
}

impl SigError {
    /// EC2's error code.
    pub fn ec2_code(&self) -> &'static str {
        match self {
            SigError::Missing => "MissingAuthenticationToken",
            SigError::Malformed(_) => "IncompleteSignature",
            SigError::UnknownKey => "AuthFailure",
            SigError::Expired { .. } => "RequestExpired",
            SigError::Mismatch => "SignatureDoesNotMatch",
        }
    }

    /// Lambda's error code (its `x-amzn-ErrorType`).
    pub fn lambda_code(&self) -> &'static str {
        match self {
            SigError::Missing => "MissingAuthenticationTokenException",
            SigError::Malformed(_) => "IncompleteSignatureException",
            SigError::UnknownKey => "UnrecognizedClientException",
            SigError::Expired { .. } => "InvalidSignatureException",
            SigError::Mismatch => "InvalidSignatureException",
        }
    }
}

/// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authorization<'a> {
    key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(text: &str) -> Result<Authorization<'_>, SigError> {
    let bad = |why: &str| SigError::Malformed(why.to_owned());
    let rest = text
        .strip_prefix("AWS4-HMAC-SHA256")
        .ok_or_else(|| bad("the algorithm must be AWS4-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| bad("expected Credential=, SignedHeaders= and Signature="))?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => return Err(bad(&format!("unknown part `{k}`"))),
        }
    }
    let credential = credential.ok_or_else(|| bad("no Credential"))?;
    let mut scope = credential.split('/');
    let (Some(key), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(bad(
            "the Credential must be KEY/YYYYMMDD/REGION/SERVICE/aws4_request",
        ));
    };
    let signed_headers: Vec<&str> = signed
        .ok_or_else(|| bad("no SignedHeaders"))?
        .split(';')
        .collect();
    if !signed_headers.contains(&"host") {
        return Err(bad("the host header must be signed"));
    }
    Ok(Authorization {
        key,
        date,
        region,
        service,
        signed_headers,
        signature: signature.ok_or_else(|| bad("no Signature"))?,
    })
}

/// AWS's URI encoding: unreserved characters kept, every other byte `%XX`;
/// `/` kept when `keep_slash`.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut s = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                s.push(char::from(b));
            }
            b'/' if keep_slash => s.push('/'),
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A header value as canonical: trimmed, inner runs of spaces made one.
fn canonical_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `YYYYMMDDTHHMMSSZ` as Unix seconds.
pub fn parse_amz_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// Unix seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(0);
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Checks `req`'s signature at time `now`; `secret_of` gives an access key id's
/// secret (`None`: nobody's key). Answers who signed.
pub fn verify(
    req: &Received<'_>,
    now: SystemTime,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Signer, SigError> {
    let auth = parse_authorization(req.header("authorization").ok_or(SigError::Missing)?)?;
    let amz_date = req
        .header("x-amz-date")
        .ok_or_else(|| SigError::Malformed("no X-Amz-Date header".to_owned()))?;
    let at = parse_amz_date(amz_date).ok_or_else(|| {
        SigError::Malformed(format!("X-Amz-Date `{amz_date}` is not YYYYMMDDTHHMMSSZ"))
    })?;
    if !amz_date.starts_with(auth.date) {
        return Err(SigError::Malformed(
            "the Credential's date is not X-Amz-Date's".to_owned(),
        ));
    }
    let secret = secret_of(auth.key).ok_or(SigError::UnknownKey)?;
    let server = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if server.abs_diff(at) > MAX_SKEW.as_secs() {
        return Err(SigError::Expired {
            request: amz_date.to_owned(),
            server: format_amz_date(server),
        });
    }
    let mut headers = String::new();
    for name in &auth.signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_value(v))
            .collect();
        if values.is_empty() {
            return Err(SigError::Malformed(format!(
                "the signed header `{name}` is not in the request"
            )));
        }
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload = match req.header("x-amz-content-sha256") {
        Some(h) => h.to_owned(),
        None => hex::encode(Sha256::digest(req.body)),
    };
    let path = if req.path.is_empty() { "/" } else { req.path };
    let canonical = format!(
        "{}\n{}\n{}\n{headers}\n{}\n{payload}",
        req.method,
        uri_encode(path, true),
        canonical_query(req.query),
        auth.signed_headers.join(";"),
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let signed_at = UNIX_EPOCH + Duration::from_secs(at);
    let key =
        aws_sigv4::sign::v4::generate_signing_key(&secret, signed_at, auth.region, auth.service);
    let want = aws_sigv4::sign::v4::calculate_signature(key, to_sign.as_bytes());
    if !same(&want, auth.signature) {
        return Err(SigError::Mismatch);
    }
    Ok(Signer {
        access_key_id: auth.key.to_owned(),
        region: auth.region.to_owned(),
        service: auth.service.to_owned(),
    })
}

/// Compares in time that depends only on the lengths.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests;
