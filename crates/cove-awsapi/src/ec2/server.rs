//! EC2's Query API over HTTP (`POST /` with `Action=…`): the signature checked
//! against the tenants' access keys, the action run on the tenant's part of the
//! desired state, a change validated and committed exactly as `PUT /v1/spec` (one
//! transaction at the generation it was decided on; a refused call stores nothing).

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cove_api::ApiState;
use cove_api::error::ApiError;
use cove_api::layer::Caller;
use cove_api::local::LocalIdentity;
use cove_api::service::Current;
use cove_control::{Actor, Env, TenantId, TokenId};

use super::error::Ec2Error;
use super::params::Params;
use super::view::tenant_view;
use super::vpcs::{self, Ctx, Done, NetworkRef};
use super::xml::response;
use super::{
    acls, addresses, endpoints, flow_logs, gateways, groups, interfaces, route_tables, routes,
    tags, vpc_settings,
};
use crate::sigv4;

/// Largest request body read.
const MAX_BODY: usize = 1 << 20;

/// A request id as AWS writes them (a UUID's form).
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn xml(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        body,
    )
        .into_response()
}

fn error(e: &Ec2Error, id: &str) -> Response {
    xml(e.status, e.to_xml(id))
}

/// A fresh name for an object made through EC2 (`ec2-` and 12 hex digits).
fn new_name() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("ec2-{h}")
}

