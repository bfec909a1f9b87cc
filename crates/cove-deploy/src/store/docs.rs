//! The deployment's desired state as store documents, both ways (pure):
//!
//! * kind `operator_spec`, operator-wide, key `spec`: the spec `cove apply` was given,
//!   as the text it was applied from (`{"text": …}`);
//! * kind `function`, operator-wide, key `<tenant>/<vpc>/<name>`: a function deployed
//!   with `cove fn deploy` (`{"order": n, "function": …}`; `order` keeps the order
//!   they were deployed in, which address assignment follows);
//! * kind `code`, operator-wide, key `<tenant>/<vpc>/<function>`: where a function's
//!   code snapshot is (the blobs stay content-addressed directories in the state
//!   directory);
//! * kind `shared_eni_extras`, operator-wide, key `extras`: the extra shared
//!   function ENIs the reconciler added for busy combinations
//!   (`{"extras": [{"vpc": …, "eni": …}, …]}`, oldest first); written only by the
//!   reconciler, removed by `cove destroy`;
//! * kind `nat_failover`, operator-wide, key `takeovers`: the NAT gateways whose
//!   partner carries their addresses (`{"takeovers": [{"vpc", "gateway",
//!   "carrier", "since", "reason"}, …]}`); written only by the reconciler, removed
//!   by `cove destroy`;
//! * kind `deployment`, key `destroyed`: written by `cove destroy` (a change needs
//!   at least one document, and forgetting everything is a change);
//! * the control plane's documents, the tenants' specs and uploads are not here:
//!   [`super::control_docs`] owns them.

use std::collections::BTreeMap;

use cove_model::spec::{DeployedFunction, SharedEniExtra};
use cove_store::{DocId, DocOp, Document, Snapshot};
use serde::{Deserialize, Serialize};

use super::Desired;
use crate::desired::PlatformState;
use crate::failover::TakeoverRecord;

/// The operator's spec.
pub const OPERATOR_SPEC: &str = "operator_spec";
/// A function deployed with `cove fn deploy`.
pub const FUNCTION: &str = "function";
/// A function's code snapshot.
pub const CODE: &str = "code";
/// The deployment's own bookkeeping (`destroyed`).
pub const DEPLOYMENT: &str = "deployment";
/// The extra shared function ENIs (one document, key [`SHARED_ENI_EXTRAS_KEY`]).
pub const SHARED_ENI_EXTRAS: &str = "shared_eni_extras";
/// The key of the [`SHARED_ENI_EXTRAS`] document.
pub const SHARED_ENI_EXTRAS_KEY: &str = "extras";
/// The NAT gateways' takeovers (one document, key [`NAT_FAILOVER_KEY`]).
pub const NAT_FAILOVER: &str = "nat_failover";
/// The key of the [`NAT_FAILOVER`] document.
pub const NAT_FAILOVER_KEY: &str = "takeovers";
/// The legacy files imported into the store (their checksums).
pub const LEGACY_IMPORT: &str = "legacy_import";

/// A stored document that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("the stored document {id} does not decode")]
pub struct DocError {
    /// Which document.
    pub id: String,
    /// Why.
    #[source]
    pub source: serde_json::Error,
}

#[derive(Serialize, Deserialize)]
struct SpecBody {
    text: String,
}

#[derive(Serialize, Deserialize)]
struct FunctionBody {
    order: usize,
    function: DeployedFunction,
}

#[derive(Serialize, Deserialize, PartialEq)]
struct ExtrasBody {
    extras: Vec<SharedEniExtra>,
}

#[derive(Serialize, Deserialize, PartialEq)]
struct TakeoversBody {
    takeovers: Vec<TakeoverRecord>,
}

/// The body of the operator-wide document `kind`/`key` in `snapshot`, if any.
fn platform_doc<'a>(snapshot: &'a Snapshot, kind: &str, key: &str) -> Option<&'a Document> {
    snapshot
        .documents
        .iter()
        .find(|d| operator(d, kind) && d.id.key == key)
}

/// The extra shared function ENIs recorded in `snapshot` (none when there is no
/// such document).
pub fn shared_eni_extras_of(snapshot: &Snapshot) -> Result<Vec<SharedEniExtra>, DocError> {
    match platform_doc(snapshot, SHARED_ENI_EXTRAS, SHARED_ENI_EXTRAS_KEY) {
        Some(d) => Ok(decode::<ExtrasBody>(d)?.extras),
        None => Ok(Vec::new()),
    }
}

