//! DaemonSet → one pod per Node, as `pkg/controller/daemon` runs it:
//!
//! - `manage`: a node that should run the daemon and has no pod gets one,
//!   bound to it by node affinity (`matchFields metadata.name In [NODE]`, what
//!   `ReplaceDaemonSetPodNodeNameNodeAffinity` writes; the sandbox's kubelet
//!   binds it as the scheduler would), with the daemon tolerations; failed
//!   pods are deleted, and a node with more than one running pod keeps the
//!   oldest. A node whose pod is Terminating gets its new one once it is gone.
//! - `rollingUpdate` (`updateStrategy: RollingUpdate`): without surge, deletes
//!   old pods while fewer than `maxUnavailable` (default 1) nodes are
//!   unavailable, letting `manage` create their replacements; with
//!   `maxSurge`, creates a new pod beside an old one on up to `maxSurge`
//!   nodes and deletes the old one once the new is available. `OnDelete`
//!   replaces a pod only when it is deleted by hand.
//! - Status, from the pods as the sync found them (its informer has not seen
//!   its own writes yet): `desiredNumberScheduled`, `currentNumberScheduled`,
//!   `updatedNumberScheduled`, `numberReady`, `numberAvailable`,
//!   `numberUnavailable`, `numberMisscheduled`, `observedGeneration`.
//!
//! Pods carry `controller-revision-hash` (the revision's hash) and
//! `pod-template-generation` (the DaemonSet's generation).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::deployment::int_or_percent;
use super::history::{self, Owner, POD_REVISION_LABEL};
use super::kubelet::pod_is_ready;
use super::replicaset::availability;
use super::{Reconciler, key_of, owned_by, owner_ref, pods, res, terminating};
use crate::cluster::Cluster;
use crate::selector::LabelSelector;
use crate::store::{Change, Key};

pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

pub struct DaemonSetController;

fn daemonsets() -> &'static crate::resources::ResourceType {
    res("apps", "daemonsets")
}

fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

/// The node a daemon pod is for: its binding, or its affinity before it is bound.
pub fn target_node(pod: &Value) -> Option<String> {
    if let Some(n) = pod["spec"]["nodeName"].as_str() {
        return Some(n.to_string());
    }
    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"]
        .as_array()?
        .iter()
        .flat_map(|t| t["matchFields"].as_array().into_iter().flatten())
        .find(|f| f["key"] == "metadata.name" && f["operator"] == "In")
        .and_then(|f| f["values"][0].as_str())
        .map(String::from)
}

/// `util.IsPodUpdated`: the current hash, or the current template generation.
fn updated(pod: &Value, hash: &str, generation: &Value) -> bool {
    let labels = &pod["metadata"]["labels"];
    labels[POD_REVISION_LABEL] == hash
        || generation
            .as_i64()
            .is_some_and(|g| labels[TEMPLATE_GENERATION_LABEL] == g.to_string().as_str())
}

fn available(pod: &Arc<Value>, min_ready: Duration) -> bool {
    availability(std::slice::from_ref(pod), min_ready).0 == 1
}

/// Whether the DaemonSet's pods belong on `node` (its nodeSelector; the
/// sandbox's nodes have no taints).
fn should_run(ds: &Value, node: &Value) -> bool {
    let Some(sel) = ds["spec"]["template"]["spec"]["nodeSelector"].as_object() else {
        return true;
    };
    sel.iter()
        .all(|(k, v)| node["metadata"]["labels"][k.as_str()] == *v)
}

/// The daemon pod for `node` (`util.CreatePodTemplate` + the node affinity).
fn new_pod(ds: &Value, hash: &str, node: &str) -> Value {
    let tmpl = &ds["spec"]["template"];
    let name = ds["metadata"]["name"].as_str().unwrap_or("ds");
    let mut labels = tmpl["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels[POD_REVISION_LABEL] = json!(hash);
    if let Some(g) = ds["metadata"]["generation"].as_i64() {
        labels[TEMPLATE_GENERATION_LABEL] = json!(g.to_string());
    }
    let mut meta = json!({
        "generateName": format!("{name}-"),
        "namespace": ds["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner_ref(ds, "apps/v1", "DaemonSet")],
    });
    if let Some(a) = tmpl["metadata"].get("annotations") {
        meta["annotations"] = a.clone();
    }
    let mut spec = tmpl["spec"].clone();
    spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{ "matchFields": [
            { "key": "metadata.name", "operator": "In", "values": [node] },
        ]}],
    });
    // `util.AddOrUpdateDaemonPodTolerations`.
    let mut tolerations = spec["tolerations"].as_array().cloned().unwrap_or_default();
    for (key, effect) in [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ] {
        if !tolerations.iter().any(|t| t["key"] == key) {
            tolerations.push(json!({ "key": key, "operator": "Exists", "effect": effect }));
        }
    }
    spec["tolerations"] = json!(tolerations);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": { "phase": "Pending", "qosClass": "BestEffort" },
    })
}