/// The action `p` names, on `cur` for `tenant`, with `env` (the time and fresh
/// random bytes of the call).
fn run(
    cur: &Current,
    tenant: &TenantId,
    env: &Env,
    region: &str,
    p: &Params,
) -> Result<Done, Ec2Error> {
    let t = cur
        .state
        .tenants
        .get(tenant)
        .ok_or_else(|| Ec2Error::new("AuthFailure", "the tenant is gone"))?;
    let net = cove_api::spec::desired_network(cur).map_err(|e| from_api(&e))?;
    let view = tenant_view(&net, &t.name);
    // Borrowed: cloning a tenant's whole spec per call would cost more than most
    // describes.
    let spec: std::borrow::Cow<'_, cove_model::spec::TenantSpec> = match cur.specs.get(tenant) {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(cur.spec_of(tenant)),
    };
    let networks: Vec<NetworkRef> = cove_control::list_networks(&cur.state, tenant)
        .into_iter()
        .map(|n| NetworkRef {
            id: n.id.0.clone(),
            name: n.name.clone(),
        })
        .collect();
    let spec_at = vpcs::spec_index(&view, &spec, &networks);
    let ctx = Ctx {
        account_id: &t.account_id,
        region,
        view: &view,
        net: &net,
        spec: &spec,
        networks: &networks,
        tenant: &t.name,
        spec_at: &spec_at,
        state: &cur.state,
        tenant_id: tenant,
        env,
        eips: std::cell::OnceCell::new(),
        new_name: &new_name,
    };
    let action = p.required("Action")?;
    match action {
        "DescribeVpcs" => vpcs::describe_vpcs(&ctx, p),
        "CreateVpc" => vpcs::create_vpc(&ctx, p),
        "DeleteVpc" => vpcs::delete_vpc(&ctx, p),
        "DescribeVpcAttribute" => vpc_settings::describe_vpc_attribute(&ctx, p),
        "AssociateVpcCidrBlock" => vpc_settings::associate_cidr(&ctx, p),
        "DisassociateVpcCidrBlock" => vpc_settings::disassociate_cidr(&ctx, p),
        "ModifyVpcAttribute" => vpc_settings::modify_vpc_attribute(&ctx, p),
        "DescribeSubnets" => vpcs::describe_subnets(&ctx, p),
        "CreateSubnet" => vpcs::create_subnet(&ctx, p),
        "DeleteSubnet" => vpcs::delete_subnet(&ctx, p),
        "DescribeAvailabilityZones" => vpcs::describe_availability_zones(&ctx, p),
        "DescribeRouteTables" => routes::describe_route_tables(&ctx, p),
        "DescribeInternetGateways" => gateways::describe(&ctx, p),
        "CreateInternetGateway" => gateways::create(&ctx, p),
        "AttachInternetGateway" => gateways::attach(&ctx, p),
        "DetachInternetGateway" => gateways::detach(&ctx, p),
        "DeleteInternetGateway" => gateways::delete(&ctx, p),
        "CreateRouteTable" => route_tables::create(&ctx, p),
        "DeleteRouteTable" => route_tables::delete(&ctx, p),
        "CreateRoute" => route_tables::create_route(&ctx, p, false),
        "ReplaceRoute" => route_tables::create_route(&ctx, p, true),
        "DeleteRoute" => route_tables::delete_route(&ctx, p),
        "AssociateRouteTable" => route_tables::associate(&ctx, p),
        "DisassociateRouteTable" => route_tables::disassociate(&ctx, p),
        "ReplaceRouteTableAssociation" => route_tables::replace_association(&ctx, p),
        "DescribeNetworkAcls" => acls::describe(&ctx, p),
        "CreateNetworkAcl" => acls::create(&ctx, p),
        "DeleteNetworkAcl" => acls::delete(&ctx, p),
        "CreateNetworkAclEntry" => acls::create_entry(&ctx, p, false),
        "ReplaceNetworkAclEntry" => acls::create_entry(&ctx, p, true),
        "DeleteNetworkAclEntry" => acls::delete_entry(&ctx, p),
        "ReplaceNetworkAclAssociation" => acls::replace_association(&ctx, p),
        "DescribeNetworkInterfaces" => interfaces::describe_interfaces(&ctx, p),
        "CreateNetworkInterface" => interfaces::create_interface(&ctx, p),
        "DeleteNetworkInterface" => interfaces::delete_interface(&ctx, p),
        "DescribeNatGateways" => interfaces::describe_nat_gateways(&ctx, p),
        "DescribeAddresses" => addresses::describe(&ctx, p),
        "AllocateAddress" => addresses::allocate(&ctx, p),
        "ReleaseAddress" => addresses::release(&ctx, p),
        "AssociateAddress" => addresses::associate(&ctx, p),
        "DisassociateAddress" => addresses::disassociate(&ctx, p),
        "CreateNatGateway" => addresses::create_nat_gateway(&ctx, p),
        "DeleteNatGateway" => addresses::delete_nat_gateway(&ctx, p),
        "DescribeVpcEndpoints" => endpoints::describe(&ctx, p),
        "CreateVpcEndpoint" => endpoints::create(&ctx, p),
        "DeleteVpcEndpoints" => endpoints::delete(&ctx, p),
        "CreateManagedPrefixList" => endpoints::create_prefix_list(&ctx, p),
        "DescribeManagedPrefixLists" => endpoints::describe_prefix_lists(&ctx, p),
        "GetManagedPrefixListEntries" => endpoints::prefix_list_entries(&ctx, p),
        "DeleteManagedPrefixList" => endpoints::delete_prefix_list(&ctx, p),
        "CreateFlowLogs" => flow_logs::create(&ctx, p),
        "DescribeFlowLogs" => flow_logs::describe(&ctx, p),
        "DeleteFlowLogs" => flow_logs::delete(&ctx, p),
        "CreateTags" => tags::create(&ctx, p),
        "DeleteTags" => tags::delete(&ctx, p),
        "DescribeTags" => tags::describe(&ctx, p),
        "DescribeSecurityGroups" => groups::describe(&ctx, p),
        "DescribeSecurityGroupRules" => groups::describe_rules(&ctx, p),
        "CreateSecurityGroup" => groups::create(&ctx, p),
        "DeleteSecurityGroup" => groups::delete(&ctx, p),
        "AuthorizeSecurityGroupIngress" => groups::authorize(&ctx, p, false),
        "AuthorizeSecurityGroupEgress" => groups::authorize(&ctx, p, true),
        "RevokeSecurityGroupIngress" => groups::revoke(&ctx, p, false),
        "RevokeSecurityGroupEgress" => groups::revoke(&ctx, p, true),
        other => Err(Ec2Error::new(
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )),
    }
}

/// An API refusal (validation of the changed spec) as EC2's error: the same code
/// (the validator's codes are EC2's), its message and field.
fn from_api(e: &ApiError) -> Ec2Error {
    let mut message = e.message.clone();
    if let Some(f) = &e.field {
        message.push_str(&format!(" (field {f})"));
    }
    Ec2Error {
        status: if e.status.is_server_error() { 500 } else { 400 },
        code: e.code.clone(),
        message,
    }
}

fn to_api(e: &Ec2Error) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        &e.code,
        None,
        e.message.clone(),
        "",
    )
}

