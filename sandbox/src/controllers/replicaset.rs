//! ReplicaSet → Pods: keeps `spec.replicas` pods and reports how many are ready.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Reconciler, key_of, owned_by, owner_ref, pods, res};
use crate::cluster::Cluster;
use crate::controllers::kubelet::{pod_is_ready, pod_is_running};
use crate::store::{Change, Key, random_suffix};

pub struct ReplicaSetController;

fn replicasets() -> &'static crate::resources::ResourceType {
    res("apps", "replicasets")
}

/// The pod a ReplicaSet makes from its template.
fn new_pod(rs: &Value) -> Value {
    let tmpl = &rs["spec"]["template"];
    let name = rs["metadata"]["name"].as_str().unwrap_or("rs");
    let mut meta = json!({
        "name": format!("{name}-{}", random_suffix(5)),
        "namespace": rs["metadata"]["namespace"],
        "labels": tmpl["metadata"]["labels"],
        "ownerReferences": [owner_ref(rs, "apps/v1", "ReplicaSet")],
    });
    if let Some(a) = tmpl["metadata"].get("annotations") {
        meta["annotations"] = a.clone();
    }
    let mut spec = tmpl["spec"].clone();
    spec["nodeName"] = json!(super::kubelet::NODE_NAME);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": { "phase": "Pending", "qosClass": "BestEffort" },
    })
}

impl Reconciler for ReplicaSetController {
    fn name(&self) -> &'static str {
        "replicaset"
    }

    fn keys_for(&self, _: &Cluster, c: &Change) -> Vec<Key> {
        match c.res.plural {
            "replicasets" => vec![key_of(&c.object)],
            "pods" => super::owner_key(c, "ReplicaSet"),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self, cluster: &Cluster) -> Vec<Key> {
        super::every_key(cluster, replicasets())
    }

    fn reconcile(&self, cluster: &Cluster, (ns, name): &Key) -> Option<Duration> {
        let rs = cluster.store.get(replicasets(), ns, name)?;
        let uid = rs["metadata"]["uid"].as_str().unwrap_or("");
        let mut owned: Vec<_> = cluster
            .store
            .list(pods(), Some(ns))
            .0
            .into_iter()
            .filter(|p| owned_by(p, uid) && p["metadata"].get("deletionTimestamp").is_none())
            .collect();
        let want = rs["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
        // The status counts the pods as this sync found them, before it made
        // or deleted any: the real controller computes it from its informer's
        // cache, which has not seen its own creations yet, so the counts
        // catch up one sync later, in a write of their own.
        let min_ready = Duration::from_secs(rs["spec"]["minReadySeconds"].as_u64().unwrap_or(0));
        let found = owned.len();
        let ready = owned.iter().filter(|p| pod_is_ready(p)).count();
        let (available, next) = availability(&owned, min_ready);
        if rs["metadata"].get("deletionTimestamp").is_none() {
            if owned.len() < want {
                for _ in owned.len()..want {
                    if let Ok(p) = cluster.store.create(pods(), new_pod(&rs), false) {
                        owned.push(p);
                    }
                }
            } else if owned.len() > want {
                // Not-ready pods go first, then the newest: what the real
                // controller's ranking amounts to here.
                owned.sort_by_key(|p| {
                    (
                        pod_is_ready(p),
                        pod_is_running(p),
                        std::cmp::Reverse(
                            p["metadata"]["creationTimestamp"]
                                .as_str()
                                .unwrap_or("")
                                .to_string(),
                        ),
                    )
                });
                let extra = owned.len() - want;
                for p in owned.drain(..extra) {
                    let pname = p["metadata"]["name"].as_str().unwrap_or("");
                    let _ = cluster.store.delete(pods(), ns, pname, None, None, false);
                }
            }
        }
        let mut status = json!({
            "replicas": found,
            "fullyLabeledReplicas": found,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": rs["metadata"]["generation"],
        });
        for field in ["readyReplicas", "availableReplicas", "fullyLabeledReplicas"] {
            if status[field] == 0 {
                status.as_object_mut().map(|m| m.remove(field));
            }
        }
        let _ = cluster.store.update(replicasets(), ns, name, false, |cur| {
            let mut n = (**cur).clone();
            n["status"] = status;
            Ok(n)
        });
        next
    }
}

/// How many of `pods` are available (Ready for at least `min_ready`, from
/// the Ready condition's lastTransitionTime, as `podutil.IsPodAvailable`
/// reckons), and when the next one will be.
pub(crate) fn availability(
    pods: &[std::sync::Arc<Value>],
    min_ready: Duration,
) -> (usize, Option<Duration>) {
    if min_ready.is_zero() {
        return (pods.iter().filter(|p| pod_is_ready(p)).count(), None);
    }
    let now = jiff::Timestamp::now();
    let mut available = 0;
    let mut next: Option<Duration> = None;
    for p in pods.iter().filter(|p| pod_is_ready(p)) {
        let since = p["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
            .and_then(|c| c["lastTransitionTime"].as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        let ready_for = since
            .map(|t| now.duration_since(t).unsigned_abs())
            .unwrap_or_default();
        if ready_for >= min_ready {
            available += 1;
        } else {
            let left = min_ready - ready_for;
            next = Some(next.map_or(left, |n| n.min(left)));
        }
    }
    (available, next)
}
