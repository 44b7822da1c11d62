//! Validation on create and update: the subset of the real rules that clients
//! meet in practice, answered as 422 Invalid with field paths.

use serde_json::Value;

use crate::resources::ResourceType;
use crate::selector::LabelSelector;
use crate::status::ApiError;

type Causes = Vec<(String, String)>;

/// RFC 1123 label: lowercase alphanumerics and '-', at most 63, alphanumeric ends.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn check_name(res: &ResourceType, name: &str, causes: &mut Causes) {
    let (ok, rule) = match res.kind {
        // Services are DNS-1035 labels: they become DNS names and env var prefixes.
        "Service" => (
            is_dns1123_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase()),
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        ),
        // RBAC names are path segments (`system:basic-user`):
        // apimachinery's path.ValidatePathSegmentName.
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => match name {
            "." | ".." => (false, "may not be '.' or '..'"),
            n if n.contains('/') => (false, "may not contain '/'"),
            n if n.contains('%') => (false, "may not contain '%'"),
            _ => (true, ""),
        },
        "Namespace" => (
            is_dns1123_label(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ),
        _ => (
            is_dns1123_subdomain(name),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        ),
    };
    if !ok {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: \"{name}\": {rule}"),
        ));
    }
}

fn check_labels(obj: &Value, path: &str, causes: &mut Causes) {
    let Some(labels) = obj.get("labels") else {
        return;
    };
    let Some(map) = labels.as_object() else {
        causes.push((path.into(), "Invalid value: labels must be a map".into()));
        return;
    };
    for (k, v) in map {
        let name = k.rsplit('/').next().unwrap_or("");
        let key_ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        let val_ok = v.as_str().is_some_and(|v| {
            v.len() <= 63
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
        if !key_ok || !val_ok {
            causes.push((
                format!("{path}.{k}"),
                format!("Invalid value: {v}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'"),
            ));
        }
    }
}

fn check_containers(spec: &Value, path: &str, causes: &mut Causes) {
    match spec["containers"].as_array() {
        Some(cs) if !cs.is_empty() => {
            for (i, c) in cs.iter().enumerate() {
                if c["name"].as_str().is_none_or(str::is_empty) {
                    causes.push((
                        format!("{path}.containers[{i}].name"),
                        "Required value".into(),
                    ));
                }
                if c["image"].as_str().is_none_or(str::is_empty) {
                    causes.push((
                        format!("{path}.containers[{i}].image"),
                        "Required value".into(),
                    ));
                }
            }
        }
        _ => causes.push((format!("{path}.containers"), "Required value".into())),
    }
}

fn check_workload(obj: &Value, old: Option<&Value>, causes: &mut Causes) {
    let spec = &obj["spec"];
    if spec["replicas"].as_i64().is_some_and(|r| r < 0) {
        causes.push((
            "spec.replicas".into(),
            format!(
                "Invalid value: {}: must be greater than or equal to 0",
                spec["replicas"]
            ),
        ));
    }
    let sel = match LabelSelector::from_json(spec.get("selector")) {
        Ok(s) => s,
        Err(e) => {
            causes.push(("spec.selector".into(), format!("Invalid value: {e}")));
            return;
        }
    };
    if sel.is_empty() {
        causes.push(("spec.selector".into(), "Required value".into()));
    } else if !sel.matches(spec["template"]["metadata"].get("labels")) {
        causes.push((
            "spec.template.metadata.labels".into(),
            format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                spec["template"]["metadata"]["labels"]
            ),
        ));
    }
    if let Some(old) = old
        && old["spec"]["selector"] != spec["selector"]
    {
        causes.push((
            "spec.selector".into(),
            format!("Invalid value: {}: field is immutable", spec["selector"]),
        ));
    }
    check_labels(
        &spec["template"]["metadata"],
        "spec.template.metadata.labels",
        causes,
    );
    check_containers(&spec["template"]["spec"], "spec.template.spec", causes);
}

/// A Job's pods run to completion, and its template is fixed once created
/// (the job strategy's `ValidateJobUpdate`).
fn check_job(obj: &Value, old: Option<&Value>, causes: &mut Causes) {
    let spec = &obj["spec"];
    let policy = &spec["template"]["spec"]["restartPolicy"];
    if policy != "Never" && policy != "OnFailure" {
        causes.push((
            "spec.template.spec.restartPolicy".into(),
            format!("Unsupported value: {policy}: supported values: \"OnFailure\", \"Never\""),
        ));
    }
    for field in [
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
    ] {
        if spec[field].as_i64().is_some_and(|n| n < 0) {
            causes.push((
                format!("spec.{field}"),
                format!(
                    "Invalid value: {}: must be greater than or equal to 0",
                    spec[field]
                ),
            ));
        }
    }
    check_labels(
        &spec["template"]["metadata"],
        "spec.template.metadata.labels",
        causes,
    );
    check_containers(&spec["template"]["spec"], "spec.template.spec", causes);
    if let Some(old) = old {
        for field in ["template", "selector", "completions"] {
            if old["spec"][field] != spec[field] {
                causes.push((
                    format!("spec.{field}"),
                    format!("Invalid value: {}: field is immutable", spec[field]),
                ));
            }
        }
    }
}

fn check_service(obj: &Value, old: Option<&Value>, causes: &mut Causes) {
    let spec = &obj["spec"];
    let headless = spec["clusterIP"] == "None";
    let ports = spec["ports"].as_array();
    if ports.is_none_or(Vec::is_empty) && !headless && spec["type"] != "ExternalName" {
        causes.push(("spec.ports".into(), "Required value".into()));
    }
    if let Some(ports) = ports {
        for (i, p) in ports.iter().enumerate() {
            if !p["port"].as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
                causes.push((
                    format!("spec.ports[{i}].port"),
                    format!(
                        "Invalid value: {}: must be between 1 and 65535, inclusive",
                        p["port"]
                    ),
                ));
            }
            if ports.len() > 1 && p["name"].as_str().is_none_or(str::is_empty) {
                causes.push((format!("spec.ports[{i}].name"), "Required value".into()));
            }
        }
    }
    if let Some(sel) = spec.get("selector").filter(|s| !s.is_null()) {
        check_labels(
            &serde_json::json!({ "labels": sel }),
            "spec.selector",
            causes,
        );
    }
    if let Some(old) = old
        && !old["spec"]["clusterIP"].is_null()
        && old["spec"]["clusterIP"] != spec["clusterIP"]
    {
        causes.push((
            "spec.clusterIPs[0]".into(),
            "Invalid value: may not change once set".into(),
        ));
    }
}