/// `POST /` (and `GET /?Action=…`): one EC2 Query API call.
pub async fn handle(State(api): State<ApiState>, req: Request) -> Response {
    let id = request_id();
    let (parts, body) = req.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return error(
            &Ec2Error::invalid_parameter("the request body is larger than 1 MiB".to_owned()),
            &id,
        );
    };
    let cur = match api.service.current().await {
        Ok(c) => c,
        Err(e) => return error(&from_api(&ApiError::from(e)), &id),
    };
    let (signer, tenant) = match crate::auth::verify(&api, &cur, &parts, &body) {
        Ok(v) => v,
        Err(e) => {
            let status = match e {
                sigv4::SigError::Missing | sigv4::SigError::Malformed(_) => 400,
                sigv4::SigError::UnknownKey => 401,
                _ => 403,
            };
            let mut err = Ec2Error::new(e.ec2_code(), e.to_string());
            err.status = status;
            return error(&err, &id);
        }
    };
    let query = parts.uri.query().unwrap_or("");
    let body_text = String::from_utf8_lossy(&body);
    let p = Params::parse(&[query, &body_text]);
    let dry_run = match p.flag("DryRun") {
        Ok(d) => d,
        Err(e) => return error(&e, &id),
    };
    let action = p.get("Action").unwrap_or_default().to_owned();
    let call = || answer(&api, &cur, &tenant, &signer, &p, dry_run, &action, &id);
    let (status, text) = match p.get("ClientToken").filter(|_| !dry_run) {
        Some(token) => match super::client_token::once(&api, &tenant, token, &p, call).await {
            Ok(done) => done,
            Err(e) => return error(&e, &id),
        },
        None => call().await,
    };
    xml(status, text)
}

/// One call's answer: an HTTP status and EC2's document (an error's too).
#[allow(clippy::too_many_arguments)]
async fn answer(
    api: &ApiState,
    cur: &Current,
    tenant: &TenantId,
    signer: &sigv4::Signer,
    p: &Params,
    dry_run: bool,
    action: &str,
    id: &str,
) -> (u16, String) {
    let fail = |e: &Ec2Error| (e.status, e.to_xml(id));
    if super::peerings::handles(action) {
        let who = LocalIdentity::AccessKey {
            tenant: tenant.clone(),
            access_key_id: signer.access_key_id.clone(),
        };
        return match super::peerings::run(api, &who, &signer.region, p, dry_run).await {
            Ok(body) => (200, response(action, id, &body)),
            Err(e) => fail(&e),
        };
    }
    let env = match cove_api::service::os_env() {
        Ok(e) => e,
        Err(e) => return fail(&from_api(&ApiError::from(e))),
    };
    let first = match run(cur, tenant, &env, &signer.region, p) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let body = match first {
        Done::Read(x) => x,
        Done::Write(_, spec) | Done::Control(_, Some(spec), _) if dry_run => {
            // Validated as a commit would be, then not stored.
            let checked = validate(cur, tenant, &spec);
            return fail(&checked.err().unwrap_or_else(Ec2Error::dry_run));
        }
        Done::Control(_, None, _) if dry_run => return fail(&Ec2Error::dry_run()),
        Done::Write(..) | Done::Control(..) => {
            let caller = Caller {
                actor: Actor::Tenant {
                    tenant: tenant.clone(),
                    token: TokenId(format!("access-key:{}", signer.access_key_id)),
                },
                request_id: id.to_owned(),
            };
            let summary = format!("EC2 {action}");
            // Decided again on the state the transaction reads.
            let committed =
                cove_api::spec::commit_spec_and(api, &caller, &summary, |cur, t, env| {
                    let decided = |spec: &cove_model::spec::TenantSpec| {
                        let text =
                            serde_json::to_string(spec).map_err(|e| ApiError::internal(&e))?;
                        cove_api::spec::decide_spec(cur, t, &text, true)
                    };
                    match run(cur, t, env, &signer.region, p).map_err(|e| to_api(&e))? {
                        Done::Write(x, spec) => Ok((Some(decided(&spec)?), Vec::new(), x)),
                        Done::Control(x, spec, changes) => {
                            let spec = spec.map(|s| decided(&s)).transpose()?;
                            Ok((spec, changes, x))
                        }
                        Done::Read(x) => Ok((None, Vec::new(), x)),
                    }
                })
                .await;
            match committed {
                Ok(x) => x,
                Err(e) => return fail(&from_api(&e)),
            }
        }
    };
    if dry_run {
        return fail(&Ec2Error::dry_run());
    }
    (200, response(action, id, &body))
}

/// Validates a changed spec as a commit would (for `DryRun`).
fn validate(
    cur: &Current,
    tenant: &TenantId,
    spec: &cove_model::spec::TenantSpec,
) -> Result<(), Ec2Error> {
    let text =
        serde_json::to_string(spec).map_err(|e| Ec2Error::new("InternalError", e.to_string()))?;
    cove_api::spec::decide_spec(cur, tenant, &text, true)
        .map(|_| ())
        .map_err(|e| from_api(&e))
}

/// The router of EC2's Query API (state applied): `POST /`.
pub fn router(api: ApiState) -> axum::Router {
    axum::Router::new()
        .route("/", axum::routing::post(handle))
        .with_state(api)
}
