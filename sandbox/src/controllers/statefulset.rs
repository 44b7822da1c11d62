//! StatefulSet → Pods `NAME-0..N-1`, as `pkg/controller/statefulset`'s
//! `updateStatefulSet` makes them:
//!
//! - `podManagementPolicy: OrderedReady` creates one pod at a time, in
//!   ordinal order, each once the one before is Running and Ready (and
//!   available for `minReadySeconds`), and scales down from the highest
//!   ordinal, one at a time, only while every pod is healthy; `Parallel`
//!   creates and deletes without waiting.
//! - `updateStrategy: RollingUpdate` deletes the highest ordinal not at the
//!   update revision, waits for its replacement to be Running and Ready, and
//!   goes down to `partition` (ordinals below it keep, and are recreated at,
//!   the current revision); `OnDelete` replaces nothing: a pod deleted by
//!   hand comes back at the update revision.
//! - A pod that is Terminating is counted in `replicas` but not as current
//!   or updated, and its ordinal is recreated only once it is gone.
//!
//! Revisions are ControllerRevisions (`history`): pods carry the revision's
//! name as `controller-revision-hash`; `status.currentRevision` moves to the
//! update revision once every pod is updated and ready (`completeRollingUpdate`;
//! never under OnDelete). Each sync makes its pod writes, then one status
//! write computed as the real controller does (`computeReplicaStatus`, then
//! the sync's own creations and deletions).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::history::{self, Owner, POD_REVISION_LABEL};
use super::kubelet::{pod_is_ready, pod_is_running};
use super::replicaset::availability;
use super::{Reconciler, key_of, owned_by, owner_ref, pods, res, terminating};
use crate::cluster::Cluster;
use crate::store::{Change, Key};

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

pub struct StatefulSetController;

fn statefulsets() -> &'static crate::resources::ResourceType {
    res("apps", "statefulsets")
}

fn terminal(p: &Value) -> bool {
    p["status"]["phase"] == "Failed" || p["status"]["phase"] == "Succeeded"
}

fn revision_of(p: &Value) -> &str {
    p["metadata"]["labels"][POD_REVISION_LABEL]
        .as_str()
        .unwrap_or("")
}

/// `isRunningAndReady`.
fn running_and_ready(p: &Value) -> bool {
    pod_is_running(p) && pod_is_ready(p)
}

/// The ordinal of `pod` in set `name`, from its name `NAME-N`.
fn ordinal(set: &str, pod: &Value) -> Option<usize> {
    pod["metadata"]["name"]
        .as_str()?
        .strip_prefix(set)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

/// Pod `NAME-i` from `template` at `revision` (`newVersionedStatefulSetPod`).
fn new_pod(set: &Value, template: &Value, revision: &str, i: usize) -> Value {
    let name = format!("{}-{i}", set["metadata"]["name"].as_str().unwrap_or(""));
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels[POD_REVISION_LABEL] = json!(revision);
    labels[POD_NAME_LABEL] = json!(name);
    labels[POD_INDEX_LABEL] = json!(i.to_string());
    let mut meta = json!({
        "name": name,
        "namespace": set["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner_ref(set, "apps/v1", "StatefulSet")],
    });
    if let Some(a) = template["metadata"].get("annotations") {
        meta["annotations"] = a.clone();
    }
    let mut spec = template["spec"].clone();
    spec["hostname"] = json!(name);
    if let Some(svc) = set["spec"]["serviceName"]
        .as_str()
        .filter(|s| !s.is_empty())
    {
        spec["subdomain"] = json!(svc);
    }
    spec["nodeName"] = json!(super::kubelet::NODE_NAME);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": { "phase": "Pending", "qosClass": "BestEffort" },
    })
}

/// The counts of `computeReplicaStatus`.
#[derive(Default, Debug)]
struct Counts {
    replicas: i64,
    ready: i64,
    available: i64,
    current: i64,
    updated: i64,
}

fn count(pods: &[Arc<Value>], min_ready: Duration, current: &str, update: &str) -> Counts {
    let mut c = Counts::default();
    for p in pods {
        c.replicas += 1;
        if running_and_ready(p) {
            c.ready += 1;
            if availability(std::slice::from_ref(p), min_ready).0 == 1 {
                c.available += 1;
            }
        }
        if !terminating(p) {
            if revision_of(p) == current {
                c.current += 1;
            }
            if revision_of(p) == update {
                c.updated += 1;
            }
        }
    }
    c
}