/// The NAT gateways' takeovers recorded in `snapshot` (none without the document).
pub fn nat_takeovers_of(snapshot: &Snapshot) -> Result<Vec<TakeoverRecord>, DocError> {
    match platform_doc(snapshot, NAT_FAILOVER, NAT_FAILOVER_KEY) {
        Some(d) => Ok(decode::<TakeoversBody>(d)?.takeovers),
        None => Ok(Vec::new()),
    }
}

/// Everything the platform recorded in `snapshot`.
pub fn platform_state_of(snapshot: &Snapshot) -> Result<PlatformState, DocError> {
    Ok(PlatformState {
        shared_eni_extras: shared_eni_extras_of(snapshot)?,
        nat_takeovers: nat_takeovers_of(snapshot)?,
    })
}

/// The operation that makes the operator-wide document `kind`/`key` hold `body`
/// (a delete when `empty`), or `None` when `snapshot` already holds it.
fn platform_op<T: Serialize + serde::de::DeserializeOwned + PartialEq>(
    snapshot: &Snapshot,
    kind: &str,
    key: &str,
    body: &T,
    empty: bool,
) -> Result<Option<DocOp>, serde_json::Error> {
    let id = DocId::new(kind, None, key);
    let stored = snapshot.documents.iter().find(|d| d.id == id);
    if empty {
        return Ok(stored.map(|_| DocOp::Delete { id }));
    }
    if stored.and_then(|d| d.decode::<T>().ok()).as_ref() == Some(body) {
        return Ok(None);
    }
    DocOp::put(id, body).map(Some)
}

/// The operation that records `extras` (a delete when there are none), or `None`
/// when `snapshot` already holds exactly them.
pub fn shared_eni_extras_op(
    snapshot: &Snapshot,
    extras: &[SharedEniExtra],
) -> Result<Option<DocOp>, serde_json::Error> {
    let body = ExtrasBody {
        extras: extras.to_vec(),
    };
    platform_op(
        snapshot,
        SHARED_ENI_EXTRAS,
        SHARED_ENI_EXTRAS_KEY,
        &body,
        extras.is_empty(),
    )
}

/// The operation that records `takeovers` (a delete when there are none), or
/// `None` when `snapshot` already holds exactly them.
pub fn nat_takeovers_op(
    snapshot: &Snapshot,
    takeovers: &[TakeoverRecord],
) -> Result<Option<DocOp>, serde_json::Error> {
    let body = TakeoversBody {
        takeovers: takeovers.to_vec(),
    };
    platform_op(
        snapshot,
        NAT_FAILOVER,
        NAT_FAILOVER_KEY,
        &body,
        takeovers.is_empty(),
    )
}

fn decode<T: serde::de::DeserializeOwned>(d: &Document) -> Result<T, DocError> {
    d.decode().map_err(|source| DocError {
        id: d.id.to_string(),
        source,
    })
}

fn operator(d: &Document, kind: &str) -> bool {
    d.id.tenant.is_none() && d.id.kind == kind
}

/// The operator's desired state in `snapshot`.
pub fn desired_of(snapshot: &Snapshot) -> Result<Desired, DocError> {
    let mut spec = None;
    let mut functions: Vec<(usize, DeployedFunction)> = Vec::new();
    let mut code = BTreeMap::new();
    for d in &snapshot.documents {
        if operator(d, OPERATOR_SPEC) {
            spec = Some(decode::<SpecBody>(d)?.text);
        } else if operator(d, FUNCTION) {
            let f: FunctionBody = decode(d)?;
            functions.push((f.order, f.function));
        } else if operator(d, CODE) {
            code.insert(d.id.key.clone(), decode(d)?);
        }
    }
    functions.sort_by_key(|(order, _)| *order);
    Ok(Desired {
        spec,
        deployed: functions.into_iter().map(|(_, f)| f).collect(),
        code,
    })
}

/// A deployed function's key: `<tenant>/<vpc>/<name>`.
fn function_key(f: &DeployedFunction) -> String {
    format!("{}/{}", f.vpc, f.function.name)
}

/// Every document of `new` (operator-wide), by id.
fn documents_of(new: &Desired) -> Result<BTreeMap<DocId, serde_json::Value>, serde_json::Error> {
    let mut docs = BTreeMap::new();
    if let Some(text) = &new.spec {
        docs.insert(
            DocId::new(OPERATOR_SPEC, None, "spec"),
            serde_json::to_value(SpecBody { text: text.clone() })?,
        );
    }
    for (order, f) in new.deployed.iter().enumerate() {
        docs.insert(
            DocId::new(FUNCTION, None, function_key(f)),
            serde_json::to_value(FunctionBody {
                order,
                function: f.clone(),
            })?,
        );
    }
    for (key, c) in &new.code {
        docs.insert(
            DocId::new(CODE, None, key.clone()),
            serde_json::to_value(c)?,
        );
    }
    Ok(docs)
}

