//! The other writers of a real cluster. Besides kube-controller-manager, a
//! cluster runs controllers that write the status of the very objects a
//! release changes: a Gateway controller writes each HTTPRoute's
//! `status.parents`, ingress-nginx an Ingress's `status.loadBalancer`, Istio a
//! VirtualService's conditions, operators and HPAs their own conditions on
//! Deployments. Each such write bumps the resourceVersion, so a client that
//! guards its write with the resourceVersion it read loses to them.
//!
//! The fault `status-writer=RESOURCE,interval=DURATION` imitates one: every
//! interval it rewrites the status of every object of that resource, each a
//! separate write. What it writes is shaped like the real writer's status
//! and carries a sync counter, so that every rewrite is a change (the API
//! server keeps the resourceVersion of a write that changes nothing).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::resources::{self, ResourceType};
use crate::store::now;

/// The status a writer of `res` sets, at sync `n`, on `obj`.
fn status_of(res: &ResourceType, obj: &Value, n: u64) -> Value {
    let ts = now();
    let generation = obj["metadata"]["generation"].clone();
    let mut status = if obj["status"].is_object() {
        obj["status"].clone()
    } else {
        json!({})
    };
    match res.plural {
        "httproutes" => {
            let parents: Vec<Value> = obj["spec"]["parentRefs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|parent| {
                    json!({
                        "parentRef": parent,
                        "controllerName": "sandbox.switchyard.dev/gateway-controller",
                        "conditions": [
                            { "type": "Accepted", "status": "True", "reason": "Accepted",
                              "message": format!("Route is accepted (sync {n})"),
                              "observedGeneration": generation, "lastTransitionTime": ts },
                            { "type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs",
                              "message": "Resolved all the Object references for the Route",
                              "observedGeneration": generation, "lastTransitionTime": ts },
                        ],
                    })
                })
                .collect();
            status["parents"] = json!(parents);
        }
        "ingresses" => {
            status["loadBalancer"] = json!({
                "ingress": [{ "ip": "172.18.0.10", "hostname": format!("sync-{n}.lb.sandbox.local") }]
            });
        }
        _ => {
            let cond = json!({
                "type": "SandboxStatusWriter",
                "status": "True",
                "reason": "Rewritten",
                "message": format!("status rewritten by another controller (sync {n})"),
                "lastTransitionTime": ts,
            });
            let mut conds: Vec<Value> = status["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c["type"] != "SandboxStatusWriter")
                .collect();
            conds.push(cond);
            status["conditions"] = json!(conds);
            if res.plural == "virtualservices" {
                status["observedGeneration"] = generation;
            }
        }
    }
    status
}

/// The served type of `plural`: built in, or defined by a CRD (HTTPRoutes and
/// VirtualServices are, as on a real server; a writer of a type with no
/// definition waits for one).
fn find(cluster: &Cluster, plural: &str) -> Option<&'static ResourceType> {
    cluster
        .types
        .all()
        .into_iter()
        .find(|r| r.plural == plural && r.conversion == resources::Conversion::None)
}

/// Rewrites the status of every object of `res`, one write each.
fn rewrite_all(cluster: &Cluster, res: &'static ResourceType, n: u64) {
    for obj in cluster.store.list(res, None).0 {
        let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
        let name = obj["metadata"]["name"].as_str().unwrap_or("");
        if obj["metadata"].get("deletionTimestamp").is_some() {
            continue;
        }
        let _ = cluster.store.update(res, ns, name, false, |cur| {
            let mut next = (**cur).clone();
            next["status"] = status_of(res, cur, n);
            Ok(next)
        });
    }
}

/// Runs the status writers the faults name, added or removed at any time,
/// until the runtime ends.
pub async fn run(cluster: Arc<Cluster>) {
    let mut last: HashMap<String, Instant> = HashMap::new();
    let mut syncs: u64 = 0;
    loop {
        let writers = cluster.faults.status_writers();
        let now = Instant::now();
        let mut next = now + Duration::from_millis(50);
        for (plural, every) in &writers {
            let due = last.get(plural).is_none_or(|t| now >= *t + *every);
            if due {
                if let Some(res) = find(&cluster, plural) {
                    syncs += 1;
                    rewrite_all(&cluster, res, syncs);
                }
                last.insert(plural.clone(), now);
            }
            let at = last.get(plural).copied().unwrap_or(now) + *every;
            next = next.min(at);
        }
        last.retain(|p, _| writers.iter().any(|(w, _)| w == p));
        tokio::time::sleep_until(next.max(now + Duration::from_millis(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rewrite_changes_the_status() {
        let route = &ResourceType {
            custom: true,
            ..resources::rt(
                "gateway.networking.k8s.io",
                "v1",
                "httproutes",
                "httproute",
                "HTTPRoute",
                true,
            )
        };
        let find = |plural: &str| {
            resources::RESOURCES
                .iter()
                .find(|r| r.plural == plural && r.conversion == resources::Conversion::None)
        };
        let obj = json!({"metadata": {"generation": 2}, "spec": {"parentRefs": [{"name": "gw"}]}});
        let a = status_of(route, &obj, 1);
        let b = status_of(route, &obj, 2);
        assert_ne!(a, b);
        assert_eq!(a["parents"][0]["parentRef"]["name"], "gw");
        assert_eq!(a["parents"][0]["conditions"][0]["observedGeneration"], 2);
        let deploy = find("deployments").expect("served");
        let d = json!({"status": {"conditions": [{"type": "Available", "status": "True"}]}});
        let s = status_of(deploy, &d, 7);
        let types: Vec<&str> = s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["type"].as_str())
            .collect();
        assert_eq!(types, ["Available", "SandboxStatusWriter"]);
        let ing = find("ingresses").expect("served");
        assert_ne!(status_of(ing, &json!({}), 1), status_of(ing, &json!({}), 2));
    }
}
