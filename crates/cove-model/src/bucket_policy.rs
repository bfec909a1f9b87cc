//! Resource policies, pure — bucket policies and private APIs' resource policies
//! ([`PolicyKind`]): AWS's policy language as far as a closed network needs it — `Allow`/`Deny` statements for everyone (`"Principal": "*"`) or accounts,
//! actions and resources with wildcards, and conditions on where a request came
//! from: `aws:SourceVpce`, `aws:SourceVpc`, `aws:SourceIp`, `aws:VpcSourceIp`,
//! `aws:PrincipalAccount`.
//!
//! Evaluation is AWS's: an explicit `Deny` that matches wins; otherwise the bucket
//! owner's own requests are allowed (its identity is the tenant's), anyone
//! else's need an `Allow` that matches. A condition key the request does not have
//! matches no value — so a negated operator (`StringNotEquals`) is true for it,
//! which is how "deny unless through this endpoint" denies requests that came
//! through no endpoint at all.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::Value;

/// A policy document that is not one cove evaluates, with the place and the fix
/// (S3 answers `MalformedPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MalformedPolicy: {field}: {message}")]
pub struct MalformedPolicy {
    /// Where in the document (`Statement[1].Condition`).
    pub field: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

fn malformed(field: impl Into<String>, message: impl Into<String>) -> MalformedPolicy {
    MalformedPolicy {
        field: field.into(),
        message: message.into(),
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else grants.
    Deny,
}

/// Whom a statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`: everyone.
    Anyone,
    /// These account ids (`arn:aws:iam::123456789012:root` or the bare id).
    Accounts(Vec<String>),
}

/// A condition operator cove evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Exact, case-sensitive.
    StringEquals,
    /// Negated [`Operator::StringEquals`].
    StringNotEquals,
    /// With `*` and `?` wildcards.
    StringLike,
    /// Negated [`Operator::StringLike`].
    StringNotLike,
    /// The address is in one of the CIDRs.
    IpAddress,
    /// Negated [`Operator::IpAddress`].
    NotIpAddress,
}

impl Operator {
    fn parse(s: &str) -> Option<Operator> {
        Some(match s {
            "StringEquals" => Operator::StringEquals,
            "StringNotEquals" => Operator::StringNotEquals,
            "StringLike" => Operator::StringLike,
            "StringNotLike" => Operator::StringNotLike,
            "IpAddress" => Operator::IpAddress,
            "NotIpAddress" => Operator::NotIpAddress,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals | Operator::StringNotLike | Operator::NotIpAddress
        )
    }
}

/// The condition keys cove knows.
pub const KEYS: [&str; 5] = [
    "aws:SourceVpce",
    "aws:SourceVpc",
    "aws:SourceIp",
    "aws:VpcSourceIp",
    "aws:PrincipalAccount",
];

/// One condition: `operator: { key: [values] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The operator.
    pub operator: Operator,
    /// The key (one of [`KEYS`]).
    pub key: String,
    /// Any of these.
    pub values: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Its `Sid`, if any.
    pub sid: Option<String>,
    /// Allow or deny.
    pub effect: Effect,
    /// Whom.
    pub principal: Principal,
    /// Actions (`s3:GetObject`, `s3:*`, `s3:Get*`).
    pub actions: Vec<String>,
    /// Resources (`arn:aws:s3:::bucket`, `arn:aws:s3:::bucket/*`).
    pub resources: Vec<String>,
    /// All must hold.
    pub conditions: Vec<Condition>,
}

/// A bucket policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Its statements.
    pub statements: Vec<Statement>,
}

/// Where a request came from, and who made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The VPC endpoint it came through (`vpce-…`), if any.
    pub source_vpce: Option<String>,
    /// The VPC it came from (`vpc-…`), if through an endpoint.
    pub source_vpc: Option<String>,
    /// The public address it came from (not through an endpoint).
    pub source_ip: Option<Ipv4Addr>,
    /// The private address it came from (through an endpoint).
    pub vpc_source_ip: Option<Ipv4Addr>,
    /// The requester's account.
    pub account: Option<String>,
}

