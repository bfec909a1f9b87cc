//! The one error every command returns: a stable code (AWS's where AWS has one), a
//! message, the field it is about, how to fix it and the HTTP status an API answers
//! with.
//!
//! Messages are written for the acting tenant: they never name another tenant's
//! objects (another tenant's object is `NotFound`, exactly like one that does not
//! exist).

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Error codes of the control plane. Where AWS's EC2 (or Lambda) API has a code for
/// the same condition, the code is AWS's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// A required field is missing.
    MissingParameter,
    /// A value is malformed or out of range.
    InvalidParameterValue,
    /// A field that cannot be used here (e.g. changing a network's CIDR).
    InvalidParameterCombination,
    /// The token is unknown, revoked or expired (401).
    AuthFailure,
    /// The operation needs the operator's admin token (403).
    UnauthorizedOperation,
    /// The caller may see the object but not do this to it (e.g. the requester
    /// accepting its own peering request).
    OperationNotPermitted,
    /// No tenant with that id.
    InvalidTenantIdNotFound,
    /// No token with that id (in the caller's scope).
    InvalidTokenIdNotFound,
    /// No network with that id (in the caller's scope).
    InvalidNetworkIdNotFound,
    /// No VPC with that id (in the caller's scope).
    InvalidVpcIdNotFound,
    /// No peering connection with that id (in the caller's scope).
    InvalidVpcPeeringConnectionIdNotFound,
    /// A name already taken in its scope.
    DuplicateName,
    /// A VPC CIDR is not a /16–/28 private block (or is too small for the layout).
    InvalidVpcRange,
    /// No free private range is left for a network.
    InsufficientCidrBlocks,
    /// The operator's public IP pool has no free address left.
    InsufficientAddressCapacity,
    /// The object is still used (a network with an active peering or a function).
    DependencyViolation,
    /// The object is in a state that does not allow the operation.
    IncorrectState,
    /// A peering connection cannot move from its state to the requested one.
    InvalidStateTransition,
    /// A live peering already connects the two VPCs.
    VpcPeeringConnectionAlreadyExists,
    /// The VPC has as many live peering connections as its quota allows.
    VpcPeeringConnectionLimitExceeded,
    /// The VPC has as many active peering connections as its quota allows.
    ActiveVpcPeeringConnectionPerVpcLimitExceeded,
    /// The tenant has as many networks as its quota allows.
    NetworkLimitExceeded,
    /// The tenant has as many VPCs as its quota allows.
    VpcLimitExceeded,
    /// The tenant has as many network interfaces as its quota allows.
    NetworkInterfaceLimitExceeded,
    /// The tenant has as many functions as its quota allows.
    FunctionLimitExceeded,
    /// The tenant's functions reserve more concurrency than its quota allows.
    ConcurrencyLimitExceeded,
    /// The tenant has as many live tokens as allowed.
    TokenLimitExceeded,
    /// An idempotency key was reused with a different request (409).
    IdempotentParameterMismatch,
    /// A spec names a security group that is not the tenant's (or does not exist).
    InvalidGroupNotFound,
    /// A spec names a prefix list that is not the tenant's (or does not exist).
    InvalidPrefixListIdNotFound,
    /// A spec claims a public address the tenant was not given.
    InvalidAddressNotFound,
    /// The tenant holds as many static IPs as its quota allows.
    AddressLimitExceeded,
    /// An Elastic IP allocation id that is not the tenant's (or does not exist).
    InvalidAllocationIdNotFound,
    /// An Elastic IP still associated (released only once disassociated).
    InvalidIpAddressInUse,
    /// An Elastic IP already associated elsewhere (twice in one spec).
    ResourceAlreadyAssociated,
}

