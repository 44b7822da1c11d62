//! Controllers that make the sandbox live, each a level-triggered reconciler
//! over the store's change feed, as kube-controller-manager's are:
//! Deployment → ReplicaSet → Pods, StatefulSet → Pods, DaemonSet → a pod
//! per Node, Job → Pods that run to completion (a kubelet that plays pod
//! lifecycles, failures included) → EndpointSlices and Endpoints; the
//! ControllerRevisions of StatefulSets and DaemonSets (`history`); and
//! garbage collection.
//!
//! They keep a real control plane's timing. A real controller learns of a
//! change through its informer (a watch, then a handler that queues the key)
//! and works its queue later; kube-controller-manager's controllers are
//! milliseconds behind the API server at best, the EndpointSlice controller
//! more. So every change reaches each controller here after
//! [`Settings::controller_delay`](crate::Settings) (jittered), and a key is
//! reconciled once for everything that arrived meanwhile, as a workqueue
//! deduplicates keys. Each controller writes what it computed as a separate
//! write, so a rollout moves its status in steps, each bumping the
//! resourceVersion, and a tool's read can land between any two of them.

pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod gc;
pub mod history;
pub mod job;
pub mod kubelet;
pub mod replicaset;
pub mod statefulset;
pub mod writers;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::cluster::{Cluster, Settings, jittered};
use crate::resources::{self, ResourceType};
use crate::store::{Change, Key};

/// One controller: which objects a change concerns, and how to converge one.
pub trait Reconciler: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Keys to reconcile because of `change`.
    fn keys_for(&self, cluster: &Cluster, change: &Change) -> Vec<Key>;
    /// Every key, for the first pass and after missing changes.
    fn all_keys(&self, cluster: &Cluster) -> Vec<Key>;
    /// Converges one object; `Some(d)` asks to be called again after `d`.
    fn reconcile(&self, cluster: &Cluster, key: &Key) -> Option<Duration>;
    /// How late this controller learns of a change (before jitter).
    fn delay(&self, settings: &Settings) -> Duration {
        settings.controller_delay
    }
}

/// When each key is due: a workqueue with delays. A key queued again before
/// it is due keeps the earlier time, so a burst of changes is one reconcile.
#[derive(Default)]
struct Queue {
    due: BTreeMap<Key, Instant>,
}

impl Queue {
    fn add(&mut self, key: Key, at: Instant) {
        let t = self.due.entry(key).or_insert(at);
        if at < *t {
            *t = at;
        }
    }

    /// Removes and returns the keys due by `now`.
    fn take_due(&mut self, now: Instant) -> Vec<Key> {
        let due: Vec<Key> = self
            .due
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &due {
            self.due.remove(k);
        }
        due
    }

    fn next(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }
}

/// Runs a reconciler until the store's feed closes.
pub async fn run(cluster: Arc<Cluster>, r: impl Reconciler) {
    let mut rx = cluster.store.subscribe();
    let mut queue = Queue::default();
    let start = Instant::now();
    for key in r.all_keys(&cluster) {
        queue.add(key, start);
    }
    let delay = r.delay(&cluster.settings);
    // Each change is delivered `delay` (jittered) after it happened; one
    // delivery time per batch keeps the order of changes to one key.
    let deliver = |queue: &mut Queue, keys: Vec<Key>| {
        let at = Instant::now() + jittered(delay);
        for k in keys {
            queue.add(k, at);
        }
    };
    loop {
        let now = Instant::now();
        for key in queue.take_due(now) {
            if let Some(after) = r.reconcile(&cluster, &key) {
                queue.add(key, Instant::now() + after);
            }
        }
        let next = queue.next();
        tokio::select! {
            change = rx.recv() => match change {
                Ok(c) => deliver(&mut queue, r.keys_for(&cluster, &c)),
                Err(RecvError::Lagged(_)) => deliver(&mut queue, r.all_keys(&cluster)),
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep_until(next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if next.is_some() => {}
        }
        // Batch whatever else arrived.
        let mut keys = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(c) => keys.extend(r.keys_for(&cluster, &c)),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    keys.extend(r.all_keys(&cluster))
                }
                Err(_) => break,
            }
        }
        if !keys.is_empty() {
            deliver(&mut queue, keys);
        }
    }
}

pub(crate) fn res(group: &str, plural: &str) -> &'static ResourceType {
    resources::RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
        .expect("controllers only use served types")
}

/// The pods every workload controller makes.
pub(crate) fn pods() -> &'static ResourceType {
    res("", "pods")
}

/// Whether `obj` is being deleted (a deletionTimestamp: terminating pods,
/// objects held by finalizers).
pub(crate) fn terminating(obj: &Value) -> bool {
    obj["metadata"].get("deletionTimestamp").is_some()
}

/// Every object of `res`: a controller's keys for its first pass.
pub(crate) fn every_key(cluster: &Cluster, res: &'static ResourceType) -> Vec<Key> {
    cluster
        .store
        .list(res, None)
        .0
        .iter()
        .map(|o| key_of(o))
        .collect()
}

