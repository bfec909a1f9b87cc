//! The runtime catalog: which runtimes cove runs and how users may spell them.

use std::fmt;
use std::str::FromStr;

/// A language runtime cove can run a function with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// Python 3.11: Debian's `/usr/bin/python3.11` with `awslambdaric`.
    Python311,
    /// Node.js 20: `/usr/bin/node` with `aws-lambda-ric` 3.x.
    Nodejs20,
    /// A compiled Go executable (the `go1.x` convention: the handler names the
    /// executable, `bootstrap` is the fallback).
    Go,
    /// Ruby 3.1: Debian's `/usr/bin/ruby3.1` with cove's standard-library bootstrap.
    Ruby31,
    /// Any executable `bootstrap` in the code that speaks the Runtime API.
    Provided,
}

/// Every runtime, in catalog order.
pub const ALL: [Runtime; 5] = [
    Runtime::Python311,
    Runtime::Nodejs20,
    Runtime::Go,
    Runtime::Ruby31,
    Runtime::Provided,
];

/// Runtime identifiers AWS Lambda knows (current and deprecated) that cove does not
/// run: asking for one is a valid AWS value cove rejects
/// (`InvalidParameterValueException`), not a malformed one (`ValidationException`).
const AWS_ONLY: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs22.x",
    "nodejs24.x",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.12",
    "python3.13",
    "python3.14",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet7",
    "dotnet8",
    "dotnet10",
];

impl Runtime {
    /// cove's canonical name (what [`fmt::Display`] prints).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Python311 => "python3.11",
            Runtime::Nodejs20 => "nodejs20",
            Runtime::Go => "go",
            Runtime::Ruby31 => "ruby3.1",
            Runtime::Provided => "provided",
        }
    }

    /// Every spelling [`FromStr`] accepts for this runtime, canonical name first
    /// (AWS's identifiers included: `nodejs20.x`, `go1.x`, `provided.al2`, …). An AWS
    /// identifier is accepted only where cove really runs that version: `ruby3.2` and
    /// `ruby3.3` are not (Debian's Ruby is 3.1), so they are refused.
    pub fn spellings(self) -> &'static [&'static str] {
        match self {
            Runtime::Python311 => &["python3.11"],
            Runtime::Nodejs20 => &["nodejs20", "nodejs20.x"],
            Runtime::Go => &["go", "go1.x"],
            Runtime::Ruby31 => &["ruby3.1"],
            Runtime::Provided => &["provided", "provided.al2", "provided.al2023"],
        }
    }

    /// The runtime identifier in `AWS_EXECUTION_ENV` (`AWS_Lambda_<id>`), as AWS
    /// spells it; `None` for `provided`, where Lambda does not set the variable.
    pub fn execution_env_id(self) -> Option<&'static str> {
        match self {
            Runtime::Python311 => Some("python3.11"),
            Runtime::Nodejs20 => Some("nodejs20.x"),
            Runtime::Go => Some("go1.x"),
            Runtime::Ruby31 => Some("ruby3.1"),
            Runtime::Provided => None,
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every accepted spelling, in catalog order, as AWS lists an enum value set.
pub fn accepted_spellings() -> String {
    let all: Vec<&str> = ALL.iter().flat_map(|r| r.spellings()).copied().collect();
    format!("[{}]", all.join(", "))
}

/// A `runtime` value cove does not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// Not a runtime identifier at all (AWS answers `ValidationException`).
    #[error(
        "1 validation error detected: Value '{value}' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: {accepted}",
        accepted = accepted_spellings()
    )]
    Unknown {
        /// The rejected value.
        value: String,
    },
    /// An AWS Lambda runtime that cove does not provide (`InvalidParameterValueException`).
    #[error(
        "The runtime parameter of {value} is not supported by cove. Use one of {accepted}",
        accepted = accepted_spellings()
    )]
    Unsupported {
        /// The rejected value.
        value: String,
    },
}