impl RequestContext {
    fn value(&self, key: &str) -> Option<String> {
        match key {
            "aws:SourceVpce" => self.source_vpce.clone(),
            "aws:SourceVpc" => self.source_vpc.clone(),
            "aws:SourceIp" => self.source_ip.map(|a| a.to_string()),
            "aws:VpcSourceIp" => self.vpc_source_ip.map(|a| a.to_string()),
            "aws:PrincipalAccount" => self.account.clone(),
            _ => None,
        }
    }
}

/// What a policy decides for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// No statement allows it (and the requester is not the owner).
    ImplicitDeny,
    /// A `Deny` statement matched (its `Sid`, or its index).
    ExplicitDeny(String),
}

/// One string or a list of strings.
fn strings(v: &Value, field: &str) -> Result<Vec<String>, MalformedPolicy> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| malformed(format!("{field}[{i}]"), "must be a string"))
            })
            .collect(),
        _ => Err(malformed(field, "must be a string or a list of strings")),
    }
}

fn principal(v: Option<&Value>, field: &str) -> Result<Principal, MalformedPolicy> {
    let v = v.ok_or_else(|| malformed(field, "missing: write \"Principal\": \"*\""))?;
    match v {
        Value::String(s) if s == "*" => Ok(Principal::Anyone),
        Value::Object(o) => {
            let aws = o.get("AWS").ok_or_else(|| {
                malformed(
                    field,
                    "only {\"AWS\": …} principals are evaluated: \"*\" or account ids",
                )
            })?;
            let ids = strings(aws, &format!("{field}.AWS"))?;
            if ids.iter().any(|i| i == "*") {
                return Ok(Principal::Anyone);
            }
            let accounts = ids
                .iter()
                .map(|i| {
                    let id = i
                        .strip_prefix("arn:aws:iam::")
                        .and_then(|r| r.strip_suffix(":root"))
                        .unwrap_or(i);
                    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
                        Ok(id.to_owned())
                    } else {
                        Err(malformed(
                            format!("{field}.AWS"),
                            format!(
                                "{i} is no account: write a 12-digit id or arn:aws:iam::ID:root"
                            ),
                        ))
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok(Principal::Accounts(accounts))
        }
        _ => Err(malformed(field, "must be \"*\" or {\"AWS\": …}")),
    }
}

fn conditions(v: Option<&Value>, field: &str) -> Result<Vec<Condition>, MalformedPolicy> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let o = v
        .as_object()
        .ok_or_else(|| malformed(field, "must be an object of operators"))?;
    let mut out = Vec::new();
    for (op, keys) in o {
        let operator = Operator::parse(op).ok_or_else(|| {
            malformed(
                format!("{field}.{op}"),
                "unknown operator: use StringEquals, StringNotEquals, StringLike, StringNotLike, IpAddress or NotIpAddress",
            )
        })?;
        let keys = keys
            .as_object()
            .ok_or_else(|| malformed(format!("{field}.{op}"), "must be an object of keys"))?;
        for (key, values) in keys {
            let here = format!("{field}.{op}.{key}");
            let known = KEYS
                .iter()
                .find(|k| k.eq_ignore_ascii_case(key))
                .ok_or_else(|| {
                    malformed(
                        &here,
                        format!("unknown condition key: use one of {}", KEYS.join(", ")),
                    )
                })?;
            let values = strings(values, &here)?;
            if matches!(operator, Operator::IpAddress | Operator::NotIpAddress) {
                for v in &values {
                    if v.parse::<Ipv4Net>().is_err() && v.parse::<Ipv4Addr>().is_err() {
                        return Err(malformed(&here, format!("{v} is no IPv4 address or CIDR")));
                    }
                }
            }
            out.push(Condition {
                operator,
                key: (*known).to_owned(),
                values,
            });
        }
    }
    Ok(out)
}

/// Whose resource policy a document is: it decides the actions and resources a
/// statement may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind<'a> {
    /// A bucket's: `s3:…` actions on `arn:aws:s3:::…`.
    Bucket,
    /// A private API's: `execute-api:…` actions on its ARN
    /// (`arn:aws:execute-api:REGION:ACCOUNT:API-ID`); `execute-api:/STAGE/METHOD/PATH`
    /// is short for the API's own resources, as API Gateway writes it.
    Api {
        /// The API's ARN.
        arn: &'a str,
    },
}

