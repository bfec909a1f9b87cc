//! AWS-compatible APIs over cove's control plane (issue 13).
//!
//! * [`sigv4`]: Signature Version 4 verification (pure): the canonical request and
//!   string to sign rebuilt from the request as received, the signature computed
//!   with `aws-sigv4`'s key derivation, AWS's error codes for what fails.
//! * [`ec2`]: EC2's Query API (`POST /`, `Action=…`) over the tenant's part of the
//!   desired state: VPCs, subnets, zones so far.

pub mod ec2;
pub mod sigv4;
