//! Validation diagnostics: an AWS-style error code, the path of the field, what is wrong
//! and how to fix it.

use std::fmt;

use serde::Serialize;

/// Error codes. Where AWS's EC2 API has a code for the same bad request, the code is
/// AWS's; cove-only conditions use the closest AWS code or a descriptive one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// The YAML could not be parsed or has the wrong shape.
    MalformedSpec,
    /// A field cove does not know.
    UnknownParameter,
    /// A required field is missing.
    MissingParameter,
    /// A value is malformed or out of range.
    InvalidParameterValue,
    /// Two fields that cannot be used together (or none of a required set).
    InvalidParameterCombination,
    /// A name is used twice.
    DuplicateName,
    /// A VPC CIDR is not a valid /16–/28 block.
    InvalidVpcRange,
    /// A VPC has more CIDR blocks than allowed.
    CidrLimitExceeded,
    /// A subnet CIDR is malformed, out of range or outside the VPC.
    InvalidSubnetRange,
    /// Two subnets overlap.
    InvalidSubnetConflict,
    /// A reference to a VPC that does not exist.
    InvalidVpcIdNotFound,
    /// A reference to a subnet that does not exist.
    InvalidSubnetIdNotFound,
    /// A reference to a route table that does not exist.
    InvalidRouteTableIdNotFound,
    /// A reference to a security group that does not exist.
    InvalidGroupNotFound,
    /// A reference to a network ACL that does not exist.
    InvalidNetworkAclIdNotFound,
    /// A reference to a peering connection that does not exist.
    InvalidVpcPeeringConnectionIdNotFound,
    /// A reference to a NAT gateway that does not exist.
    InvalidNatGatewayIdNotFound,
    /// A reference to an internet gateway that does not exist.
    InvalidInternetGatewayIdNotFound,
    /// A reference to a VPC endpoint that does not exist.
    InvalidVpcEndpointIdNotFound,
    /// A reference to a prefix list that does not exist.
    InvalidPrefixListIdNotFound,
    /// Two routes of one table have the same destination.
    RouteAlreadyExists,
    /// A route's target does not support its destination (a gateway endpoint's route
    /// must have the endpoint's prefix list as destination).
    RouteNotSupported,
    /// The same AWS resource id is used by two objects (e.g. one internet gateway
    /// attached to two VPCs).
    ResourceAlreadyAssociated,
    /// A security group has more inbound (or outbound) rules than the quota allows.
    RulesPerSecurityGroupLimitExceeded,
    /// Two ACL entries of one direction have the same number.
    NetworkAclEntryAlreadyExists,
    /// An address is given to two interfaces.
    InvalidIpAddressInUse,
    /// No free address left in the subnet.
    InsufficientFreeAddressesInSubnet,
    /// More than 50 active peerings on one VPC.
    ActiveVpcPeeringConnectionPerVpcLimitExceeded,
    /// A second peering between the same two VPCs.
    VpcPeeringConnectionAlreadyExists,
    /// The internet gateway is not attached to the route table's VPC.
    GatewayNotAttached,
    /// Two security-group rules are identical.
    InvalidPermissionDuplicate,
    /// Two security groups of one VPC have the same name.
    InvalidGroupDuplicate,
    /// An interface has more than five security groups.
    SecurityGroupsPerInterfaceLimitExceeded,
    /// A function parameter is invalid (Lambda's code).
    LambdaInvalidParameterValue,
    /// A function of that name already exists in the tenant (Lambda's code).
    ResourceConflict,
    /// A function parameter fails Lambda's input constraints (pattern, enum, length).
    LambdaValidation,
    /// A function's subnet has no free address for the shared ENI it needs
    /// (Lambda's code).
    SubnetIpAddressLimitReached,
    /// A VPC would need more shared function ENIs than its quota (Lambda's code).
    EniLimitReached,
    /// A record set is malformed, outside its zone or duplicated (Route 53's
    /// code).
    InvalidChangeBatch,
    /// A zone's name is not a domain name (Route 53's code).
    InvalidDomainName,
    /// Two associated zones of one VPC have the same name (Route 53's code).
    ConflictingDomainExists,
    /// A hosted zone named twice in one tenant (Route 53's
    /// `HostedZoneAlreadyExists`).
    HostedZoneAlreadyExists,
    /// No hosted zone of that name (Route 53's code).
    NoSuchHostedZone,
    /// Associating another tenant's zone that did not authorize this VPC (Route
    /// 53's `NotAuthorizedException`).
    NotAuthorized,
    /// An interface endpoint's service does not exist, or this tenant may not
    /// use it (EC2's code: both look the same to the consumer).
    InvalidServiceName,
    /// An ENI named that does not exist (EC2's code).
    InvalidNetworkInterfaceIdNotFound,
    /// A bucket name S3 would refuse (S3's code).
    InvalidBucketName,
    /// A bucket name another tenant already uses (S3's code: names are global).
    BucketAlreadyExists,
    /// The tenant declares the bucket twice (S3's code).
    BucketAlreadyOwnedByYou,
    /// A bucket policy cove cannot evaluate (S3's code).
    MalformedPolicy,
    /// A private API's route, integration, CORS or policy that API Gateway
    /// would refuse (its code).
    BadRequestException,
    /// An API id or route key already used (API Gateway's code).
    ConflictException,
}

