//! The API-facing types give an OpenAPI document (what the HTTP API will serve),
//! and every error code has one spelling that reads back.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use cove_control::error::ALL_CODES;
use cove_control::*;
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder};

#[test]
fn the_api_types_make_an_openapi_document() {
    let components = ComponentsBuilder::new()
        .schema_from::<Tenant>()
        .schema_from::<Quotas>()
        .schema_from::<TokenInfo>()
        .schema_from::<NewToken>()
        .schema_from::<TokenOwner>()
        .schema_from::<IpPool>()
        .schema_from::<Network>()
        .schema_from::<NetworkStatus>()
        .schema_from::<NetworkSubnet>()
        .schema_from::<SubnetTier>()
        .schema_from::<NatGateway>()
        .schema_from::<PeeringView>()
        .schema_from::<PeeringStatus>()
        .schema_from::<PeeringRole>()
        .schema_from::<PeeringEnd>()
        .schema_from::<CreateTenant>()
        .schema_from::<CreateToken>()
        .schema_from::<CreateNetwork>()
        .schema_from::<PatchNetwork>()
        .schema_from::<RequestPeering>()
        .schema_from::<ControlError>()
        .build();
    let doc = OpenApiBuilder::new()
        .info(InfoBuilder::new().title("cove").version("0").build())
        .components(Some(components))
        .build();
    let json: serde_json::Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
    let schemas = &json["components"]["schemas"];
    // Addresses and blocks are strings; statuses are AWS's spellings.
    assert_eq!(schemas["Network"]["properties"]["cidr"]["type"], "string");
    assert_eq!(
        schemas["NatGateway"]["properties"]["public_ip"]["type"],
        "string"
    );
    let statuses: Vec<&str> = schemas["PeeringStatus"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "initiating-request",
            "pending-acceptance",
            "provisioning",
            "active",
            "rejected",
            "failed",
            "expired",
            "deleting",
            "deleted"
        ]
    );
    assert_eq!(
        schemas["ControlError"]["properties"]["code"]["type"],
        "string"
    );
    let required: Vec<&str> = schemas["Network"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"static_ips") && required.contains(&"vpc_id"));
}

#[test]
fn error_codes_are_spelled_once_and_read_back() {
    let spellings: BTreeSet<&str> = ALL_CODES.iter().map(|c| c.as_str()).collect();
    assert_eq!(spellings.len(), ALL_CODES.len());
    for c in ALL_CODES {
        let json = serde_json::to_string(&c).unwrap();
        let back: ErrorCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        assert!([400, 401, 403, 404, 409, 503].contains(&c.http_status()));
    }
    assert!(serde_json::from_str::<ErrorCode>("\"NoSuchCode\"").is_err());
    let e = ControlError::field(ErrorCode::InvalidVpcRange, "cidr", "bad", "fix");
    assert_eq!(e.to_string(), "InvalidVpc.Range: bad (field `cidr`)");
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["code"], "InvalidVpc.Range");
    assert_eq!(json["status"], 400);
    let back: ControlError = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
}
