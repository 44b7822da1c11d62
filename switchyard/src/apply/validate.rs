//! The validator: every object checked before anything is sent, locally
//! (apiVersion and kind present, names and namespaces as the API server
//! validates them) and against one discovery pass (the apiVersion and kind
//! are served, and whether the kind is namespaced or cluster-scoped), the
//! way krew's manifest validation checks a plugin manifest as code before
//! it is used. Kinds that a CustomResourceDefinition of the same set
//! defines are known from that definition: they are not served until it
//! is applied and Established.
//!
//! Every problem of every file is collected, so one run names them all.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use kube::Client;
use kube::core::{ApiResource, GroupVersion};
use kube::discovery::{Scope, pinned_group};
use serde_json::Value;

use super::manifest::{Doc, Origin, Problem};

/// An object ready to apply: where it came from, its body as the files
/// have it, and how the API serves its kind.
#[derive(Clone, Debug)]
pub struct Object {
    pub origin: Origin,
    pub body: Value,
    pub resource: ApiResource,
    pub namespaced: bool,
    pub name: String,
    /// Set for namespaced kinds (the file's, else the default namespace).
    pub namespace: Option<String>,
    /// The CustomResourceDefinition of this set that defines the kind, when
    /// discovery did not serve it yet.
    pub defined_by: Option<String>,
}

impl Object {
    /// kubectl's name for it: `deployment.apps/web`, `service/web`.
    pub fn reference(&self) -> String {
        reference(&self.resource.kind, &self.resource.group, &self.name)
    }

    /// `deployment.apps/web in shop`, for messages that need the namespace.
    pub fn described(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} in {ns}", self.reference()),
            None => self.reference(),
        }
    }
}

/// kubectl's `kind.group/name` (lower-case kind, no group for the core group).
pub fn reference(kind: &str, group: &str, name: &str) -> String {
    let kind = kind.to_ascii_lowercase();
    match group {
        "" => format!("{kind}/{name}"),
        g => format!("{kind}.{g}/{name}"),
    }
}

/// DNS-1123 label: at most 63 of `[a-z0-9-]`, alphanumeric at both ends.
pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// DNS-1123 subdomain: at most 253, dot-separated labels.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// What kube-apiserver requires of a kind's names: DNS-1123 labels for
/// Namespaces and Services (they become DNS names), path segments for RBAC
/// objects (`system:controller:x` is a valid ClusterRole), DNS-1123
/// subdomains for the rest, custom resources included.
fn name_problem(group: &str, kind: &str, name: &str) -> Option<String> {
    let (ok, rule) = match (group, kind) {
        ("", "Namespace" | "Service") => (
            is_dns1123_label(name),
            "a DNS-1123 label (lowercase letters, digits and '-', at most 63)",
        ),
        ("rbac.authorization.k8s.io", _) => (
            !matches!(name, "." | "..") && !name.contains('/') && !name.contains('%'),
            "a path segment (no '/', no '%', not '.' or '..')",
        ),
        _ => (
            is_dns1123_subdomain(name),
            "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253)",
        ),
    };
    (!ok).then(|| format!("metadata.name {name:?} is not valid for a {kind}: it must be {rule}"))
}

/// The checks that need no cluster. Returns every problem of the object.
pub fn local(doc: &Doc) -> Vec<String> {
    let o = &doc.object;
    let mut problems = Vec::new();
    if !o.is_object() {
        return vec!["not an object (a YAML mapping or JSON object)".into()];
    }
    let api_version = o["apiVersion"].as_str().unwrap_or("");
    let kind = o["kind"].as_str().unwrap_or("");
    if api_version.is_empty() {
        problems.push("apiVersion is missing".to_string());
    } else if api_version.split('/').count() > 2 || api_version.split('/').any(str::is_empty) {
        problems.push(format!(
            "apiVersion {api_version:?} is not VERSION or GROUP/VERSION"
        ));
    }
    if kind.is_empty() {
        problems.push("kind is missing".to_string());
    }
    if !o["metadata"].is_object() {
        problems.push("metadata is missing".to_string());
        return problems;
    }
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    match &o["metadata"]["name"] {
        Value::String(n) if !n.is_empty() => {
            if !kind.is_empty() {
                problems.extend(name_problem(group, kind, n));
            }
        }
        Value::Null if o["metadata"]["generateName"].is_string() => problems.push(
            "metadata.name is missing: server-side apply needs a name (generateName is for create)"
                .into(),
        ),
        Value::Null => problems.push("metadata.name is missing".into()),
        v => problems.push(format!("metadata.name must be a string, not {v}")),
    }
    match &o["metadata"]["namespace"] {
        Value::Null => {}
        Value::String(ns) if is_dns1123_label(ns) => {}
        v => problems.push(format!("metadata.namespace {v} is not a DNS-1123 label")),
    }
    for field in ["labels", "annotations"] {
        let m = &o["metadata"][field];
        if !m.is_null()
            && !m
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
        {
            problems.push(format!("metadata.{field} must map strings to strings"));
        }
    }
    problems
}