/// The key of the `kind` that controls `c`'s object, if one does.
pub(crate) fn owner_key(c: &Change, kind: &str) -> Vec<Key> {
    controller_owner(&c.object, kind)
        .map(|n| vec![(c.namespace().to_string(), n)])
        .unwrap_or_default()
}

pub(crate) fn key_of(obj: &Value) -> Key {
    (
        obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        obj["metadata"]["name"].as_str().unwrap_or("").to_string(),
    )
}

/// The controller owner of `obj` of `kind`, by name.
pub(crate) fn controller_owner(obj: &Value, kind: &str) -> Option<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["kind"] == kind && r["controller"] == true)
        .and_then(|r| r["name"].as_str().map(String::from))
}

pub(crate) fn owned_by(obj: &Value, uid: &str) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
}

pub(crate) fn owner_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Creates `pod` for `owner` and records the controller's
/// `SuccessfulCreate` Event (or `FailedCreate`), worded as `kind`'s
/// controller words it (the StatefulSet controller's own sentence, else
/// `Created pod: NAME`).
pub(crate) fn create_pod(
    cluster: &Cluster,
    owner: &Value,
    api_version: &str,
    kind: &str,
    pod: Value,
) -> bool {
    let owner_name = owner["metadata"]["name"].as_str().unwrap_or("");
    match cluster.store.create(res("", "pods"), pod, false) {
        Ok(p) => {
            let name = p["metadata"]["name"].as_str().unwrap_or("");
            let message = if kind == "StatefulSet" {
                format!("create Pod {name} in StatefulSet {owner_name} successful")
            } else {
                format!("Created pod: {name}")
            };
            pod_event(
                cluster,
                owner,
                api_version,
                kind,
                "Normal",
                "SuccessfulCreate",
                &message,
            );
            true
        }
        Err(e) => {
            pod_event(
                cluster,
                owner,
                api_version,
                kind,
                "Warning",
                "FailedCreate",
                &format!("Error creating: {}", e.message),
            );
            false
        }
    }
}

/// Deletes pod `name` of `owner` (gracefully) and records `SuccessfulDelete`.
pub(crate) fn delete_pod(
    cluster: &Cluster,
    owner: &Value,
    api_version: &str,
    kind: &str,
    name: &str,
) -> bool {
    let ns = owner["metadata"]["namespace"].as_str().unwrap_or("");
    let owner_name = owner["metadata"]["name"].as_str().unwrap_or("");
    if cluster
        .store
        .delete(res("", "pods"), ns, name, None, None, false)
        .is_err()
    {
        return false;
    }
    let message = if kind == "StatefulSet" {
        format!("delete Pod {name} in StatefulSet {owner_name} successful")
    } else {
        format!("Deleted pod: {name}")
    };
    pod_event(
        cluster,
        owner,
        api_version,
        kind,
        "Normal",
        "SuccessfulDelete",
        &message,
    );
    true
}

fn pod_event(
    cluster: &Cluster,
    owner: &Value,
    api_version: &str,
    kind: &str,
    type_: &str,
    reason: &str,
    message: &str,
) {
    let component = match kind {
        "StatefulSet" => "statefulset-controller",
        "DaemonSet" => "daemonset-controller",
        _ => "job-controller",
    };
    crate::events::record(
        cluster,
        owner,
        api_version,
        kind,
        &crate::events::Event {
            type_,
            reason,
            message,
            component,
        },
    );
}

/// Sets condition `type` in `conditions`, keeping lastTransitionTime unless the
/// status flips, as controllers do; returns whether anything changed.
pub(crate) fn set_condition(conditions: &mut Value, cond: Value, now: &str) -> bool {
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("made an array above");
    let same = |a: &Value, b: &Value, k: &str| a[k] == b[k];
    match list.iter_mut().find(|c| c["type"] == cond["type"]) {
        Some(existing) => {
            if same(existing, &cond, "status")
                && same(existing, &cond, "reason")
                && same(existing, &cond, "message")
            {
                return false;
            }
            let mut cond = cond;
            let transition = if same(existing, &cond, "status") {
                existing["lastTransitionTime"].clone()
            } else {
                json!(now)
            };
            cond["lastTransitionTime"] = transition;
            *existing = cond;
            true
        }
        None => {
            let mut cond = cond;
            cond["lastTransitionTime"] = json!(now);
            list.push(cond);
            true
        }
    }
}

/// Starts every controller on the current runtime.
pub fn spawn_all(cluster: &Arc<Cluster>) {
    tokio::spawn(run(
        cluster.clone(),
        deployment::DeploymentController::default(),
    ));
    tokio::spawn(run(cluster.clone(), replicaset::ReplicaSetController));
    tokio::spawn(run(cluster.clone(), statefulset::StatefulSetController));
    tokio::spawn(run(cluster.clone(), daemonset::DaemonSetController));
    tokio::spawn(run(cluster.clone(), job::JobController::default()));
    tokio::spawn(run(cluster.clone(), kubelet::Kubelet::default()));
    tokio::spawn(run(cluster.clone(), endpoints::EndpointsController));
    tokio::spawn(gc::run(cluster.clone()));
    tokio::spawn(writers::run(cluster.clone()));
}
