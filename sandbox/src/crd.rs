//! CustomResourceDefinitions served as the real apiextensions-apiserver
//! serves them: a definition, once created, is Established and its served
//! versions are resource types (discovery, CRUD, watch, the status
//! subresource, a Table from `additionalPrinterColumns`); objects are
//! defaulted from `default`, pruned of fields the structural schema does not
//! declare (unless `x-kubernetes-preserve-unknown-fields`), and validated
//! against `openAPIV3Schema` with the real 422 messages
//! (kube-openapi's validate package, as apiextensions words it).
//!
//! Not modelled: `x-kubernetes-validations` (CEL rules are not evaluated),
//! `pattern` and `format`, conversion between versions (every version is
//! stored as written), the scale subresource, and a definition naming a kind
//! the sandbox serves built in (a Deployment, say): it is stored and
//! Established, and the built-in type keeps serving. HTTPRoute and
//! VirtualService are not built in: `--demo` defines them
//! (`server::TRAFFIC_CRDS`), and applying the official CRDs replaces those.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use crate::cluster::Cluster;
use crate::resources::{Conversion, ResourceType, Types};
use crate::store::now;

/// A `'static` copy of `s`, shared by equal strings so that redefining a
/// type does not leak again.
fn intern(s: &str) -> &'static str {
    static STRINGS: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut set = STRINGS.lock().unwrap_or_else(|e| e.into_inner());
    let set = set.get_or_insert_with(HashSet::new);
    if let Some(&found) = set.get(s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

fn strings(v: &Value) -> &'static [&'static str] {
    let list: Vec<&'static str> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(intern)
        .collect();
    Box::leak(list.into_boxed_slice())
}

/// The causes of an invalid definition, as apiextensions validation words
/// the ones a hand-written definition gets wrong most.
pub fn validate_definition(crd: &Value) -> Vec<(String, String)> {
    let mut causes = Vec::new();
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or("");
    let plural = spec["names"]["plural"].as_str().unwrap_or("");
    let name = crd["metadata"]["name"].as_str().unwrap_or("");
    if group.is_empty() {
        causes.push(("spec.group".into(), "Required value".into()));
    }
    if plural.is_empty() {
        causes.push(("spec.names.plural".into(), "Required value".into()));
    }
    if spec["names"]["kind"].as_str().unwrap_or("").is_empty() {
        causes.push(("spec.names.kind".into(), "Required value".into()));
    }
    if name != format!("{plural}.{group}") {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
        causes.push((
            "spec.scope".into(),
            format!(
                "Unsupported value: {}: supported values: \"Cluster\", \"Namespaced\"",
                spec["scope"]
            ),
        ));
    }
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    if versions.is_empty() {
        causes.push((
            "spec.versions".into(),
            "Invalid value: null: must have exactly one version marked as storage version".into(),
        ));
    } else if versions.iter().filter(|v| v["storage"] == true).count() != 1 {
        causes.push((
            "spec.versions".into(),
            "Invalid value: ...: must have exactly one version marked as storage version".into(),
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if v["schema"]["openAPIV3Schema"].is_null() {
            causes.push((
                format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "Required value: schemas are required".into(),
            ));
        }
    }
    causes
}

/// The status a definition gets once its names are accepted.
pub fn established_status(crd: &Value) -> Value {
    let names = &crd["spec"]["names"];
    let mut accepted = names.clone();
    if accepted["listKind"].is_null() {
        accepted["listKind"] = json!(format!("{}List", names["kind"].as_str().unwrap_or("")));
    }
    if accepted["singular"].is_null() {
        accepted["singular"] = json!(names["kind"].as_str().unwrap_or("").to_lowercase());
    }
    let at = now();
    let storage: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == true)
        .map(|v| v["name"].clone())
        .collect();
    json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": at},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": at},
        ],
        "storedVersions": storage,
    })
}