/// The operations that turn the operator's documents of `old` into `new`: puts of
/// what is new or different, deletes of what is gone; empty if nothing changed.
pub fn operator_ops(old: &Snapshot, new: &Desired) -> Result<Vec<DocOp>, serde_json::Error> {
    let wanted = documents_of(new)?;
    let mut ops = Vec::new();
    for d in &old.documents {
        let ours = [OPERATOR_SPEC, FUNCTION, CODE]
            .iter()
            .any(|k| operator(d, k));
        if ours && !wanted.contains_key(&d.id) {
            ops.push(DocOp::Delete { id: d.id.clone() });
        }
    }
    for (id, body) in wanted {
        let same = old
            .documents
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| serde_json::from_str::<serde_json::Value>(d.body.get()).ok())
            .is_some_and(|b| b == body);
        if !same {
            ops.push(DocOp::put(id, &body)?);
        }
    }
    Ok(ops)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cove_store::Generation;

    fn snapshot(ops: &[DocOp]) -> Snapshot {
        let documents = ops
            .iter()
            .filter_map(|op| match op {
                DocOp::Put { id, body } => Some(Document {
                    id: id.clone(),
                    body: body.clone(),
                    generation: Generation(1),
                }),
                _ => None,
            })
            .collect();
        Snapshot {
            generation: Generation(1),
            applied: Generation::ZERO,
            documents,
        }
    }

    fn function(vpc: &str, name: &str) -> DeployedFunction {
        let mut f = DeployedFunction {
            vpc: vpc.into(),
            ..DeployedFunction::default()
        };
        f.function.name = name.into();
        f
    }

    #[test]
    fn shared_eni_extras_round_trip_and_none_is_no_document() {
        let extra = |eni: &str| SharedEniExtra {
            vpc: "t/v".into(),
            eni: eni.into(),
        };
        let empty = snapshot(&[]);
        assert!(shared_eni_extras_of(&empty).unwrap().is_empty());
        assert!(shared_eni_extras_op(&empty, &[]).unwrap().is_none());
        let want = [extra("hpl:a:g"), extra("hpl:a:g")];
        let op = shared_eni_extras_op(&empty, &want).unwrap().unwrap();
        let stored = snapshot(&[op]);
        assert_eq!(shared_eni_extras_of(&stored).unwrap(), want);
        assert!(shared_eni_extras_op(&stored, &want).unwrap().is_none());
        assert!(matches!(
            shared_eni_extras_op(&stored, &[]).unwrap(),
            Some(DocOp::Delete { .. })
        ));
        // The operator's own writes never touch it.
        let desired = Desired::default();
        assert!(operator_ops(&stored, &desired).unwrap().is_empty());
    }

    #[test]
    fn the_desired_state_round_trips_in_deployment_order_and_the_same_state_is_no_change() {
        let desired = Desired {
            spec: Some("tenants: []\n".into()),
            // Deployed in this order (not the keys' order): kept.
            deployed: vec![function("t/v", "zeta"), function("t/v", "alpha")],
            code: BTreeMap::new(),
        };
        let empty = snapshot(&[]);
        let ops = operator_ops(&empty, &desired).unwrap();
        assert_eq!(ops.len(), 3);
        let stored = snapshot(&ops);
        assert_eq!(desired_of(&stored).unwrap(), desired);
        assert!(operator_ops(&stored, &desired).unwrap().is_empty());
        // Removing one function deletes its document and renumbers the rest.
        let fewer = Desired {
            deployed: vec![function("t/v", "alpha")],
            ..desired.clone()
        };
        let ops = operator_ops(&stored, &fewer).unwrap();
        assert!(
            ops.iter()
                .any(|o| matches!(o, DocOp::Delete { id } if id.key == "t/v/zeta"))
        );
        // Nothing of the API's documents is touched.
        let mut with_api = stored.clone();
        with_api.documents.push(Document {
            id: DocId::new(
                crate::store::control_docs::SPEC_KIND,
                Some("t-1"),
                crate::store::control_docs::SPEC_KEY,
            ),
            body: serde_json::value::to_raw_value(&cove_model::spec::TenantSpec::default())
                .unwrap(),
            generation: Generation(1),
        });
        assert!(operator_ops(&with_api, &desired).unwrap().is_empty());
        let (_, specs) = crate::store::control_docs::control_from_snapshot(&with_api).unwrap();
        assert_eq!(specs.len(), 1);
    }
}