/// Oldest first (`podByCreationTimestampAndPhase`, without the phase).
fn oldest_first(pods: &mut [Arc<Value>]) {
    pods.sort_by(|a, b| {
        let t = |p: &Value| {
            p["metadata"]["creationTimestamp"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        t(a).cmp(&t(b)).then_with(|| rv_of(a).cmp(&rv_of(b)))
    });
}

fn rv_of(p: &Value) -> u64 {
    p["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A node's new and old daemon pod.
type NewAndOld = (Option<Arc<Value>>, Option<Arc<Value>>);

/// `findUpdatedPodsOnNode`: the node's one new and one old live pod, or
/// None when it has more than one of either.
fn new_and_old(pods: &[Arc<Value>], hash: &str, generation: &Value) -> Option<NewAndOld> {
    let (mut new, mut old) = (None, None);
    for p in pods.iter().filter(|p| !terminating(p)) {
        let slot = if updated(p, hash, generation) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p.clone());
    }
    Some((new, old))
}

impl Reconciler for DaemonSetController {
    fn name(&self) -> &'static str {
        "daemonset"
    }

    fn keys_for(&self, cluster: &Cluster, c: &Change) -> Vec<Key> {
        match c.res.plural {
            "daemonsets" => vec![key_of(&c.object)],
            "pods" | "controllerrevisions" => super::owner_key(c, "DaemonSet"),
            "nodes" => self.all_keys(cluster),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self, cluster: &Cluster) -> Vec<Key> {
        super::every_key(cluster, daemonsets())
    }

    fn reconcile(&self, cluster: &Cluster, (ns, name): &Key) -> Option<Duration> {
        let ds = cluster.store.get(daemonsets(), ns, name)?;
        if terminating(&ds) {
            return None;
        }
        let uid = ds["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let generation = ds["metadata"]["generation"].clone();
        let min_ready = Duration::from_secs(ds["spec"]["minReadySeconds"].as_u64().unwrap_or(0));
        let (cur, revs) = history::current(cluster, &ds, Owner::DaemonSet)?;
        let hash = history::hash_of(&cur);
        let nodes = cluster.store.list(res("", "nodes"), None).0;
        let selector = LabelSelector::from_json(ds["spec"].get("selector")).ok();
        let owned: Vec<Arc<Value>> = cluster
            .store
            .list(pods(), Some(ns))
            .0
            .into_iter()
            .filter(|p| owned_by(p, &uid))
            .filter(|p| {
                selector
                    .as_ref()
                    .is_some_and(|s| s.matches(p["metadata"].get("labels")))
            })
            .collect();
        // `getNodesToDaemonPods(includeDeletedTerminal=false)`.
        let mut by_node: BTreeMap<String, Vec<Arc<Value>>> = BTreeMap::new();
        for p in &owned {
            let gone = terminating(p) && matches!(phase(p), "Succeeded" | "Failed");
            if let Some(n) = target_node(p).filter(|_| !gone) {
                by_node.entry(n).or_default().push(p.clone());
            }
        }
        for list in by_node.values_mut() {
            oldest_first(list);
        }

        // The status, from the pods as found (`updateDaemonSetStatus`).
        let (mut desired, mut current, mut misscheduled) = (0i64, 0i64, 0i64);
        let (mut ready, mut avail, mut updated_n) = (0i64, 0i64, 0i64);
        let mut next: Option<Duration> = None;
        for node in &nodes {
            let nname = node["metadata"]["name"].as_str().unwrap_or("");
            let on = by_node.get(nname).map(Vec::as_slice).unwrap_or(&[]);
            if should_run(&ds, node) {
                desired += 1;
                let Some(p) = on.first() else { continue };
                current += 1;
                if pod_is_ready(p) {
                    ready += 1;
                    let (ok, later) = availability(std::slice::from_ref(p), min_ready);
                    if ok == 1 {
                        avail += 1;
                    } else {
                        next = later.or(next);
                    }
                }
                if updated(p, &hash, &generation) {
                    updated_n += 1;
                }
            } else if !on.is_empty() {
                misscheduled += 1;
            }
        }

        // `manage`.
        let surge_allowed = ds["spec"]["updateStrategy"]["type"] == "RollingUpdate"
            && int_or_percent(
                ds["spec"]["updateStrategy"]["rollingUpdate"]
                    .get("maxSurge")
                    .unwrap_or(&json!(0)),
                desired,
                true,
            ) > 0;
        let mut create: Vec<String> = Vec::new();
        let mut delete: Vec<Arc<Value>> = Vec::new();
        for node in &nodes {
            let nname = node["metadata"]["name"].as_str().unwrap_or("").to_string();
            let on = by_node.get(&nname).cloned().unwrap_or_default();
            if !should_run(&ds, node) {
                delete.extend(on.into_iter().filter(|p| !terminating(p)));
                continue;
            }
            if on.is_empty() {
                create.push(nname);
                continue;
            }
            let mut running = Vec::new();
            for p in on.into_iter().filter(|p| !terminating(p)) {
                if matches!(phase(&p), "Failed" | "Succeeded") {
                    delete.push(p);
                } else {
                    running.push(p);
                }
            }
            if !surge_allowed {
                if running.len() > 1 {
                    delete.extend(running.drain(1..));
                }
                continue;
            }
            if running.is_empty() {
                create.push(nname);
            } else if running.len() > 1 {
                // Two pods only while the new one is not ready and the old one is.
                let new = running
                    .iter()
                    .find(|p| updated(p, &hash, &generation))
                    .cloned();
                let old = running
                    .iter()
                    .find(|p| !updated(p, &hash, &generation))
                    .cloned();
                let keep: Vec<&Arc<Value>> = match (&new, &old) {
                    (Some(n), Some(o)) if !pod_is_ready(n) && pod_is_ready(o) => vec![n, o],
                    (Some(n), _) => vec![n],
                    (None, Some(o)) => vec![o],
                    (None, None) => vec![],
                };
                for p in &running {
                    if !keep
                        .iter()
                        .any(|k| k["metadata"]["uid"] == p["metadata"]["uid"])
                    {
                        delete.push(p.clone());
                    }
                }
            }
        }

        // `rollingUpdate`. A node that should run the daemon and has no pod
        // counts as unavailable (`updatedDesiredNodeCounts`).
        for node in nodes.iter().filter(|n| should_run(&ds, n)) {
            let nname = node["metadata"]["name"].as_str().unwrap_or("");
            by_node.entry(nname.to_string()).or_default();
        }
        if ds["spec"]["updateStrategy"]["type"] == "RollingUpdate" {
            let ru = &ds["spec"]["updateStrategy"]["rollingUpdate"];
            let max_surge = int_or_percent(ru.get("maxSurge").unwrap_or(&json!(0)), desired, true);
            let mut max_unavailable =
                int_or_percent(ru.get("maxUnavailable").unwrap_or(&json!(1)), desired, true);
            if max_surge == 0 && max_unavailable == 0 {
                max_unavailable = 1;
            }
            if max_surge == 0 {
                let mut unavailable = 0;
                let mut replace = Vec::new();
                let mut candidates = Vec::new();
                for pods_on in by_node.values() {
                    let Some((new, old)) = new_and_old(pods_on, &hash, &generation) else {
                        unavailable += 1;
                        continue;
                    };
                    match (new, old) {
                        (None, None) | (Some(_), Some(_)) => unavailable += 1,
                        (Some(n), None) => {
                            if !available(&n, min_ready) {
                                unavailable += 1;
                            }
                        }
                        (None, Some(o)) => {
                            if !available(&o, min_ready) {
                                replace.push(o);
                            } else if unavailable < max_unavailable {
                                candidates.push(o);
                            }
                        }
                    }
                }
                let room = (max_unavailable - unavailable).max(0) as usize;
                delete.extend(replace);
                delete.extend(candidates.into_iter().take(room));
            } else {
                let mut surging = 0;
                let mut allowed = Vec::new();
                let mut candidates = Vec::new();
                for (nname, pods_on) in &by_node {
                    let Some((new, old)) = new_and_old(pods_on, &hash, &generation) else {
                        surging += 1;
                        continue;
                    };
                    match (new, old) {
                        (_, None) => {}
                        (None, Some(o)) => {
                            if !available(&o, min_ready) {
                                allowed.push(nname.clone());
                            } else if surging < max_surge {
                                candidates.push(nname.clone());
                            }
                        }
                        (Some(n), Some(o)) => {
                            if available(&n, min_ready) {
                                delete.push(o);
                            } else {
                                surging += 1;
                            }
                        }
                    }
                }
                let room = (max_surge - surging).max(0) as usize;
                create.extend(allowed);
                create.extend(candidates.into_iter().take(room));
            }
        }

        // `syncNodes`: deletions, then creations.
        let mut deleted = std::collections::HashSet::new();
        for p in &delete {
            let uid = p["metadata"]["uid"].as_str().unwrap_or("").to_string();
            if deleted.insert(uid) {
                let pname = p["metadata"]["name"].as_str().unwrap_or("");
                super::delete_pod(cluster, &ds, "apps/v1", "DaemonSet", pname);
            }
        }
        create.sort();
        create.dedup();
        for node in &create {
            super::create_pod(
                cluster,
                &ds,
                "apps/v1",
                "DaemonSet",
                new_pod(&ds, &hash, node),
            );
        }

        // History: keep revisionHistoryLimit besides those pods run.
        let mut live: Vec<String> = owned
            .iter()
            .filter_map(|p| p["metadata"]["labels"][POD_REVISION_LABEL].as_str())
            .map(String::from)
            .collect();
        live.push(hash.clone());
        let limit = ds["spec"]["revisionHistoryLimit"]
            .as_i64()
            .unwrap_or(10)
            .max(0) as usize;
        history::truncate(cluster, &revs, &live, limit);

        let mut status = json!({
            "observedGeneration": generation,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "updatedNumberScheduled": updated_n,
            "numberAvailable": avail,
            "numberUnavailable": desired - avail,
        });
        // omitempty in apps/v1 DaemonSetStatus.
        for field in [
            "updatedNumberScheduled",
            "numberAvailable",
            "numberUnavailable",
        ] {
            if status[field] == 0 {
                status.as_object_mut().map(|m| m.remove(field));
            }
        }
        for field in ["collisionCount", "conditions"] {
            if let Some(v) = ds["status"].get(field) {
                status[field] = v.clone();
            }
        }
        let _ = cluster.store.update(daemonsets(), ns, name, false, |cur| {
            let mut n = (**cur).clone();
            n["status"] = status;
            Ok(n)
        });
        next.map(|d| d.max(Duration::from_millis(10)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_pods_are_bound_by_affinity_and_tolerate_node_trouble() {
        let ds = json!({"metadata": {"name": "agent", "namespace": "default", "uid": "u", "generation": 3},
            "spec": {"template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": []}}}});
        let p = new_pod(&ds, "h4sh", "sandbox-node-2");
        assert_eq!(target_node(&p).as_deref(), Some("sandbox-node-2"));
        assert!(p["spec"].get("nodeName").is_none());
        assert_eq!(p["metadata"]["labels"][POD_REVISION_LABEL], "h4sh");
        assert_eq!(p["metadata"]["labels"][TEMPLATE_GENERATION_LABEL], "3");
        assert_eq!(p["metadata"]["generateName"], "agent-");
        let tolerations = p["spec"]["tolerations"].as_array().unwrap();
        assert!(
            tolerations
                .iter()
                .any(|t| t["key"] == "node.kubernetes.io/unreachable")
        );
        assert!(updated(&p, "h4sh", &json!(1)));
        assert!(
            updated(&p, "other", &json!(3)),
            "the template generation counts too"
        );
        assert!(!updated(&p, "other", &json!(4)));
    }
}
