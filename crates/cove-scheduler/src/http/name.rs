//! Function names as Lambda's API paths carry them (pure): a name (`my-function`), a
//! partial ARN (`123456789012:function:my-function`) or a full ARN
//! (`arn:aws:lambda:us-east-1:123456789012:function:my-function`), each optionally
//! followed by `:QUALIFIER`, percent-encoded in the path (SDKs encode `:` as `%3A`
//! and `$` as `%24`).

/// Lambda's constraint on `FunctionName` (Invoke, GetFunction,
/// GetFunctionConfiguration), quoted in its `ValidationException`.
pub const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";

/// The longest `FunctionName` Lambda accepts (a full ARN with a qualifier).
pub const MAX_FUNCTION_NAME_LEN: usize = 170;

/// The longest bare function name.
pub const MAX_BARE_NAME_LEN: usize = 64;

/// A function named in a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// The function's name.
    pub name: String,
    /// The region, when a full ARN gave one.
    pub region: Option<String>,
    /// The account, when an ARN gave one.
    pub account: Option<String>,
    /// The version or alias after the name (`:QUALIFIER`), if any.
    pub qualifier: Option<String>,
}

/// A `FunctionName` that breaks Lambda's constraint (`ValidationException`, 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "1 validation error detected: Value '{value}' at 'functionName' failed to satisfy constraint: {constraint}; name the function (my-function), give a partial ARN (123456789012:function:my-function) or its ARN, optionally followed by :$LATEST"
)]
pub struct InvalidName {
    /// The value as decoded.
    pub value: String,
    /// Lambda's wording of the constraint it breaks.
    pub constraint: String,
}

/// Decodes `%XX` escapes; anything else (a `%` not followed by two hex digits) is kept
/// as it is, so that the name check reports it.
pub use cove_model::http_api::percent_decode;

fn is_partition(s: &str) -> bool {
    s.strip_prefix("aws")
        .is_some_and(|r| r.bytes().all(|c| c.is_ascii_alphabetic() || c == b'-'))
}

fn is_region(s: &str) -> bool {
    // [a-z]{2}(-gov)?-[a-z]+-\d
    let b = s.as_bytes();
    if b.len() < 6 || !b[..2].iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    let rest = s[2..].strip_prefix("-gov").unwrap_or(&s[2..]);
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    match rest.rsplit_once('-') {
        Some((word, digit)) => {
            !word.is_empty()
                && word.bytes().all(|c| c.is_ascii_lowercase())
                && digit.len() == 1
                && digit.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|c| c.is_ascii_digit())
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_qualifier(s: &str) -> bool {
    s == "$LATEST"
        || (!s.is_empty()
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')))
}

/// Parses a path's function segment (still percent-encoded) as Lambda does.
pub fn parse(raw: &str) -> Result<FunctionRef, InvalidName> {
    let value = percent_decode(raw);
    let invalid = |constraint: String| InvalidName {
        value: value.clone(),
        constraint,
    };
    if value.is_empty() || value.len() > MAX_FUNCTION_NAME_LEN {
        return Err(invalid(format!(
            "Member must have length less than or equal to {MAX_FUNCTION_NAME_LEN} and greater than or equal to 1"
        )));
    }
    let pattern = || {
        invalid(format!(
            "Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
        ))
    };
    let parts: Vec<&str> = value.split(':').collect();
    let mut i = 0;
    // Each optional prefix is taken only when something follows it, as the pattern's
    // optional groups match.
    let more = |i: usize, n: usize| parts.len() > i + n;
    let mut region = None;
    let mut account = None;
    if parts[0] == "arn" && more(0, 3) && is_partition(parts[1]) && parts[2] == "lambda" {
        i = 3;
    }
    if more(i, 1) && is_region(parts[i]) {
        region = Some(parts[i].to_owned());
        i += 1;
    }
    if more(i, 1) && is_account(parts[i]) {
        account = Some(parts[i].to_owned());
        i += 1;
    }
    if more(i, 1) && parts[i] == "function" {
        i += 1;
    }
    let name = parts[i];
    if !is_name(name) {
        return Err(pattern());
    }
    let qualifier = match &parts[i + 1..] {
        [] => None,
        [q] if is_qualifier(q) => Some((*q).to_owned()),
        _ => return Err(pattern()),
    };
    if i == 0 && name.len() > MAX_BARE_NAME_LEN {
        return Err(invalid(format!(
            "Member must have length less than or equal to {MAX_BARE_NAME_LEN} (a function name without its ARN)"
        )));
    }
    Ok(FunctionRef {
        name: name.to_owned(),
        region,
        account,
        qualifier,
    })
}

/// The parts of a function's ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`):
/// `(region, account)`.
pub fn arn_region_account(arn: &str) -> Option<(&str, &str)> {
    let mut it = arn.split(':');
    let (_, _, _, region, account) = (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    Some((region, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> FunctionRef {
        parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn names_partial_and_full_arns_with_and_without_qualifier() {
        let f = ok("my-fn");
        assert_eq!(
            (f.name.as_str(), f.account, f.qualifier),
            ("my-fn", None, None)
        );
        let f = ok("123456789012:function:my-fn");
        assert_eq!(f.name, "my-fn");
        assert_eq!(f.account.as_deref(), Some("123456789012"));
        let f = ok("arn:aws:lambda:us-east-1:123456789012:function:my-fn:$LATEST");
        assert_eq!(f.name, "my-fn");
        assert_eq!(f.region.as_deref(), Some("us-east-1"));
        assert_eq!(f.account.as_deref(), Some("123456789012"));
        assert_eq!(f.qualifier.as_deref(), Some("$LATEST"));
        let f = ok("my-fn:prod");
        assert_eq!(
            (f.name.as_str(), f.qualifier.as_deref()),
            ("my-fn", Some("prod"))
        );
        let f = ok("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:x_1");
        assert_eq!(f.region.as_deref(), Some("us-gov-west-1"));
    }

    #[test]
    fn percent_encoded_paths_are_decoded() {
        let f = ok("arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aapi%3A%24LATEST");
        assert_eq!(f.name, "api");
        assert_eq!(f.qualifier.as_deref(), Some("$LATEST"));
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }

    #[test]
    fn invalid_names_quote_lambdas_constraint() {
        for bad in [
            "bad name", "a/b", "fn:", ":fn", "a:b:c:d", "fn:$NOPE", "%2Fetc", "é",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(
                e.to_string()
                    .contains("at 'functionName' failed to satisfy constraint"),
                "{bad}: {e}"
            );
        }
        let long = "a".repeat(65);
        assert!(parse(&long).expect_err("65").to_string().contains("64"));
        let longer = "a".repeat(171);
        assert!(parse(&longer).expect_err("171").to_string().contains("170"));
        assert!(parse("").is_err());
        // 64 characters is fine; a longer name inside an ARN is the ARN's business.
        assert!(parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn arn_parts() {
        assert_eq!(
            arn_region_account("arn:aws:lambda:us-east-1:000000000000:function:x"),
            Some(("us-east-1", "000000000000"))
        );
        assert_eq!(arn_region_account("nope"), None);
    }
}
