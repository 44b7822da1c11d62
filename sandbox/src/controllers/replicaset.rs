//! ReplicaSet → Pods: keeps `spec.replicas` pods and reports how many are ready.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Reconciler, controller_owner, key_of, owned_by, owner_ref, res};
use crate::cluster::Cluster;
use crate::controllers::kubelet::{pod_is_ready, pod_is_running};
use crate::store::{Change, Key, random_suffix};

pub struct ReplicaSetController;

fn replicasets() -> &'static crate::resources::ResourceType {
    res("apps", "replicasets")
}

fn pods() -> &'static crate::resources::ResourceType {
    res("", "pods")
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
            "pods" => controller_owner(&c.object, "ReplicaSet")
                .map(|name| vec![(c.namespace().to_string(), name)])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self, cluster: &Cluster) -> Vec<Key> {
        cluster
            .store
            .list(replicasets(), None)
            .0
            .iter()
            .map(|o| key_of(o))
            .collect()
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
        let ready = owned.iter().filter(|p| pod_is_ready(p)).count();
        let status = json!({
            "replicas": owned.len(),
            "fullyLabeledReplicas": owned.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"]["generation"],
        });
        let _ = cluster.store.update(replicasets(), ns, name, false, |cur| {
            let mut n = (**cur).clone();
            n["status"] = status;
            Ok(n)
        });
        None
    }
}
