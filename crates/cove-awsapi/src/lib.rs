//! AWS-compatible APIs over cove's control plane (issue 13).
//!
//! * [`sigv4`]: Signature Version 4 verification (pure): the canonical request and
//!   string to sign rebuilt from the request as received, the signature computed
//!   with `aws-sigv4`'s key derivation, AWS's error codes for what fails.

pub mod sigv4;
