use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};

use super::*;

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn secret_of(key: &str) -> Option<String> {
    (key == KEY).then(|| SECRET.to_owned())
}

/// AWS's published test suite, `get-vanilla`.
#[test]
fn the_aws_test_suites_get_vanilla_verifies() {
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    let req = Received {
        method: "GET",
        path: "/",
        query: "",
        headers: vec![
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            ("Authorization", auth),
        ],
        body: b"",
    };
    let now = UNIX_EPOCH + Duration::from_secs(parse_amz_date("20150830T123600Z").expect("date"));
    let who = verify(&req, now, secret_of).expect("verifies");
    assert_eq!(
        (
            who.access_key_id.as_str(),
            who.region.as_str(),
            who.service.as_str()
        ),
        ("AKIDEXAMPLE", "us-east-1", "service")
    );
    // One character of the signature changed.
    let bad = auth.replace("5fa00", "5fa01");
    let mut tampered = req.clone();
    tampered.headers[2].1 = &bad;
    assert_eq!(verify(&tampered, now, secret_of), Err(SigError::Mismatch));
}

/// Signs with aws-sigv4's signer (what the AWS SDKs do) and verifies here.
fn signed(
    method: &str,
    uri: &str,
    body: &[u8],
    service: &str,
    at: SystemTime,
) -> Vec<(String, String)> {
    let identity = Credentials::new(KEY, SECRET, None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .expect("params")
        .into();
    let host = uri.split('/').nth(2).expect("host");
    let headers = [
        ("host", host),
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
    ];
    let req = SignableRequest::new(
        method,
        uri,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("signable");
    let (instructions, _) = sign(req, &params).expect("sign").into_parts();
    let mut out: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for (k, v) in instructions.headers() {
        out.push((k.to_owned(), v.to_owned()));
    }
    out
}

fn received<'a>(
    method: &'a str,
    uri: &'a str,
    headers: &'a [(String, String)],
    body: &'a [u8],
) -> Received<'a> {
    let after_host = &uri[uri.find("://").expect("scheme") + 3..];
    let path_and_query = &after_host[after_host.find('/').unwrap_or(after_host.len())..];
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    Received {
        method,
        path,
        query,
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        body,
    }
}

#[test]
fn what_the_sdks_signer_signs_verifies_and_any_change_does_not() {
    let at = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let body =
        b"Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=cidr&Filter.1.Value.1=10.0.0.0%2F16";
    let uri = "https://ec2.us-east-1.amazonaws.com/";
    let headers = signed("POST", uri, body, "ec2", at);
    let req = received("POST", uri, &headers, body);
    assert_eq!(
        verify(&req, at, secret_of).expect("verifies").service,
        "ec2"
    );
    // Another body.
    let other = received(
        "POST",
        uri,
        &headers,
        b"Action=DeleteVpc&Version=2016-11-15",
    );
    assert_eq!(verify(&other, at, secret_of), Err(SigError::Mismatch));
    // Another key's secret.
    let wrong = |_: &str| Some("not-the-secret".to_owned());
    assert_eq!(verify(&req, at, wrong), Err(SigError::Mismatch));
    // Nobody's key.
    assert_eq!(verify(&req, at, |_| None), Err(SigError::UnknownKey));
    // 16 minutes later, and earlier.
    let skew = Duration::from_secs(16 * 60);
    assert!(matches!(
        verify(&req, at + skew, secret_of),
        Err(SigError::Expired { .. })
    ));
    assert!(matches!(
        verify(&req, at - skew, secret_of),
        Err(SigError::Expired { .. })
    ));
    // 14 minutes is within AWS's window.
    assert!(verify(&req, at + Duration::from_secs(14 * 60), secret_of).is_ok());
    // No Authorization.
    let bare = Received {
        headers: req
            .headers
            .iter()
            .copied()
            .filter(|(k, _)| *k != "authorization")
            .collect(),
        ..req.clone()
    };
    assert_eq!(verify(&bare, at, secret_of), Err(SigError::Missing));
}

#[test]
fn paths_and_queries_are_canonical_as_the_sdks_make_them() {
    let at = UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    for uri in [
        "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/my%20fn/invocations",
        "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/?Marker=a%2Fb&MaxItems=10",
        "https://ec2.us-east-1.amazonaws.com/?Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-1",
    ] {
        let headers = signed("GET", uri, b"", "lambda", at);
        let req = received("GET", uri, &headers, b"");
        assert!(verify(&req, at, secret_of).is_ok(), "{uri}");
    }
}

#[test]
fn malformed_headers_are_named() {
    for (auth, why) in [
        (
            "AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=x",
            "algorithm",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=x",
            "Credential",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request, SignedHeaders=x-amz-date, Signature=x",
            "host",
        ),
    ] {
        let req = Received {
            method: "GET",
            path: "/",
            query: "",
            headers: vec![
                ("host", "h"),
                ("x-amz-date", "20150830T123600Z"),
                ("authorization", auth),
            ],
            body: b"",
        };
        match verify(&req, SystemTime::now(), secret_of) {
            Err(SigError::Malformed(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("{auth}: {other:?}"),
        }
    }
}

#[test]
fn amz_dates_round_trip() {
    assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
    assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
    assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
    assert_eq!(format_amz_date(951_825_600), "20000229T120000Z");
    assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
    assert_eq!(parse_amz_date("20151330T123600Z"), None);
}
