//! Discovery documents (`/api`, `/apis`, group-version resource lists) and
//! `/version`, generated from the resource table.

use serde_json::{Value, json};

use crate::resources::{ResourceType, Types};

/// The Kubernetes version the sandbox speaks. The installed kubectl picks its
/// matching minor from this, so it names a release kubectl knows.
pub const KUBE_MINOR: u32 = 33;

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": KUBE_MINOR.to_string(),
        "gitVersion": format!("v1.{KUBE_MINOR}.0"),
        "gitCommit": "kube-sandbox",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "n/a",
        "compiler": "rustc",
        "platform": "linux/amd64",
    })
}

pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({ "groupVersion": format!("{group}/{v}"), "version": v });
    let all: Vec<Value> = versions.iter().map(|v| gv(v)).collect();
    json!({ "name": group, "versions": all, "preferredVersion": gv(versions[0]) })
}

pub fn groups(types: &Types) -> Value {
    let groups: Vec<Value> = types
        .group_versions()
        .into_iter()
        .map(|(g, vs)| group_json(g, &vs))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

pub fn group(types: &Types, name: &str) -> Option<Value> {
    let (g, vs) = types
        .group_versions()
        .into_iter()
        .find(|(g, _)| *g == name)?;
    let mut doc = group_json(g, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn subresources(r: &ResourceType) -> Vec<Value> {
    let mut out = Vec::new();
    let sub = |name: &str, kind: &str, verbs: &[&str]| {
        json!({
            "name": format!("{}/{name}", r.plural),
            "singularName": "",
            "namespaced": r.namespaced,
            "kind": kind,
            "verbs": verbs,
        })
    };
    if r.status {
        out.push(sub("status", r.kind, &["get", "patch", "update"]));
    }
    if r.scale {
        let mut s = sub("scale", "Scale", &["get", "patch", "update"]);
        s["group"] = json!("autoscaling");
        s["version"] = json!("v1");
        out.push(s);
    }
    if r.kind == "Service" {
        out.push(sub(
            "proxy",
            "ServiceProxyOptions",
            &["create", "delete", "get", "patch", "update"],
        ));
    }
    if r.kind == "Pod" {
        out.push(sub("log", "Pod", &["get"]));
    }
    out
}

/// `APIResourceList` for one group version, or None if not served.
pub fn resources(types: &Types, group: &str, version: &str) -> Option<Value> {
    let mut list = Vec::new();
    for r in types
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs(),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        list.push(entry);
        list.extend(subresources(r));
    }
    if list.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_lists_carry_subresources_and_short_names() {
        let apps = resources(&Types::default(), "apps", "v1").unwrap();
        let names: Vec<&str> = apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"deployments"));
        assert!(names.contains(&"deployments/scale"));
        assert!(names.contains(&"deployments/status"));
        let core = resources(&Types::default(), "", "v1").unwrap();
        assert_eq!(core["groupVersion"], "v1");
        let svc = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "services")
            .unwrap();
        assert_eq!(svc["shortNames"], json!(["svc"]));
        assert!(resources(&Types::default(), "apps", "v2").is_none());
    }

    #[test]
    fn groups_list_every_served_group() {
        let g = groups(&crate::crd::traffic_types());
        let names: Vec<&str> = g["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        for want in [
            "apps",
            "gateway.networking.k8s.io",
            "networking.istio.io",
            "coordination.k8s.io",
        ] {
            assert!(names.contains(&want), "{want}");
        }
        assert_eq!(
            group(&Types::default(), "apps").unwrap()["preferredVersion"]["groupVersion"],
            "apps/v1"
        );
        assert!(group(&Types::default(), "nope").is_none());
    }
}