impl ErrorCode {
    /// The code as printed (AWS spelling).
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedSpec => "MalformedSpec",
            UnknownParameter => "UnknownParameter",
            MissingParameter => "MissingParameter",
            InvalidParameterValue => "InvalidParameterValue",
            InvalidParameterCombination => "InvalidParameterCombination",
            DuplicateName => "InvalidParameterValue.DuplicateName",
            InvalidVpcRange => "InvalidVpc.Range",
            CidrLimitExceeded => "CidrLimitExceeded",
            InvalidSubnetRange => "InvalidSubnet.Range",
            InvalidSubnetConflict => "InvalidSubnet.Conflict",
            InvalidVpcIdNotFound => "InvalidVpcID.NotFound",
            InvalidSubnetIdNotFound => "InvalidSubnetID.NotFound",
            InvalidRouteTableIdNotFound => "InvalidRouteTableID.NotFound",
            InvalidGroupNotFound => "InvalidGroup.NotFound",
            InvalidNetworkAclIdNotFound => "InvalidNetworkAclID.NotFound",
            InvalidVpcPeeringConnectionIdNotFound => "InvalidVpcPeeringConnectionID.NotFound",
            InvalidNatGatewayIdNotFound => "InvalidNatGatewayID.NotFound",
            InvalidInternetGatewayIdNotFound => "InvalidInternetGatewayID.NotFound",
            InvalidVpcEndpointIdNotFound => "InvalidVpcEndpointId.NotFound",
            InvalidPrefixListIdNotFound => "InvalidPrefixListID.NotFound",
            RouteAlreadyExists => "RouteAlreadyExists",
            RouteNotSupported => "RouteNotSupported",
            ResourceAlreadyAssociated => "Resource.AlreadyAssociated",
            RulesPerSecurityGroupLimitExceeded => "RulesPerSecurityGroupLimitExceeded",
            NetworkAclEntryAlreadyExists => "NetworkAclEntryAlreadyExists",
            InvalidIpAddressInUse => "InvalidIPAddress.InUse",
            InsufficientFreeAddressesInSubnet => "InsufficientFreeAddressesInSubnet",
            ActiveVpcPeeringConnectionPerVpcLimitExceeded => {
                "ActiveVpcPeeringConnectionPerVpcLimitExceeded"
            }
            VpcPeeringConnectionAlreadyExists => "VpcPeeringConnectionAlreadyExists",
            GatewayNotAttached => "Gateway.NotAttached",
            InvalidPermissionDuplicate => "InvalidPermission.Duplicate",
            InvalidGroupDuplicate => "InvalidGroup.Duplicate",
            SecurityGroupsPerInterfaceLimitExceeded => "SecurityGroupsPerInterfaceLimitExceeded",
            LambdaInvalidParameterValue => "InvalidParameterValueException",
            ResourceConflict => "ResourceConflictException",
            LambdaValidation => "ValidationException",
            SubnetIpAddressLimitReached => "SubnetIPAddressLimitReachedException",
            EniLimitReached => "ENILimitReachedException",
            InvalidChangeBatch => "InvalidChangeBatch",
            InvalidDomainName => "InvalidDomainName",
            ConflictingDomainExists => "ConflictingDomainExists",
            HostedZoneAlreadyExists => "HostedZoneAlreadyExists",
            NoSuchHostedZone => "NoSuchHostedZone",
            NotAuthorized => "NotAuthorizedException",
            InvalidServiceName => "InvalidServiceName",
            InvalidNetworkInterfaceIdNotFound => "InvalidNetworkInterfaceID.NotFound",
            InvalidBucketName => "InvalidBucketName",
            BucketAlreadyExists => "BucketAlreadyExists",
            BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            MalformedPolicy => "MalformedPolicy",
            BadRequestException => "BadRequestException",
            ConflictException => "ConflictException",
        }
    }
}

impl Serialize for ErrorCode {
    /// Serialized as AWS spells it (`InvalidVpc.Range`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Severity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// Whether a diagnostic makes the spec invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The spec is invalid.
    Error,
    /// The spec is valid, but probably not what was meant.
    Warning,
}

/// One problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// AWS-style code.
    pub code: ErrorCode,
    /// Path of the offending field, e.g. `tenants[acme].vpcs[app].subnets[db-a].cidr`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl Diagnostic {
    /// An error.
    pub fn error(
        code: ErrorCode,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            path: path.into(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// A warning.
    pub fn warning(
        code: ErrorCode,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Self::error(code, path, message, hint)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{sev}[{}] {}: {}\n  hint: {}",
            self.code, self.path, self.message, self.hint
        )
    }
}