impl PolicyKind<'_> {
    /// `resource` as evaluated (a short API resource expanded), or what to write
    /// instead.
    fn resource(self, r: &str) -> Result<String, String> {
        match self {
            PolicyKind::Bucket if r.starts_with("arn:aws:s3:::") => Ok(r.to_owned()),
            PolicyKind::Bucket => Err(format!(
                "{r}: write arn:aws:s3:::BUCKET or arn:aws:s3:::BUCKET/KEY"
            )),
            PolicyKind::Api { arn } => match r.strip_prefix("execute-api:") {
                Some(rest) if rest.starts_with('/') => Ok(format!("{arn}{rest}")),
                _ if r.starts_with("arn:aws:execute-api:") => Ok(r.to_owned()),
                _ => Err(format!(
                    "{r}: write execute-api:/STAGE/METHOD/PATH (execute-api:/* for all) or the API's ARN"
                )),
            },
        }
    }

    fn action_ok(self, a: &str) -> Result<(), String> {
        let a_lower = a.to_ascii_lowercase();
        match self {
            _ if a == "*" => Ok(()),
            PolicyKind::Bucket if a_lower.starts_with("s3:") => Ok(()),
            PolicyKind::Bucket => Err(format!("{a}: a bucket policy's actions are s3:… (or *)")),
            PolicyKind::Api { .. } if a_lower.starts_with("execute-api:") => Ok(()),
            PolicyKind::Api { .. } => Err(format!(
                "{a}: an API's resource policy allows execute-api:Invoke (or *)"
            )),
        }
    }
}

impl Policy {
    /// Parses a bucket policy (JSON), refusing what cove cannot evaluate.
    pub fn parse(text: &str) -> Result<Policy, MalformedPolicy> {
        Policy::parse_as(text, PolicyKind::Bucket)
    }

