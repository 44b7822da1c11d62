//! The `scale` subresource: an `autoscaling/v1` Scale view of `spec.replicas`,
//! which `kubectl scale` reads and patches.

use serde_json::{Value, json};

use super::route::ResourcePath;
use super::{Reply, Request};
use crate::cluster::Cluster;
use crate::patch::{self, PatchType};
use crate::resources::ResourceType;
use crate::selector::LabelSelector;
use crate::status::ApiError;

fn to_scale(obj: &Value) -> Value {
    let m = &obj["metadata"];
    let selector = LabelSelector::from_json(obj["spec"].get("selector"))
        .map(|s| s.to_string())
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"],
        },
        "spec": { "replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1) },
        "status": { "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector },
    })
}

/// Writes the replicas of `scale` into `old`, keeping the Scale's resourceVersion
/// as the precondition.
fn apply_scale(res: &ResourceType, old: &Value, scale: &Value) -> Result<Value, ApiError> {
    let name = old["metadata"]["name"].as_str().unwrap_or("");
    let replicas = scale["spec"]["replicas"]
        .as_i64()
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                res,
                name,
                &[(
                    "spec.replicas".into(),
                    format!(
                        "Invalid value: {}: must be greater than or equal to 0",
                        scale["spec"]["replicas"]
                    ),
                )],
            )
        })?;
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(replicas);
    new["metadata"]["resourceVersion"] = scale["metadata"]["resourceVersion"].clone();
    if new["metadata"]["resourceVersion"].is_null() {
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
    }
    Ok(new)
}

pub fn handle(cluster: &Cluster, req: &Request, p: &ResourcePath) -> Result<Reply, ApiError> {
    let (ns, name) = (
        p.ns.as_deref().unwrap_or(""),
        p.name.as_deref().unwrap_or(""),
    );
    let res = p.res;
    // `.spec.replicas` becomes the scaler's, with subresource `scale`.
    let manager = crate::managed::manager_of(req.param("fieldManager"), &req.user_agent);
    let av = res.api_version();
    let w = crate::managed::Writer {
        manager: &manager,
        api_version: &av,
        kind: res.kind,
        custom: res.custom,
        subresource: Some("scale"),
    };
    let record = |old: &Value, new: Value| {
        let mut new = new;
        crate::managed::record_update(Some(old), &mut new, &w);
        new
    };
    let updated = match req.method {
        http::Method::GET => {
            let obj = cluster
                .store
                .get(res, ns, name)
                .ok_or_else(|| ApiError::not_found(res, name))?;
            return Ok(Reply::ok(to_scale(&obj)));
        }
        http::Method::PUT => {
            let body: Value = serde_json::from_slice(&req.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding Scale: {e}")))?;
            cluster.store.update(res, ns, name, req.dry_run(), |old| {
                apply_scale(res, old, &body).map(|n| record(old, n))
            })?
        }
        http::Method::PATCH => {
            let pt = PatchType::from_content_type(&req.content_type)
                .ok_or_else(|| ApiError::unsupported_media_type(&req.content_type))?;
            let body = patch::parse_body(pt, &req.body)?;
            cluster.store.update(res, ns, name, req.dry_run(), |old| {
                let mut scale = to_scale(old);
                match pt {
                    // Scale has no lists: strategic and apply reduce to a merge.
                    PatchType::Json => patch::apply(pt, res, &mut scale, &body)?,
                    _ => json_patch::merge(&mut scale, &body),
                }
                apply_scale(res, old, &scale).map(|n| record(old, n))
            })?
        }
        _ => {
            return Err(ApiError::method_not_allowed(
                "scale supports get, update and patch",
            ));
        }
    };
    Ok(Reply::ok(to_scale(&updated)))
}
