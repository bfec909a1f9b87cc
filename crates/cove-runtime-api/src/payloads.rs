//! The error documents Lambda itself returns to the invoker when an invocation fails
//! outside the runtime's control (pure). The scheduler sends them with
//! `X-Amz-Function-Error: Unhandled`.
//!
//! The wording is the service's (as returned by `Invoke` today and as the open-source
//! Runtime Interface Emulator formats it):
//!
//! | failure | `errorType` | `errorMessage` |
//! | --- | --- | --- |
//! | timeout (invoke or init) | `Sandbox.Timedout` | `RequestId: <id> Error: Task timed out after 3.00 seconds` |
//! | runtime exited | `Runtime.ExitError` | `RequestId: <id> Error: Runtime exited with error: exit status 1` (or `signal: killed`) |
//! | runtime exited with status 0 | `Runtime.ExitError` | `RequestId: <id> Error: Runtime exited without providing a reason` |
//! | out of memory | `Runtime.OutOfMemory` | `RequestId: <id> Error: Runtime exited with error: signal: killed` |
//! | response too large | `Function.ResponseSizeTooLarge` | `Response payload size exceeded maximum allowed payload size (6291556 bytes).` |
//!
//! A runtime that exits during init *after* posting `/init/error` fails the invoke with
//! the error it posted (see [`RuntimeApi::init_error`](crate::RuntimeApi::init_error));
//! one that exits during init without posting gets [`exit_error`]. The function log's
//! line for a timeout is [`timeout_log_line`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;

use crate::function_error;

/// The largest response (or error) body Lambda accepts from a runtime: 6 MiB + 100
/// bytes, the limit the service names in its `Function.ResponseSizeTooLarge` message.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// The error type of a timed-out invocation or init.
pub const SANDBOX_TIMEDOUT: &str = "Sandbox.Timedout";
/// The error type of a runtime that exited.
pub const RUNTIME_EXIT_ERROR: &str = "Runtime.ExitError";
/// The error type of a runtime killed for exceeding its memory.
pub const RUNTIME_OUT_OF_MEMORY: &str = "Runtime.OutOfMemory";

/// How a runtime process ended, worded as Lambda words it (Go's process states).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal {
        /// The signal number (9 for `SIGKILL`).
        number: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(number)) => ExitStatus::Signal {
                number,
                core_dumped: status.core_dumped(),
            },
            (None, None) => ExitStatus::Code(-1),
        }
    }
}

/// Linux's signal descriptions, as Go prints them.
fn signal_name(number: i32) -> Option<&'static str> {
    Some(match number {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        24 => "CPU time limit exceeded",
        25 => "file size limit exceeded",
        31 => "bad system call",
        _ => return None,
    })
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Code(code) => write!(f, "exit status {code}"),
            ExitStatus::Signal {
                number,
                core_dumped,
            } => {
                match signal_name(number) {
                    Some(name) => write!(f, "signal: {name}")?,
                    None => write!(f, "signal: signal {number}")?,
                }
                if core_dumped {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
        }
    }
}

/// A platform error document: `errorType` first, as the service sends it.
#[derive(Serialize)]
struct PlatformError<'a> {
    #[serde(rename = "errorType")]
    error_type: &'a str,
    #[serde(rename = "errorMessage")]
    error_message: &'a str,
}

fn platform_error(error_type: &str, request_id: Option<&str>, error: fmt::Arguments<'_>) -> Bytes {
    let error_message = match request_id {
        Some(id) => format!("RequestId: {id} Error: {error}"),
        None => format!("Error: {error}"),
    };
    Bytes::from(
        serde_json::to_vec(&PlatformError {
            error_type,
            error_message: &error_message,
        })
        .unwrap_or_default(),
    )
}

/// `Task timed out after 3.00 seconds`: seconds with two decimals.
fn timed_out(elapsed: Duration) -> String {
    format!("Task timed out after {:.2} seconds", elapsed.as_secs_f64())
}

/// The invoker's document for an invocation (or init) that ran `elapsed` without an
/// answer: `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: <id> Error: Task
/// timed out after 3.00 seconds"}`. Pass the function's configured timeout, or the
/// time actually measured (the service prints e.g. `3.01`).
pub fn timeout_error(request_id: &str, elapsed: Duration) -> Bytes {
    platform_error(
        SANDBOX_TIMEDOUT,
        Some(request_id),
        format_args!("{}", timed_out(elapsed)),
    )
}

/// The function log's line for a timeout:
/// `2019-09-18T00:02:46.542Z f2704689-7aa3-4af3-ac88-857c01c4bd45 Task timed out after 5.01 seconds`.
pub fn timeout_log_line(request_id: &str, elapsed: Duration, at: SystemTime) -> String {
    format!("{} {request_id} {}", rfc3339_millis(at), timed_out(elapsed))
}

/// The invoker's document when the runtime process ended during the invocation (or
/// during init without posting `/init/error`), `status` being how it ended.
/// `request_id` is `None` only when no invocation is known.
pub fn exit_error(request_id: Option<&str>, status: ExitStatus) -> Bytes {
    if status == ExitStatus::Code(0) {
        platform_error(
            RUNTIME_EXIT_ERROR,
            request_id,
            format_args!("Runtime exited without providing a reason"),
        )
    } else {
        platform_error(
            RUNTIME_EXIT_ERROR,
            request_id,
            format_args!("Runtime exited with error: {status}"),
        )
    }
}