    /// Parses a resource policy of `kind` (JSON), refusing what cove cannot
    /// evaluate.
    pub fn parse_as(text: &str, kind: PolicyKind<'_>) -> Result<Policy, MalformedPolicy> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| malformed("(document)", format!("not JSON: {e}")))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| malformed("(document)", "must be a JSON object"))?;
        if let Some(v) = obj.get("Version") {
            if v != "2012-10-17" && v != "2008-10-17" {
                return Err(malformed("Version", "write \"2012-10-17\""));
            }
        }
        let list = match obj.get("Statement") {
            Some(Value::Array(a)) => a.clone(),
            Some(s @ Value::Object(_)) => vec![s.clone()],
            _ => return Err(malformed("Statement", "missing: give a list of statements")),
        };
        if list.is_empty() {
            return Err(malformed(
                "Statement",
                "is empty: give at least one statement",
            ));
        }
        let mut statements = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let at = format!("Statement[{i}]");
            let s = s
                .as_object()
                .ok_or_else(|| malformed(&at, "must be an object"))?;
            for key in s.keys() {
                if ![
                    "Sid",
                    "Effect",
                    "Principal",
                    "Action",
                    "Resource",
                    "Condition",
                ]
                .contains(&key.as_str())
                {
                    return Err(malformed(
                        format!("{at}.{key}"),
                        "not evaluated by cove (NotAction, NotResource and NotPrincipal are not supported): remove it",
                    ));
                }
            }
            let effect = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                _ => return Err(malformed(format!("{at}.Effect"), "must be Allow or Deny")),
            };
            let actions = strings(
                s.get("Action")
                    .ok_or_else(|| malformed(format!("{at}.Action"), "missing"))?,
                &format!("{at}.Action"),
            )?;
            for a in &actions {
                kind.action_ok(a)
                    .map_err(|m| malformed(format!("{at}.Action"), m))?;
            }
            let resources = strings(
                s.get("Resource")
                    .ok_or_else(|| malformed(format!("{at}.Resource"), "missing"))?,
                &format!("{at}.Resource"),
            )?
            .iter()
            .map(|r| kind.resource(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| malformed(format!("{at}.Resource"), m))?;
            statements.push(Statement {
                sid: s.get("Sid").and_then(Value::as_str).map(str::to_owned),
                effect,
                principal: principal(s.get("Principal"), &format!("{at}.Principal"))?,
                actions,
                resources,
                conditions: conditions(s.get("Condition"), &format!("{at}.Condition"))?,
            });
        }
        Ok(Policy { statements })
    }

    /// Whether `action` (`s3:GetObject`) on `resource` (`arn:aws:s3:::b/k`) is
    /// allowed for a request from `cx`, made by the bucket's owner or not.
    pub fn decide(
        &self,
        cx: &RequestContext,
        action: &str,
        resource: &str,
        owner: bool,
    ) -> Decision {
        let mut allowed = owner;
        for (i, s) in self.statements.iter().enumerate() {
            if !s.applies(cx, action, resource) {
                continue;
            }
            match s.effect {
                Effect::Deny => {
                    return Decision::ExplicitDeny(
                        s.sid.clone().unwrap_or_else(|| format!("Statement[{i}]")),
                    );
                }
                Effect::Allow => allowed = true,
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }
}

impl Statement {
    fn applies(&self, cx: &RequestContext, action: &str, resource: &str) -> bool {
        let principal = match &self.principal {
            Principal::Anyone => true,
            Principal::Accounts(ids) => cx.account.as_ref().is_some_and(|a| ids.contains(a)),
        };
        principal
            && self
                .actions
                .iter()
                .any(|a| wildcard(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| wildcard(r, resource))
            && self.conditions.iter().all(|c| c.holds(cx))
    }
}

impl Condition {
    fn holds(&self, cx: &RequestContext) -> bool {
        let Some(have) = cx.value(&self.key) else {
            // A key the request lacks matches no value.
            return self.operator.negated();
        };
        let any = self.values.iter().any(|v| match self.operator {
            Operator::StringEquals | Operator::StringNotEquals => *v == have,
            Operator::StringLike | Operator::StringNotLike => wildcard(v, &have),
            Operator::IpAddress | Operator::NotIpAddress => {
                let Ok(ip) = have.parse::<Ipv4Addr>() else {
                    return false;
                };
                v.parse::<Ipv4Net>()
                    .map(|n| n.contains(&ip))
                    .or_else(|_| v.parse::<Ipv4Addr>().map(|a| a == ip))
                    .unwrap_or(false)
            }
        });
        any != self.operator.negated()
    }
}

/// `*` (any run) and `?` (one character) in `pattern` against `text`.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A bucket of cove's object storage, as validated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Bucket {
    /// Its owner.
    pub tenant: crate::model::TenantId,
    /// Its name (global across tenants).
    pub name: String,
    /// Its policy document (compact JSON), if any.
    pub policy_document: Option<String>,
    /// The same, parsed.
    #[serde(skip)]
    pub policy: Option<Policy>,
}

/// Why S3 would refuse `name` as a bucket name (`None`: it would not): 3 to 63
/// characters of lowercase letters, digits, dots and hyphens, beginning and
/// ending with a letter or digit, no two dots in a row, not an IP address, and
/// none of the prefixes and suffixes S3 reserves.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return Some("must be 3 to 63 characters long");
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return Some("may hold only lowercase letters, digits, dots and hyphens");
    }
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge(b[0]) || !edge(b[b.len() - 1]) {
        return Some("must begin and end with a letter or a digit");
    }
    if name.contains("..") {
        return Some("may not hold two dots in a row");
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return Some("may not be an IP address");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return Some("uses a prefix or suffix S3 reserves (xn--, sthree-, -s3alias, --ol-s3)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONLY_THROUGH: &str = r#"{
      "Version": "2012-10-17",
      "Statement": [{
        "Sid": "OnlyThroughTheEndpoint",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::spa", "arn:aws:s3:::spa/*"],
        "Condition": { "StringNotEquals": { "aws:SourceVpce": "vpce-0123456789abcdef0" } }
      }, {
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject", "s3:List*"],
        "Resource": ["arn:aws:s3:::spa", "arn:aws:s3:::spa/*"],
        "Condition": { "StringEquals": { "aws:SourceVpc": ["vpc-aaaa", "vpc-bbbb"] } }
      }]
    }"#;

    fn through(vpce: Option<&str>, vpc: Option<&str>) -> RequestContext {
        RequestContext {
            source_vpce: vpce.map(str::to_owned),
            source_vpc: vpc.map(str::to_owned),
            ..RequestContext::default()
        }
    }

    #[test]
    fn deny_unless_through_the_endpoint() {
        let p = Policy::parse(ONLY_THROUGH).expect("valid");
        let get = |cx: &RequestContext, owner| {
            p.decide(cx, "s3:GetObject", "arn:aws:s3:::spa/index.html", owner)
        };
        let deny = Decision::ExplicitDeny("OnlyThroughTheEndpoint".into());
        // Through no endpoint at all: the key is missing, StringNotEquals holds.
        assert_eq!(get(&through(None, None), true), deny, "not even the owner");
        assert_eq!(
            get(&through(Some("vpce-other"), Some("vpc-aaaa")), true),
            deny
        );
        // Through it: the owner may; others need the Allow (from the listed VPCs).
        let ok = through(Some("vpce-0123456789abcdef0"), Some("vpc-aaaa"));
        assert_eq!(get(&ok, true), Decision::Allow);
        assert_eq!(get(&ok, false), Decision::Allow);
        let elsewhere = through(Some("vpce-0123456789abcdef0"), Some("vpc-cccc"));
        assert_eq!(get(&elsewhere, false), Decision::ImplicitDeny);
        assert_eq!(
            get(&elsewhere, true),
            Decision::Allow,
            "the owner needs no Allow"
        );
        // Actions and resources with wildcards.
        assert_eq!(
            p.decide(&ok, "s3:ListBucket", "arn:aws:s3:::spa", false),
            Decision::Allow
        );
        assert_eq!(
            p.decide(&ok, "s3:PutObject", "arn:aws:s3:::spa/x", false),
            Decision::ImplicitDeny
        );
        assert_eq!(
            p.decide(
                &through(None, None),
                "s3:GetObject",
                "arn:aws:s3:::other/x",
                false
            ),
            Decision::ImplicitDeny,
            "another bucket's resource: no statement applies"
        );
    }

    #[test]
    fn addresses_and_accounts() {
        let p = Policy::parse(
            r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
                "Condition": {"IpAddress": {"aws:VpcSourceIp": "10.1.0.0/16"}}}}"#,
        )
        .expect("valid");
        let cx = |account: &str, ip: [u8; 4]| RequestContext {
            account: Some(account.to_owned()),
            vpc_source_ip: Some(Ipv4Addr::from(ip)),
            ..RequestContext::default()
        };
        let get = |cx: &RequestContext| p.decide(cx, "s3:GetObject", "arn:aws:s3:::b/k", false);
        assert_eq!(get(&cx("111122223333", [10, 1, 2, 3])), Decision::Allow);
        assert_eq!(
            get(&cx("111122223333", [10, 2, 2, 3])),
            Decision::ImplicitDeny
        );
        assert_eq!(
            get(&cx("444455556666", [10, 1, 2, 3])),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn malformed_policies_name_the_field() {
        let bad = |text: &str, field: &str| {
            let e = Policy::parse(text).expect_err(text);
            assert_eq!(e.field, field, "{e}");
        };
        bad("nope", "(document)");
        bad(r#"{"Statement": []}"#, "Statement");
        bad(
            r#"{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]}"#,
            "Statement[0].Effect",
        );
        bad(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ec2:*", "Resource": "arn:aws:s3:::b"}]}"#,
            "Statement[0].Action",
        );
        bad(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "b"}]}"#,
            "Statement[0].Resource",
        );
        bad(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b",
                "Condition": {"StringEquals": {"aws:Referer": "x"}}}]}"#,
            "Statement[0].Condition.StringEquals.aws:Referer",
        );
        bad(
            r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b",
                "NotAction": "s3:GetObject"}]}"#,
            "Statement[0].NotAction",
        );
        bad(
            r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b"}]}"#,
            "Statement[0].Principal.AWS",
        );
    }

    #[test]
    fn bucket_names() {
        for ok in ["spa-assets", "a.b.c", "abc", "123", "my-bucket-2026"] {
            assert_eq!(bucket_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "has_underscore",
            "-lead",
            "trail-",
            "a..b",
            "10.0.0.1",
            "xn--abc",
            "x-s3alias",
            &"a".repeat(64),
        ] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("s3:get*", "s3:getobject"));
        assert!(wildcard("*", ""));
        assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b/c"));
        assert!(!wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b"));
        assert!(wildcard("vpce-????", "vpce-1234"));
        assert!(!wildcard("vpce-????", "vpce-12345"));
        assert!(wildcard("a*b*c", "axxbyyc"));
        assert!(!wildcard("a*b*c", "axxbyy"));
    }
}