impl Reconciler for StatefulSetController {
    fn name(&self) -> &'static str {
        "statefulset"
    }

    fn keys_for(&self, _: &Cluster, c: &Change) -> Vec<Key> {
        match c.res.plural {
            "statefulsets" => vec![key_of(&c.object)],
            "pods" | "controllerrevisions" => super::owner_key(c, "StatefulSet"),
            _ => Vec::new(),
        }
    }

    fn all_keys(&self, cluster: &Cluster) -> Vec<Key> {
        super::every_key(cluster, statefulsets())
    }

    fn reconcile(&self, cluster: &Cluster, (ns, name): &Key) -> Option<Duration> {
        let set = cluster.store.get(statefulsets(), ns, name)?;
        if terminating(&set) {
            return None;
        }
        let uid = set["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let replicas = set["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        let monotonic = set["spec"]["podManagementPolicy"] != "Parallel";
        let strategy = &set["spec"]["updateStrategy"];
        let rolling = strategy["type"] != "OnDelete";
        let partition = if rolling {
            strategy["rollingUpdate"]["partition"]
                .as_i64()
                .unwrap_or(0)
                .max(0) as usize
        } else {
            0
        };
        let min_ready = Duration::from_secs(set["spec"]["minReadySeconds"].as_u64().unwrap_or(0));

        let (update_rev, revs) = history::current(cluster, &set, Owner::StatefulSet)?;
        let update_name = history::name_of(&update_rev).to_string();
        let current_rev = set["status"]["currentRevision"]
            .as_str()
            .and_then(|n| revs.iter().find(|r| history::name_of(r) == n))
            .cloned()
            .unwrap_or_else(|| update_rev.clone());
        let current_name = history::name_of(&current_rev).to_string();

        let owned: Vec<Arc<Value>> = cluster
            .store
            .list(pods(), Some(ns))
            .0
            .into_iter()
            .filter(|p| owned_by(p, &uid))
            .collect();
        let mut slots: Vec<Option<Arc<Value>>> = vec![None; replicas];
        let mut condemned: Vec<(usize, Arc<Value>)> = Vec::new();
        for p in &owned {
            match ordinal(name, p) {
                Some(i) if i < replicas => slots[i] = Some(p.clone()),
                Some(i) => condemned.push((i, p.clone())),
                None => {}
            }
        }
        condemned.sort_by_key(|(i, _)| std::cmp::Reverse(*i));
        let mut c = count(&owned, min_ready, &current_name, &update_name);

        // One pass of `updateStatefulSet`: `break 'sync` is its early return.
        let mut requeue: Option<Duration> = None;
        'sync: {
            #[allow(clippy::needless_range_loop)] // `slots[i]` is replaced in the loop
            for i in 0..replicas {
                if let Some(p) = slots[i].clone()
                    && terminal(&p)
                    && !terminating(&p)
                {
                    // A failed pod is replaced (`isFailed` → delete, recreate).
                    let pname = p["metadata"]["name"].as_str().unwrap_or("");
                    if super::delete_pod(cluster, &set, "apps/v1", "StatefulSet", pname) {
                        c.replicas -= 1;
                        if revision_of(&p) == current_name {
                            c.current -= 1;
                        }
                        if revision_of(&p) == update_name {
                            c.updated -= 1;
                        }
                        slots[i] = None;
                    }
                }
                let Some(p) = slots[i].clone() else {
                    // Below the partition, a pod comes back at the current revision.
                    let (template, rev) = if rolling && i < partition {
                        (history::template_of(&current_rev), current_name.as_str())
                    } else {
                        (set["spec"]["template"].clone(), update_name.as_str())
                    };
                    if super::create_pod(
                        cluster,
                        &set,
                        "apps/v1",
                        "StatefulSet",
                        new_pod(&set, &template, rev, i),
                    ) {
                        c.replicas += 1;
                        if rev == current_name {
                            c.current += 1;
                        }
                        if rev == update_name {
                            c.updated += 1;
                        }
                    }
                    if monotonic {
                        break 'sync;
                    }
                    continue;
                };
                if monotonic {
                    if terminating(&p) || !running_and_ready(&p) {
                        break 'sync;
                    }
                    let (ok, next) = availability(std::slice::from_ref(&p), min_ready);
                    if ok == 0 {
                        requeue = next;
                        break 'sync;
                    }
                }
            }
            let first_unhealthy = slots
                .iter()
                .flatten()
                .chain(condemned.iter().rev().map(|(_, p)| p))
                .find(|p| terminating(p) || !running_and_ready(p))
                .cloned();
            for (_, p) in &condemned {
                if terminating(p) {
                    if monotonic {
                        break 'sync;
                    }
                    continue;
                }
                if monotonic
                    && first_unhealthy
                        .as_ref()
                        .is_some_and(|u| u["metadata"]["uid"] != p["metadata"]["uid"])
                {
                    break 'sync;
                }
                let pname = p["metadata"]["name"].as_str().unwrap_or("");
                if super::delete_pod(cluster, &set, "apps/v1", "StatefulSet", pname) {
                    if revision_of(p) == current_name {
                        c.current -= 1;
                    }
                    if revision_of(p) == update_name {
                        c.updated -= 1;
                    }
                }
                if monotonic {
                    break 'sync;
                }
            }
            if !rolling {
                break 'sync;
            }
            for target in (partition..replicas).rev() {
                let Some(p) = &slots[target] else {
                    break 'sync;
                };
                if revision_of(p) != update_name && !terminating(p) {
                    let pname = p["metadata"]["name"].as_str().unwrap_or("");
                    if super::delete_pod(cluster, &set, "apps/v1", "StatefulSet", pname)
                        && revision_of(p) == current_name
                    {
                        c.current -= 1;
                    }
                    break 'sync;
                }
                if terminating(p) || !running_and_ready(p) {
                    break 'sync;
                }
            }
        }

        // `completeRollingUpdate`: every pod updated and ready.
        let (mut status_current, mut status_current_replicas) = (current_name.clone(), c.current);
        if rolling && c.updated == c.replicas && c.ready == c.replicas {
            status_current = update_name.clone();
            status_current_replicas = c.updated;
        }
        let mut status = json!({
            "observedGeneration": set["metadata"]["generation"],
            "replicas": c.replicas,
            "readyReplicas": c.ready,
            "currentReplicas": status_current_replicas,
            "updatedReplicas": c.updated,
            "availableReplicas": c.available,
            "currentRevision": status_current,
            "updateRevision": update_name,
            "collisionCount": set["status"]["collisionCount"].as_i64().unwrap_or(0),
        });
        // omitempty in apps/v1 StatefulSetStatus.
        for field in ["readyReplicas", "currentReplicas", "updatedReplicas"] {
            if status[field] == 0 {
                status.as_object_mut().map(|m| m.remove(field));
            }
        }
        if let Some(conds) = set["status"].get("conditions") {
            status["conditions"] = conds.clone();
        }
        let _ = cluster
            .store
            .update(statefulsets(), ns, name, false, |cur| {
                let mut n = (**cur).clone();
                n["status"] = status;
                Ok(n)
            });

        // Keep revisionHistoryLimit revisions besides those in use.
        let mut live: Vec<String> = owned.iter().map(|p| revision_of(p).to_string()).collect();
        live.push(update_name);
        live.push(status_current);
        live.push(current_name);
        let limit = set["spec"]["revisionHistoryLimit"]
            .as_i64()
            .unwrap_or(10)
            .max(0) as usize;
        history::truncate(cluster, &revs, &live, limit);
        requeue.map(|d| d.max(Duration::from_millis(10)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_come_from_pod_names() {
        let p = |n: &str| json!({"metadata": {"name": n}});
        assert_eq!(ordinal("db", &p("db-0")), Some(0));
        assert_eq!(ordinal("db", &p("db-12")), Some(12));
        assert_eq!(ordinal("db", &p("db-x")), None);
        assert_eq!(ordinal("db", &p("dbx-1")), None);
    }

    #[test]
    fn new_pods_carry_identity_and_revision() {
        let set = json!({"metadata": {"name": "db", "namespace": "default", "uid": "u"}, "spec": {"serviceName": "db"}});
        let t = json!({"metadata": {"labels": {"app": "db"}, "annotations": {"a": "b"}}, "spec": {"containers": []}});
        let p = new_pod(&set, &t, "db-abc", 2);
        assert_eq!(p["metadata"]["name"], "db-2");
        assert_eq!(p["metadata"]["labels"][POD_REVISION_LABEL], "db-abc");
        assert_eq!(p["metadata"]["labels"][POD_NAME_LABEL], "db-2");
        assert_eq!(p["metadata"]["labels"][POD_INDEX_LABEL], "2");
        assert_eq!(p["metadata"]["annotations"]["a"], "b");
        assert_eq!(p["spec"]["hostname"], "db-2");
        assert_eq!(p["spec"]["subdomain"], "db");
    }
}