fn check_route(obj: &Value, causes: &mut Causes) {
    let Some(rules) = obj["spec"]["rules"].as_array() else {
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        for (j, b) in rule["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(w) = b.get("weight")
                && !w.as_i64().is_some_and(|w| (0..=1_000_000).contains(&w))
            {
                causes.push((
                    format!("spec.rules[{i}].backendRefs[{j}].weight"),
                    format!("Invalid value: {w}: spec.rules[{i}].backendRefs[{j}].weight in body should be an integer between 0 and 1000000"),
                ));
            }
        }
    }
}

/// Validates `obj` (and, on update, the transition from `old`).
pub fn validate(res: &ResourceType, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let mut causes = Causes::new();
    if old.is_none() && !name.is_empty() {
        check_name(res, name, &mut causes);
    }
    check_labels(&obj["metadata"], "metadata.labels", &mut causes);
    if obj["metadata"].get("annotations").is_some_and(|a| {
        !a.is_null()
            && !a
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
    }) {
        causes.push((
            "metadata.annotations".into(),
            "Invalid value: annotations must be a map of strings".into(),
        ));
    }
    match res.kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => {
            check_workload(obj, old, &mut causes)
        }
        "Job" => check_job(obj, old, &mut causes),
        "Pod" => check_containers(&obj["spec"], "spec", &mut causes),
        "Service" => check_service(obj, old, &mut causes),
        "HTTPRoute" => check_route(obj, &mut causes),
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(res, name, &causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    fn deploy() -> Value {
        json!({"metadata": {"name": "web-blue"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "x:1"}]}}}})
    }

    #[test]
    fn names() {
        assert!(is_dns1123_label("web-blue"));
        assert!(!is_dns1123_label("Web"));
        assert!(!is_dns1123_label("-web"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("a.b-c"));
        assert!(!is_dns1123_subdomain("a..b"));
        let svc = find("", "v1", "services").unwrap();
        let e = validate(
            svc,
            &json!({"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, 422);
        assert!(e.message.contains("metadata.name"), "{}", e.message);
    }

    #[test]
    fn deployment_rules() {
        let d = find("apps", "v1", "deployments").unwrap();
        validate(d, &deploy(), None).unwrap();
        let mut no_sel = deploy();
        no_sel["spec"]["selector"] = Value::Null;
        assert!(
            validate(d, &no_sel, None)
                .unwrap_err()
                .message
                .contains("spec.selector: Required value")
        );
        let mut mismatch = deploy();
        mismatch["spec"]["template"]["metadata"]["labels"] = json!({"app": "api"});
        assert!(
            validate(d, &mismatch, None)
                .unwrap_err()
                .message
                .contains("does not match")
        );
        let mut no_image = deploy();
        no_image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
        assert!(
            validate(d, &no_image, None)
                .unwrap_err()
                .message
                .contains("containers[0].image")
        );
        let mut moved = deploy();
        moved["spec"]["selector"] = json!({"matchLabels": {"app": "web", "x": "y"}});
        moved["spec"]["template"]["metadata"]["labels"]["x"] = json!("y");
        assert!(
            validate(d, &moved, Some(&deploy()))
                .unwrap_err()
                .message
                .contains("immutable")
        );
    }

    #[test]
    fn service_and_route_rules() {
        let svc = find("", "v1", "services").unwrap();
        let two =
            json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}, {"port": 81}]}});
        assert!(
            validate(svc, &two, None)
                .unwrap_err()
                .message
                .contains("spec.ports[0].name")
        );
        let bad_port = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 0}]}});
        assert!(validate(svc, &bad_port, None).is_err());
        let r = find("gateway.networking.k8s.io", "v1", "httproutes").unwrap();
        let route = json!({"metadata": {"name": "r"}, "spec": {"rules": [{"backendRefs": [{"name": "a", "weight": -1}]}]}});
        assert!(
            validate(r, &route, None)
                .unwrap_err()
                .message
                .contains("weight")
        );
    }

    #[test]
    fn labels_and_annotations() {
        let cm = find("", "v1", "configmaps").unwrap();
        let bad = json!({"metadata": {"name": "c", "labels": {"a": "b c"}}});
        assert_eq!(validate(cm, &bad, None).unwrap_err().code, 422);
        let bad_ann = json!({"metadata": {"name": "c", "annotations": {"a": 1}}});
        assert_eq!(validate(cm, &bad_ann, None).unwrap_err().code, 422);
    }
}
