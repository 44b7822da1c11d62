//! The four patch types the API server accepts, chosen by Content-Type.

pub mod strategic;

use serde_json::Value;

use crate::resources::ResourceType;
use crate::status::ApiError;

/// A patch type, from the request's Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// RFC 6902 `application/json-patch+json`.
    Json,
    /// RFC 7386 `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`: lists merge by key (built-in types only).
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply. Merged like a strategic
    /// patch; field ownership and conflicts are `crate::managed`'s.
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// Parses a patch body: JSON, or YAML for apply patches.
pub fn parse_body(pt: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    let parsed = if pt == PatchType::Apply {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("apply patch is not UTF-8"))?;
        serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

/// Applies `patch` (already parsed) to `target` in place.
pub fn apply(
    pt: PatchType,
    res: &ResourceType,
    target: &mut Value,
    patch: &Value,
) -> Result<(), ApiError> {
    match pt {
        PatchType::Json => apply_json(target, patch),
        PatchType::Merge => {
            json_patch::merge(target, patch);
            Ok(())
        }
        PatchType::Strategic if res.custom => Err(ApiError::unsupported_media_type(
            "application/strategic-merge-patch+json",
        )),
        PatchType::Strategic => strategic::apply(target, patch, res.kind)
            .map_err(|e| ApiError::bad_request(e.to_string())),
        PatchType::Apply if res.custom => {
            json_patch::merge(target, patch);
            Ok(())
        }
        PatchType::Apply => strategic::apply(target, patch, res.kind)
            .map_err(|e| ApiError::bad_request(e.to_string())),
    }
}

/// Applies a JSON Patch as kube-apiserver's (evanphx/json-patch v4) does:
/// all or nothing, and a `test` of `null` passes on a key missing under an
/// existing parent (and fails when the key is there), where the json-patch
/// crate would fail both. Ops are applied one by one on a copy.
fn apply_json(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("error decoding JSON patch: not an array"))?;
    let invalid = |m: String| {
        ApiError::new(
            422,
            "Invalid",
            format!("the server rejected our request due to an error in our request: {m}"),
        )
    };
    let mut doc = target.clone();
    for op in ops {
        if op["op"] == "test" && op.get("value").is_some_and(Value::is_null) {
            let path = op["path"].as_str().unwrap_or("");
            let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
            if doc.pointer(path).is_some() {
                return Err(invalid(format!("testing value {path} failed: test failed")));
            }
            if !parent.is_empty() && doc.pointer(parent).is_none() {
                return Err(invalid(format!(
                    "test operation does not apply: is nil for {path}"
                )));
            }
            continue;
        }
        let one: json_patch::Patch = serde_json::from_value(Value::Array(vec![op.clone()]))
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON patch: {e}")))?;
        json_patch::patch(&mut doc, &one).map_err(|e| invalid(e.to_string()))?;
    }
    *target = doc;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("text/plain"), None);
    }

    #[test]
    fn json_patch_ops_and_test_failure() {
        let svc = find("", "v1", "services").unwrap();
        let mut o = json!({"spec": {"selector": {"color": "blue"}}});
        let p = json!([{"op": "test", "path": "/spec/selector/color", "value": "blue"},
                       {"op": "replace", "path": "/spec/selector/color", "value": "green"}]);
        apply(PatchType::Json, svc, &mut o, &p).unwrap();
        assert_eq!(o["spec"]["selector"]["color"], "green");
        let stale = json!([{"op": "test", "path": "/spec/selector/color", "value": "blue"}]);
        assert_eq!(
            apply(PatchType::Json, svc, &mut o, &stale)
                .unwrap_err()
                .code,
            422
        );
    }

    #[test]
    fn a_null_test_passes_on_a_missing_key_as_kube_apiserver_does() {
        let svc = find("", "v1", "services").unwrap();
        let mut o = json!({"metadata": {"annotations": {"a": "1"}}});
        let absent = json!([{"op": "test", "path": "/metadata/annotations/b", "value": null},
                            {"op": "add", "path": "/metadata/annotations/b", "value": "2"}]);
        apply(PatchType::Json, svc, &mut o, &absent).unwrap();
        assert_eq!(o["metadata"]["annotations"]["b"], "2");
        // Now present: the same test fails, and nothing is applied.
        let e = apply(PatchType::Json, svc, &mut o, &absent).unwrap_err();
        assert_eq!(e.code, 422);
        let no_parent = json!([{"op": "test", "path": "/spec/x/y", "value": null}]);
        assert_eq!(
            apply(PatchType::Json, svc, &mut o, &no_parent)
                .unwrap_err()
                .code,
            422
        );
    }

    #[test]
    fn merge_patch_deletes_with_null() {
        let svc = find("", "v1", "services").unwrap();
        let mut o = json!({"metadata": {"annotations": {"a": "1", "b": "2"}}});
        apply(
            PatchType::Merge,
            svc,
            &mut o,
            &json!({"metadata": {"annotations": {"a": null}}}),
        )
        .unwrap();
        assert_eq!(o, json!({"metadata": {"annotations": {"b": "2"}}}));
    }

    #[test]
    fn strategic_is_refused_for_custom_resources() {
        let route = crate::resources::ResourceType {
            custom: true,
            ..crate::resources::rt(
                "gateway.networking.k8s.io",
                "v1",
                "httproutes",
                "httproute",
                "HTTPRoute",
                true,
            )
        };
        let route = &route;
        let mut o = json!({});
        assert_eq!(
            apply(PatchType::Strategic, route, &mut o, &json!({}))
                .unwrap_err()
                .code,
            415
        );
    }

    #[test]
    fn apply_body_is_yaml() {
        let v = parse_body(
            PatchType::Apply,
            b"metadata:\n  name: x\nspec:\n  replicas: 2\n",
        )
        .unwrap();
        assert_eq!(v["spec"]["replicas"], 2);
        assert_eq!(parse_body(PatchType::Merge, b"{").unwrap_err().code, 400);
    }
}
