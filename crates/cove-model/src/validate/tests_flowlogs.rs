//! Validation tests for flow logs (issue 14): what `CreateFlowLogs` refuses is
//! refused with its code, at the field.

use super::tests::expect_one;
use super::*;
use crate::diag::ErrorCode::*;
use crate::flowlog::{Field, FileFormat, FlowLogScope, TrafficType};

/// VPC `v` (subnet `s`, ENI `db`) with one flow log (YAML flow mapping body).
fn spec(flow_log: &str) -> Validated {
    validate_text(&format!(
        "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.71.0.0/16
        subnets:
          - {{ name: s, cidr: 10.71.1.0/24, az: us-east-1a }}
        enis:
          - {{ name: db, subnet: s }}
        flow_logs:
          - {{ {flow_log} }}
"
    ))
}

const AT: &str = "tenants[t].vpcs[v].flow_logs[f]";

#[test]
fn defaults_are_aws_and_every_setting_resolves() {
    let v = spec("name: f");
    let net = v.network.expect("valid");
    let f = &net.flow_logs[0];
    assert_eq!(f.scope, FlowLogScope::Vpc);
    assert_eq!(f.traffic, TrafficType::All);
    assert_eq!(f.interval_s, 600);
    assert_eq!(f.fields.len(), 14);
    assert_eq!(f.version(), 2);
    assert_eq!(f.file_format, FileFormat::Text);
    assert_eq!(f.max_file_bytes, 100 << 20);

    let v = spec(
        "name: f, eni: db, traffic_type: REJECT, max_aggregation_interval: 1, \
         log_format: '${interface-id} ${action} ${cove-rule}', file_format: json, max_file_mb: 5",
    );
    let net = v.network.expect("valid");
    let f = &net.flow_logs[0];
    assert_eq!(f.scope, FlowLogScope::Eni(net.vpcs[0].enis[0]));
    assert_eq!(f.traffic, TrafficType::Reject);
    assert_eq!(f.interval_s, 1);
    assert_eq!(
        f.fields,
        vec![Field::InterfaceId, Field::Action, Field::CoveRule]
    );
    assert_eq!(f.version(), 5);
    assert_eq!(f.file_format, FileFormat::Json);
    assert_eq!(f.max_file_bytes, 5 << 20);
    let v = spec("name: f, subnet: s, max_aggregation_interval: 60");
    let net = v.network.expect("valid");
    assert_eq!(
        net.flow_logs[0].scope,
        FlowLogScope::Subnet(net.vpcs[0].subnets[0])
    );
    assert_eq!(net.flow_logs[0].interval_s, 60);
}

#[test]
fn bad_settings_name_their_field() {
    expect_one(
        &spec("name: f, traffic_type: SOME"),
        InvalidParameterValue,
        &format!("{AT}.traffic_type"),
    );
    expect_one(
        &spec("name: f, max_aggregation_interval: 30"),
        InvalidParameterValue,
        &format!("{AT}.max_aggregation_interval"),
    );
    expect_one(
        &spec("name: f, log_format: '${srcaddr} ${colour}'"),
        InvalidParameterValue,
        &format!("{AT}.log_format"),
    );
    let v = spec("name: f, log_format: '${srcaddr} ${colour}'");
    assert!(
        v.errors()
            .any(|e| e.message.contains("Unknown fields provided: colour")),
        "{:?}",
        v.diagnostics
    );
    expect_one(
        &spec("name: f, file_format: xml"),
        InvalidParameterValue,
        &format!("{AT}.file_format"),
    );
    expect_one(
        &spec("name: f, max_file_mb: 0"),
        InvalidParameterValue,
        &format!("{AT}.max_file_mb"),
    );
    expect_one(
        &spec("name: f, subnet: nope"),
        InvalidSubnetIdNotFound,
        &format!("{AT}.subnet"),
    );
    expect_one(
        &spec("name: f, eni: nope"),
        InvalidNetworkInterfaceIdNotFound,
        &format!("{AT}.eni"),
    );
    expect_one(
        &spec("name: f, subnet: s, eni: db"),
        InvalidParameterCombination,
        AT,
    );
    expect_one(
        &spec("name: f, colour: red"),
        UnknownParameter,
        &format!("{AT}.colour"),
    );
}