/// A kind that a CustomResourceDefinition of the set defines.
#[derive(Clone, Debug)]
struct Defined {
    crd: String,
    plural: String,
    namespaced: bool,
}

/// (group, version, kind) → the definition, for every served version of
/// every CRD in `docs`.
fn definitions(docs: &[Doc]) -> BTreeMap<(String, String, String), Defined> {
    let mut out = BTreeMap::new();
    for d in docs {
        let o = &d.object;
        if o["kind"] != "CustomResourceDefinition"
            || !o["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("apiextensions.k8s.io/"))
        {
            continue;
        }
        let spec = &o["spec"];
        let (Some(group), Some(kind), Some(plural)) = (
            spec["group"].as_str(),
            spec["names"]["kind"].as_str(),
            spec["names"]["plural"].as_str(),
        ) else {
            continue;
        };
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"] == Value::Bool(false) {
                continue;
            }
            if let Some(version) = v["name"].as_str() {
                out.insert(
                    (group.to_string(), version.to_string(), kind.to_string()),
                    Defined {
                        crd: o["metadata"]["name"].as_str().unwrap_or("").to_string(),
                        plural: plural.to_string(),
                        namespaced: spec["scope"] != "Cluster",
                    },
                );
            }
        }
    }
    out
}

/// What discovery says of one group-version: its kinds, or that it is not served.
type Served = BTreeMap<String, (ApiResource, bool)>;

