//! A minimal OpenAPI v3: per group-version, one PATCH operation per kind that
//! names its GroupVersionKind and the `fieldValidation` parameter.
//!
//! That is what kubectl reads to decide that the server validates fields
//! itself (so it needs no schemas client-side). The operations list no
//! strategic-merge content type, so `kubectl apply` builds its patches from its
//! compiled-in types, exactly as for a server without schemas.

use serde_json::{Value, json};

use crate::resources::Types;

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: the group-versions and where their documents are.
pub fn root(types: &Types) -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs: Vec<(&str, &str)> = vec![("", "v1")];
    for (g, vs) in types.group_versions() {
        gvs.extend(vs.into_iter().map(|v| (g, v)));
    }
    for (g, v) in gvs {
        let key = gv_key(g, v);
        paths.insert(
            key.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{key}?hash={}", crate::discovery_hash(types.generation())) }),
        );
    }
    json!({ "paths": paths })
}

/// `/openapi/v3/api/v1`, `/openapi/v3/apis/G/V`.
pub fn group_version(types: &Types, path: &str) -> Option<Value> {
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return None,
    };
    let mut paths = serde_json::Map::new();
    for r in types
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let url = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        let body = json!({ "schema": { "type": "object" } });
        paths.insert(
            url,
            json!({
                "patch": {
                    "operationId": format!("patch{}", r.kind),
                    "parameters": [
                        { "name": "dryRun", "in": "query", "schema": { "type": "string" } },
                        { "name": "fieldManager", "in": "query", "schema": { "type": "string" } },
                        { "name": "fieldValidation", "in": "query", "schema": { "type": "string" } },
                        { "name": "force", "in": "query", "schema": { "type": "boolean" } },
                    ],
                    "requestBody": { "content": {
                        "application/json-patch+json": body,
                        "application/merge-patch+json": body,
                        "application/apply-patch+yaml": body,
                    }},
                    "responses": { "200": { "description": "OK" } },
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": { "group": r.group, "version": r.version, "kind": r.kind },
                }
            }),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes (kube-sandbox)", "version": "v1.33.0" },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_lists_every_group_version() {
        let r = root(&Types::default());
        assert!(
            r["paths"]["api/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/api/v1?hash=")
        );
        assert!(r["paths"].get("apis/apps/v1").is_some());
        assert!(
            r["paths"]
                .get("apis/gateway.networking.k8s.io/v1")
                .is_none()
        );
        let defined = root(&crate::crd::traffic_types());
        assert!(
            defined["paths"]
                .get("apis/gateway.networking.k8s.io/v1")
                .is_some()
        );
    }

    #[test]
    fn patch_operations_name_their_kind_and_field_validation() {
        let doc = group_version(&Types::default(), "apis/apps/v1").unwrap();
        let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            op["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        let core = group_version(&Types::default(), "api/v1").unwrap();
        assert!(core["paths"].get("/api/v1/namespaces/{name}").is_some());
        assert!(group_version(&Types::default(), "apis/nope/v1").is_none());
    }
}