/// The invoker's document when the runtime was killed for exceeding its memory limit
/// (the memory cgroup's OOM killer): `Runtime.OutOfMemory`, with the same message as
/// the exit (`Runtime exited with error: signal: killed`).
pub fn out_of_memory_error(request_id: &str, status: ExitStatus) -> Bytes {
    platform_error(
        RUNTIME_OUT_OF_MEMORY,
        Some(request_id),
        format_args!("Runtime exited with error: {status}"),
    )
}

/// The invoker's document for a response over [`MAX_RESPONSE_BYTES`] (what an invoke
/// through this crate's endpoint already returns).
pub fn response_too_large_error() -> Bytes {
    match function_error::response_too_large(MAX_RESPONSE_BYTES) {
        crate::InvokeOutcome::FunctionError { body, .. } => body,
        crate::InvokeOutcome::Response { body, .. } => body,
    }
}

/// `at` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC); times before 1970 print as the epoch.
pub fn rfc3339_millis(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date (year, month, day) of `days` since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(body: &Bytes) -> Value {
        serde_json::from_slice(body).expect("JSON")
    }

    #[test]
    fn timeout_matches_the_service() {
        let body = timeout_error(
            "1f60b20c-8ed7-41ed-9945-08dcafcc74ee",
            Duration::from_secs(3),
        );
        assert_eq!(
            std::str::from_utf8(&body).expect("utf-8"),
            r#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: 1f60b20c-8ed7-41ed-9945-08dcafcc74ee Error: Task timed out after 3.00 seconds"}"#
        );
        let measured = parse(&timeout_error("r", Duration::from_millis(600_104)));
        assert_eq!(
            measured["errorMessage"],
            "RequestId: r Error: Task timed out after 600.10 seconds"
        );
    }

    #[test]
    fn timeout_log_line_has_timestamp_and_request_id() {
        let at = UNIX_EPOCH + Duration::from_millis(1_568_764_966_542);
        assert_eq!(
            timeout_log_line(
                "f2704689-7aa3-4af3-ac88-857c01c4bd45",
                Duration::from_millis(5_010),
                at
            ),
            "2019-09-18T00:02:46.542Z f2704689-7aa3-4af3-ac88-857c01c4bd45 Task timed out after 5.01 seconds"
        );
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH + Duration::from_millis(4_102_444_799_999)),
            "2099-12-31T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn exit_statuses_read_as_go_prints_them() {
        assert_eq!(ExitStatus::Code(1).to_string(), "exit status 1");
        assert_eq!(ExitStatus::Code(101).to_string(), "exit status 101");
        assert_eq!(
            ExitStatus::Signal {
                number: 9,
                core_dumped: false
            }
            .to_string(),
            "signal: killed"
        );
        assert_eq!(
            ExitStatus::Signal {
                number: 11,
                core_dumped: true
            }
            .to_string(),
            "signal: segmentation fault (core dumped)"
        );
        assert_eq!(
            ExitStatus::Signal {
                number: 6,
                core_dumped: false
            }
            .to_string(),
            "signal: aborted"
        );
        assert_eq!(
            ExitStatus::Signal {
                number: 40,
                core_dumped: false
            }
            .to_string(),
            "signal: signal 40"
        );
    }

    #[test]
    fn exit_error_matches_the_service() {
        let body = exit_error(
            Some("1d98e743-00c8-4535-ac8b-0d4c7f2ee4a3"),
            ExitStatus::Code(101),
        );
        assert_eq!(
            std::str::from_utf8(&body).expect("utf-8"),
            r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1d98e743-00c8-4535-ac8b-0d4c7f2ee4a3 Error: Runtime exited with error: exit status 101"}"#
        );
        assert_eq!(
            parse(&exit_error(
                Some("r"),
                ExitStatus::Signal {
                    number: 9,
                    core_dumped: false
                }
            )),
            json!({"errorType": "Runtime.ExitError", "errorMessage": "RequestId: r Error: Runtime exited with error: signal: killed"})
        );
        assert_eq!(
            parse(&exit_error(None, ExitStatus::Code(2))),
            json!({"errorType": "Runtime.ExitError", "errorMessage": "Error: Runtime exited with error: exit status 2"})
        );
        assert_eq!(
            parse(&exit_error(Some("r"), ExitStatus::Code(0))),
            json!({"errorType": "Runtime.ExitError", "errorMessage": "RequestId: r Error: Runtime exited without providing a reason"})
        );
    }

    #[test]
    fn out_of_memory_is_its_own_type() {
        assert_eq!(
            parse(&out_of_memory_error(
                "r",
                ExitStatus::Signal {
                    number: 9,
                    core_dumped: false
                }
            )),
            json!({"errorType": "Runtime.OutOfMemory", "errorMessage": "RequestId: r Error: Runtime exited with error: signal: killed"})
        );
    }

    #[test]
    fn response_too_large_names_the_limit() {
        assert_eq!(MAX_RESPONSE_BYTES, 6_291_556);
        assert_eq!(
            parse(&response_too_large_error()),
            json!({
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "Function.ResponseSizeTooLarge"
            })
        );
    }

    #[test]
    fn real_exit_statuses_convert() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            ExitStatus::from(std::process::ExitStatus::from_raw(3 << 8)),
            ExitStatus::Code(3)
        );
        assert_eq!(
            ExitStatus::from(std::process::ExitStatus::from_raw(9)),
            ExitStatus::Signal {
                number: 9,
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::from(std::process::ExitStatus::from_raw(11 | 0x80)),
            ExitStatus::Signal {
                number: 11,
                core_dumped: true
            }
        );
    }
}