/// Validates every document: locally, then against discovery (one request
/// per group-version the files use). `namespace` is where namespaced objects
/// without one go; `explicit` says it came from `--namespace`, which an
/// object's own namespace must then match (as kubectl requires).
/// `Err` is for the cluster (unreachable, refused): problems of the files
/// come back as problems.
pub async fn resolve(
    client: &Client,
    docs: Vec<Doc>,
    namespace: &str,
    explicit: bool,
) -> Result<(Vec<Object>, Vec<Problem>)> {
    let mut problems = Vec::new();
    let mut good = Vec::new();
    for doc in docs {
        let p = local(&doc);
        if p.is_empty() {
            good.push(doc);
        } else {
            problems.extend(p.into_iter().map(|what| Problem {
                at: doc.origin.to_string(),
                what,
            }));
        }
    }
    let defined = definitions(&good);
    let versions: BTreeSet<String> = good
        .iter()
        .filter_map(|d| d.object["apiVersion"].as_str().map(String::from))
        .collect();
    let mut served: BTreeMap<String, Option<Served>> = BTreeMap::new();
    for api_version in versions {
        let gv: GroupVersion = match api_version.parse() {
            Ok(gv) => gv,
            Err(_) => {
                served.insert(api_version, None);
                continue;
            }
        };
        let kinds = match pinned_group(client, &gv).await {
            Ok(group) => Some(
                group
                    .versioned_resources(&gv.version)
                    .into_iter()
                    .map(|(ar, caps)| (ar.kind.clone(), (ar, caps.scope == Scope::Namespaced)))
                    .collect(),
            ),
            Err(kube::Error::Api(s)) if s.code == 404 => None,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("discovering the kinds of apiVersion {api_version}")));
            }
        };
        served.insert(api_version, kinds);
    }
    let mut objects: Vec<Object> = Vec::new();
    let mut seen: BTreeMap<(String, String, Option<String>, String), Origin> = BTreeMap::new();
    for doc in good {
        let o = &doc.object;
        let api_version = o["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = o["kind"].as_str().unwrap_or("").to_string();
        let name = o["metadata"]["name"].as_str().unwrap_or("").to_string();
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.clone()),
        };
        let at = doc.origin.to_string();
        let from_discovery = served
            .get(&api_version)
            .and_then(|s| s.as_ref())
            .and_then(|kinds| kinds.get(&kind).cloned());
        let (resource, namespaced, defined_by) = match from_discovery {
            Some((ar, namespaced)) => (ar, namespaced, None),
            None => match defined.get(&(group.clone(), version.clone(), kind.clone())) {
                Some(d) => (
                    ApiResource {
                        group: group.clone(),
                        version: version.clone(),
                        api_version: api_version.clone(),
                        kind: kind.clone(),
                        plural: d.plural.clone(),
                    },
                    d.namespaced,
                    Some(d.crd.clone()),
                ),
                None => {
                    let what = match served.get(&api_version).and_then(|s| s.as_ref()) {
                        Some(kinds) => format!(
                            "kind {kind} is not served in {api_version} (it serves {})",
                            kinds.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                        None => format!(
                            "apiVersion {api_version} is not served by the cluster (kind {kind}); a CustomResourceDefinition in these files does not define it either"
                        ),
                    };
                    problems.push(Problem { at, what });
                    continue;
                }
            },
        };
        let own = o["metadata"]["namespace"].as_str().map(String::from);
        let ns = if namespaced {
            match own {
                Some(own) if explicit && own != namespace => {
                    problems.push(Problem {
                        at,
                        what: format!(
                            "its namespace {own:?} does not match --namespace {namespace:?}: pass --namespace {own} or drop one of them"
                        ),
                    });
                    continue;
                }
                Some(own) => Some(own),
                None => Some(namespace.to_string()),
            }
        } else {
            if let Some(own) = own {
                problems.push(Problem {
                    at,
                    what: format!(
                        "{kind} is cluster-scoped but the file gives it metadata.namespace {own:?}: remove it"
                    ),
                });
                continue;
            }
            None
        };
        let key = (group.clone(), kind.clone(), ns.clone(), name.clone());
        if let Some(first) = seen.get(&key) {
            problems.push(Problem {
                at,
                what: format!(
                    "{} is also in {first}: an object may be in the files once",
                    reference(&kind, &group, &name)
                ),
            });
            continue;
        }
        seen.insert(key, doc.origin.clone());
        let mut body = doc.object.clone();
        if let Some(ns) = &ns {
            body["metadata"]["namespace"] = Value::String(ns.clone());
        }
        objects.push(Object {
            origin: doc.origin,
            body,
            resource,
            namespaced,
            name,
            namespace: ns,
            defined_by,
        });
    }
    Ok((objects, problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Doc {
        Doc {
            origin: Origin {
                file: "k8s/x.yaml".into(),
                document: 1,
                item: None,
            },
            object: v,
        }
    }

    #[test]
    fn names_follow_the_servers_rules_per_kind() {
        let check = |api: &str, kind: &str, name: &str| {
            local(&doc(
                json!({"apiVersion": api, "kind": kind, "metadata": {"name": name}}),
            ))
        };
        assert!(check("apps/v1", "Deployment", "web.v2").is_empty());
        assert!(
            !check("v1", "Service", "web.v2").is_empty(),
            "a Service name is a label"
        );
        assert!(
            check(
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
                "system:controller:x"
            )
            .is_empty()
        );
        let p = check("apps/v1", "Deployment", "Web_1");
        assert!(
            p[0].contains("metadata.name \"Web_1\" is not valid for a Deployment"),
            "{p:?}"
        );
        assert!(!check("v1", "Namespace", &"a".repeat(64)).is_empty());
    }

    #[test]
    fn every_local_problem_is_reported() {
        let p = local(&doc(
            json!({"metadata": {"generateName": "x-", "namespace": "Bad", "labels": {"a": 1}}}),
        ));
        let all = p.join("; ");
        for want in [
            "apiVersion is missing",
            "kind is missing",
            "generateName",
            "metadata.namespace \"Bad\"",
            "metadata.labels",
        ] {
            assert!(all.contains(want), "{want} not in {all}");
        }
        assert_eq!(
            local(&doc(json!([1, 2])))[0],
            "not an object (a YAML mapping or JSON object)"
        );
        assert!(
            local(&doc(
                json!({"apiVersion": "a/b/c", "kind": "K", "metadata": {"name": "x"}})
            ))[0]
                .contains("not VERSION or GROUP/VERSION")
        );
    }

    #[test]
    fn references_read_as_kubectl_prints_them() {
        assert_eq!(
            reference("Deployment", "apps", "web"),
            "deployment.apps/web"
        );
        assert_eq!(reference("Service", "", "web"), "service/web");
    }

    #[test]
    fn a_crd_in_the_set_defines_its_served_versions() {
        let crd = doc(
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"kind": "Widget", "plural": "widgets"},
                     "versions": [{"name": "v1", "served": true}, {"name": "v0", "served": false}]}}),
        );
        let d = definitions(&[crd]);
        let v1 = d
            .get(&("example.com".into(), "v1".into(), "Widget".into()))
            .unwrap();
        assert_eq!(
            (v1.crd.as_str(), v1.plural.as_str(), v1.namespaced),
            ("widgets.example.com", "widgets", true)
        );
        assert!(!d.contains_key(&("example.com".into(), "v0".into(), "Widget".into())));
    }
}