/// The resource types of a definition's served versions.
fn types_of(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let kind = names["kind"].as_str().unwrap_or("");
    spec["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["served"] == true)
        .map(|v| ResourceType {
            group: intern(spec["group"].as_str().unwrap_or("")),
            version: intern(v["name"].as_str().unwrap_or("")),
            plural: intern(names["plural"].as_str().unwrap_or("")),
            singular: intern(
                names["singular"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| kind.to_lowercase())
                    .as_str(),
            ),
            kind: intern(kind),
            namespaced: spec["scope"] == "Namespaced",
            short_names: strings(&names["shortNames"]),
            categories: strings(&names["categories"]),
            status: v["subresources"].get("status").is_some(),
            scale: false,
            generation: true,
            custom: true,
            conversion: Conversion::None,
            review: false,
            crd: Some(Box::leak(Box::new(v.clone()))),
        })
        .collect()
}

/// Serves the definition's versions (after a create or an update).
pub fn register(types: &Types, crd: &Value) {
    let group = crd["spec"]["group"].as_str().unwrap_or("");
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or("");
    types.unregister(group, plural);
    for t in types_of(crd) {
        types.register(t);
    }
}

/// The types of the demo's traffic CRDs (`server::TRAFFIC_CRDS`), for tests
/// of what discovery and OpenAPI serve once they are defined.
#[cfg(test)]
pub(crate) fn traffic_types() -> Types {
    let types = Types::default();
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(crate::server::TRAFFIC_CRDS).expect("the CRDs parse");
    for d in docs.iter().filter(|d| d.is_object()) {
        let mut d = d.clone();
        d["status"] = established_status(&d);
        register(&types, &d);
    }
    types
}

/// Stops serving a deleted definition and deletes its objects, as the real
/// server does once the definition goes.
pub fn remove(cluster: &Cluster, crd: &Value) {
    let group = crd["spec"]["group"].as_str().unwrap_or("");
    let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or("");
    if let Some(t) = cluster
        .types
        .all()
        .into_iter()
        .find(|r| r.crd.is_some() && r.group == group && r.plural == plural)
    {
        for o in cluster.store.list(t, None).0 {
            let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
            let name = o["metadata"]["name"].as_str().unwrap_or("");
            let _ = cluster.store.delete(t, ns, name, None, None, false);
        }
    }
    cluster.types.unregister(group, plural);
}

fn schema_of(version: &Value) -> &Value {
    &version["schema"]["openAPIV3Schema"]
}

fn preserves(schema: &Value) -> bool {
    schema["x-kubernetes-preserve-unknown-fields"] == true
}

/// Applies `default`s and prunes undeclared fields, in place.
pub fn default_and_prune(version: &Value, obj: &mut Value) {
    walk_defaults(schema_of(version), obj, "", &mut Vec::new());
}

/// The fields of `obj` its schema does not declare (`spec.bogus`): what
/// `fieldValidation=Strict`, kubectl's default, refuses instead of pruning.
pub fn unknown_fields(version: &Value, obj: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    walk_defaults(schema_of(version), &mut obj.clone(), "", &mut unknown);
    unknown
}

/// The 400 a strict decoder answers for unknown fields.
pub fn strict_error(kind: &str, version: &str, unknown: &[String]) -> crate::status::ApiError {
    let fields: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    crate::status::ApiError::bad_request(format!(
        "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
        fields.join(", ")
    ))
}

/// Defaults and prunes `v` (at `path`, empty for the object itself),
/// recording the pruned fields in `unknown`.
fn walk_defaults(schema: &Value, v: &mut Value, path: &str, unknown: &mut Vec<String>) {
    let root = path.is_empty();
    let child = |k: &str| {
        if root {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) if schema["type"] == "object" || schema.get("properties").is_some() => {
            let props = schema["properties"].as_object();
            if let Some(props) = props {
                for (k, s) in props {
                    if !m.contains_key(k)
                        && let Some(d) = s.get("default")
                    {
                        m.insert(k.clone(), d.clone());
                    }
                }
            }
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            if !preserves(schema)
                && !schema["x-kubernetes-int-or-string"]
                    .as_bool()
                    .unwrap_or(false)
            {
                m.retain(|k, _| {
                    // apiVersion, kind and metadata are the server's, always kept.
                    let keep = (root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
                        || props.is_some_and(|p| p.contains_key(k))
                        || additional.is_some();
                    if !keep {
                        unknown.push(child(k));
                    }
                    keep
                });
            }
            for (k, x) in m.iter_mut() {
                if root && k == "metadata" {
                    continue;
                }
                if let Some(s) = props.and_then(|p| p.get(k)).or(additional) {
                    walk_defaults(s, x, &child(k), unknown);
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, x) in items.iter_mut().enumerate() {
                    walk_defaults(s, x, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The causes of `obj` not matching its version's schema.
pub fn validate(version: &Value, obj: &Value) -> Vec<(String, String)> {
    let mut causes = Vec::new();
    let schema = schema_of(version);
    if let Some(m) = obj.as_object() {
        for (k, x) in m {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(s) = schema["properties"].get(k) {
                check(s, x, k, &mut causes);
            }
        }
        required(schema, m, "", &mut causes);
    }
    causes
}

fn required(
    schema: &Value,
    m: &Map<String, Value>,
    path: &str,
    causes: &mut Vec<(String, String)>,
) {
    for r in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let server_set = path.is_empty() && matches!(r, "apiVersion" | "kind" | "metadata");
        if !(m.contains_key(r) || server_set) {
            let field = if path.is_empty() {
                r.to_string()
            } else {
                format!("{path}.{r}")
            };
            causes.push((field, "Required value".into()));
        }
    }
}

fn check(schema: &Value, v: &Value, path: &str, causes: &mut Vec<(String, String)>) {
    if v.is_null() {
        if schema["nullable"] != true {
            causes.push((
                path.to_string(),
                format!(
                    "Invalid value: \"null\": {path} in body must be of type {}: \"null\"",
                    schema["type"].as_str().unwrap_or("object")
                ),
            ));
        }
        return;
    }
    let int_or_string = schema["x-kubernetes-int-or-string"] == true;
    if let Some(want) = schema["type"].as_str() {
        let got = type_name(v);
        let ok = got == want || (want == "number" && got == "integer");
        let either = int_or_string && matches!(got, "integer" | "string");
        if !(ok || either) {
            causes.push((
                path.to_string(),
                format!(
                    "Invalid value: \"{got}\": {path} in body must be of type {want}: \"{got}\""
                ),
            ));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(v)
    {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        causes.push((
            path.to_string(),
            format!(
                "Unsupported value: {v}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
    match v {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if let Some(min) = schema["minimum"].as_f64()
                && x < min
            {
                causes.push((
                    path.to_string(),
                    format!(
                        "Invalid value: {v}: {path} in body should be greater than or equal to {}",
                        schema["minimum"]
                    ),
                ));
            }
            if let Some(max) = schema["maximum"].as_f64()
                && x > max
            {
                causes.push((
                    path.to_string(),
                    format!(
                        "Invalid value: {v}: {path} in body should be less than or equal to {}",
                        schema["maximum"]
                    ),
                ));
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(max) = schema["maxLength"].as_u64()
                && len > max
            {
                causes.push((
                    path.to_string(),
                    format!("Too long: may not be more than {max} bytes"),
                ));
            }
            if let Some(min) = schema["minLength"].as_u64()
                && len < min
            {
                causes.push((
                    path.to_string(),
                    format!(
                        "Invalid value: {v}: {path} in body should be at least {min} chars long"
                    ),
                ));
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema["maxItems"].as_u64()
                && items.len() as u64 > max
            {
                causes.push((
                    path.to_string(),
                    format!("Too many: {}: must have at most {max} items", items.len()),
                ));
            }
            if let Some(min) = schema["minItems"].as_u64()
                && (items.len() as u64) < min
            {
                causes.push((
                    path.to_string(),
                    format!(
                        "Invalid value: {}: {path} in body should have at least {min} items",
                        items.len()
                    ),
                ));
            }
            if let Some(s) = schema.get("items") {
                for (i, x) in items.iter().enumerate() {
                    check(s, x, &format!("{path}[{i}]"), causes);
                }
            }
        }
        Value::Object(m) => {
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, x) in m {
                if let Some(s) = schema["properties"].get(k).or(additional) {
                    check(s, x, &format!("{path}.{k}"), causes);
                }
            }
            required(schema, m, path, causes);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version() -> Value {
        json!({"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": {"type": "object", "required": ["size"], "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                    "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 3}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                }},
            },
        }}})
    }

    #[test]
    fn defaults_fill_and_unknown_fields_are_pruned() {
        let mut o = json!({"apiVersion": "x/v1", "kind": "W", "metadata": {"name": "a"},
            "spec": {"size": 2, "bogus": 1, "free": {"any": {"thing": 1}}}, "extra": true});
        default_and_prune(&version(), &mut o);
        assert_eq!(
            o["spec"],
            json!({"size": 2, "mode": "fast", "free": {"any": {"thing": 1}}})
        );
        assert!(o.get("extra").is_none());
        assert_eq!(o["metadata"]["name"], "a");
    }

    #[test]
    fn strict_validation_names_the_unknown_fields() {
        let o = json!({"metadata": {"name": "a"}, "spec": {"size": 2, "bogus": 1, "free": {"x": 1}}, "extra": 1});
        assert_eq!(unknown_fields(&version(), &o), ["extra", "spec.bogus"]);
        assert_eq!(
            strict_error("Widget", "v1", &unknown_fields(&version(), &o)).message,
            "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"extra\", unknown field \"spec.bogus\""
        );
    }

    #[test]
    fn validation_speaks_like_the_real_server() {
        let o = json!({"spec": {"size": 0, "mode": "odd", "tags": ["a", "b", "long"]}});
        let causes = validate(&version(), &o);
        let text: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        assert_eq!(
            text,
            [
                "spec.mode: Unsupported value: \"odd\": supported values: \"fast\", \"slow\"",
                "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
                "spec.tags: Too many: 3: must have at most 2 items",
                "spec.tags[2]: Too long: may not be more than 3 bytes",
            ]
        );
        let missing = validate(&version(), &json!({"spec": {"size": "big"}}));
        assert_eq!(
            missing[0].1,
            "Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
        );
        assert_eq!(
            validate(&version(), &json!({"spec": {}}))[0],
            ("spec.size".to_string(), "Required value".to_string())
        );
    }
}