impl RuntimeError {
    /// AWS's error code for this error.
    pub fn aws_code(&self) -> &'static str {
        match self {
            RuntimeError::Unknown { .. } => "ValidationException",
            RuntimeError::Unsupported { .. } => "InvalidParameterValueException",
        }
    }
}

impl FromStr for Runtime {
    type Err = RuntimeError;

    fn from_str(value: &str) -> Result<Runtime, RuntimeError> {
        if let Some(runtime) = ALL.iter().find(|r| r.spellings().contains(&value)) {
            return Ok(*runtime);
        }
        let value = value.to_owned();
        if AWS_ONLY.contains(&value.as_str()) {
            Err(RuntimeError::Unsupported { value })
        } else {
            Err(RuntimeError::Unknown { value })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_to_its_runtime_and_displays_canonically() {
        for runtime in ALL {
            for spelling in runtime.spellings() {
                let parsed: Runtime = spelling.parse().expect("accepted spelling");
                assert_eq!(parsed, runtime, "{spelling}");
                assert_eq!(parsed.to_string(), runtime.spellings()[0]);
            }
        }
    }

    #[test]
    fn aws_identifiers_map_to_cove_runtimes() {
        assert_eq!("nodejs20.x".parse(), Ok(Runtime::Nodejs20));
        assert_eq!("go1.x".parse(), Ok(Runtime::Go));
        assert_eq!("ruby3.1".parse(), Ok(Runtime::Ruby31));
        assert_eq!("provided.al2023".parse(), Ok(Runtime::Provided));
    }

    #[test]
    fn spellings_are_unique_across_runtimes() {
        let mut all: Vec<&str> = ALL.iter().flat_map(|r| r.spellings()).copied().collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        for aws in AWS_ONLY {
            assert!(!all.contains(aws), "{aws} is both accepted and AWS-only");
        }
    }

    #[test]
    fn unknown_runtime_is_a_validation_error_listing_every_valid_value() {
        let err = "python3.99"
            .parse::<Runtime>()
            .expect_err("must be rejected");
        assert_eq!(err.aws_code(), "ValidationException");
        let msg = err.to_string();
        assert!(msg.starts_with("1 validation error detected: Value 'python3.99' at 'runtime'"));
        for runtime in ALL {
            for spelling in runtime.spellings() {
                assert!(msg.contains(spelling), "{msg} lacks {spelling}");
            }
        }
        // Matching is exact, as AWS's enum is.
        assert!(matches!(
            "Python3.11".parse::<Runtime>(),
            Err(RuntimeError::Unknown { .. })
        ));
        assert!(matches!(
            " python3.11".parse::<Runtime>(),
            Err(RuntimeError::Unknown { .. })
        ));
    }

    #[test]
    fn aws_runtime_cove_lacks_is_an_invalid_parameter() {
        let err = "java21".parse::<Runtime>().expect_err("must be rejected");
        assert_eq!(err.aws_code(), "InvalidParameterValueException");
        assert!(err.to_string().contains("java21"));
        assert!(err.to_string().contains("python3.11"));
    }

    #[test]
    fn versions_cove_does_not_run_are_refused_with_what_it_has() {
        // Ruby 3.2 and 3.3 ran on Ruby 3.1 before: a runtime is provided or refused.
        for v in ["ruby3.2", "ruby3.3"] {
            let err = v.parse::<Runtime>().expect_err(v);
            assert_eq!(err.aws_code(), "InvalidParameterValueException", "{v}");
            let msg = err.to_string();
            assert!(msg.contains(v) && msg.contains("ruby3.1"), "{msg}");
            assert!(
                !msg.contains("ruby3.3]") && !msg.contains("ruby3.3,"),
                "{msg}"
            );
        }
    }

    #[test]
    fn execution_env_ids_follow_aws_and_provided_has_none() {
        let ids: Vec<Option<&str>> = ALL.iter().map(|r| r.execution_env_id()).collect();
        assert_eq!(
            ids,
            [
                Some("python3.11"),
                Some("nodejs20.x"),
                Some("go1.x"),
                Some("ruby3.1"),
                None
            ]
        );
    }
}