impl ErrorCode {
    /// The code as an API prints it.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingParameter => "MissingParameter",
            InvalidParameterValue => "InvalidParameterValue",
            InvalidParameterCombination => "InvalidParameterCombination",
            AuthFailure => "AuthFailure",
            UnauthorizedOperation => "UnauthorizedOperation",
            OperationNotPermitted => "OperationNotPermitted",
            InvalidTenantIdNotFound => "InvalidTenantID.NotFound",
            InvalidTokenIdNotFound => "InvalidTokenID.NotFound",
            InvalidNetworkIdNotFound => "InvalidNetworkID.NotFound",
            InvalidVpcIdNotFound => "InvalidVpcID.NotFound",
            InvalidVpcPeeringConnectionIdNotFound => "InvalidVpcPeeringConnectionID.NotFound",
            DuplicateName => "InvalidParameterValue.DuplicateName",
            InvalidVpcRange => "InvalidVpc.Range",
            InsufficientCidrBlocks => "InsufficientCidrBlocks",
            InsufficientAddressCapacity => "InsufficientAddressCapacity",
            DependencyViolation => "DependencyViolation",
            IncorrectState => "IncorrectState",
            InvalidStateTransition => "InvalidStateTransition",
            VpcPeeringConnectionAlreadyExists => "VpcPeeringConnectionAlreadyExists",
            VpcPeeringConnectionLimitExceeded => "VpcPeeringConnectionLimitExceeded",
            ActiveVpcPeeringConnectionPerVpcLimitExceeded => {
                "ActiveVpcPeeringConnectionPerVpcLimitExceeded"
            }
            NetworkLimitExceeded => "NetworkLimitExceeded",
            VpcLimitExceeded => "VpcLimitExceeded",
            NetworkInterfaceLimitExceeded => "NetworkInterfaceLimitExceeded",
            FunctionLimitExceeded => "FunctionLimitExceeded",
            ConcurrencyLimitExceeded => "ConcurrencyLimitExceeded",
            TokenLimitExceeded => "TokenLimitExceeded",
            IdempotentParameterMismatch => "IdempotentParameterMismatch",
            InvalidGroupNotFound => "InvalidGroup.NotFound",
            InvalidPrefixListIdNotFound => "InvalidPrefixListID.NotFound",
            InvalidAddressNotFound => "InvalidAddress.NotFound",
            AddressLimitExceeded => "AddressLimitExceeded",
            InvalidAllocationIdNotFound => "InvalidAllocationID.NotFound",
            InvalidIpAddressInUse => "InvalidIPAddress.InUse",
            ResourceAlreadyAssociated => "Resource.AlreadyAssociated",
        }
    }

    /// The HTTP status an API answers this code with.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MissingParameter
            | InvalidParameterValue
            | InvalidParameterCombination
            | InvalidVpcRange
            | InsufficientCidrBlocks
            | VpcPeeringConnectionLimitExceeded
            | ActiveVpcPeeringConnectionPerVpcLimitExceeded
            | NetworkLimitExceeded
            | VpcLimitExceeded
            | NetworkInterfaceLimitExceeded
            | FunctionLimitExceeded
            | ConcurrencyLimitExceeded
            | TokenLimitExceeded
            // Errors in a spec document: 400, as `cove validate`'s codes are.
            | InvalidGroupNotFound
            | InvalidPrefixListIdNotFound
            | InvalidAddressNotFound
            | AddressLimitExceeded
            | InvalidIpAddressInUse
            | ResourceAlreadyAssociated => 400,
            AuthFailure => 401,
            UnauthorizedOperation | OperationNotPermitted => 403,
            InvalidTenantIdNotFound
            | InvalidTokenIdNotFound
            | InvalidNetworkIdNotFound
            | InvalidVpcIdNotFound
            | InvalidVpcPeeringConnectionIdNotFound
            | InvalidAllocationIdNotFound => 404,
            DuplicateName
            | DependencyViolation
            | IncorrectState
            | InvalidStateTransition
            | VpcPeeringConnectionAlreadyExists
            | IdempotentParameterMismatch => 409,
            InsufficientAddressCapacity => 503,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    /// Serialized as printed (`InvalidVpc.Range`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A refused command: what went wrong, where, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, thiserror::Error)]
#[error("{code}: {message}{}", .field.as_ref().map(|f| format!(" (field `{f}`)")).unwrap_or_default())]
pub struct ControlError {
    /// Stable code, AWS's spelling where AWS has one.
    #[schema(value_type = String, example = "InvalidVpc.Range")]
    pub code: ErrorCode,
    /// What is wrong, for a human.
    pub message: String,
    /// The request field it is about (`cidr`, `availability_zones[1]`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How to fix it.
    pub hint: String,
    /// The HTTP status an API answers with (from the code).
    pub status: u16,
}

impl ControlError {
    /// An error about `field`.
    pub fn field(
        code: ErrorCode,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        ControlError {
            code,
            message: message.into(),
            field: Some(field.into()),
            hint: hint.into(),
            status: code.http_status(),
        }
    }

    /// An error about the request as a whole.
    pub fn general(code: ErrorCode, message: impl Into<String>, hint: impl Into<String>) -> Self {
        ControlError {
            code,
            message: message.into(),
            field: None,
            hint: hint.into(),
            status: code.http_status(),
        }
    }
}

/// What deserializing a stored code needs: codes are read back by their spelling.
impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ALL_CODES
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code `{s}`")))
    }
}

/// Every code, for lookups by spelling.
pub const ALL_CODES: [ErrorCode; 35] = {
    use ErrorCode::*;
    [
        MissingParameter,
        InvalidParameterValue,
        InvalidParameterCombination,
        AuthFailure,
        UnauthorizedOperation,
        OperationNotPermitted,
        InvalidTenantIdNotFound,
        InvalidTokenIdNotFound,
        InvalidNetworkIdNotFound,
        InvalidVpcIdNotFound,
        InvalidVpcPeeringConnectionIdNotFound,
        DuplicateName,
        InvalidVpcRange,
        InsufficientCidrBlocks,
        InsufficientAddressCapacity,
        DependencyViolation,
        IncorrectState,
        InvalidStateTransition,
        VpcPeeringConnectionAlreadyExists,
        VpcPeeringConnectionLimitExceeded,
        ActiveVpcPeeringConnectionPerVpcLimitExceeded,
        NetworkLimitExceeded,
        VpcLimitExceeded,
        NetworkInterfaceLimitExceeded,
        FunctionLimitExceeded,
        ConcurrencyLimitExceeded,
        TokenLimitExceeded,
        IdempotentParameterMismatch,
        InvalidGroupNotFound,
        InvalidPrefixListIdNotFound,
        InvalidAddressNotFound,
        AddressLimitExceeded,
        InvalidAllocationIdNotFound,
        InvalidIpAddressInUse,
        ResourceAlreadyAssociated,
    ]
};

/// Shorthand for command results.
pub type Result<T, E = ControlError> = std::result::Result<T, E>;
