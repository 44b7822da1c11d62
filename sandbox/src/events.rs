//! Events the controllers record, as client-go's `record.EventRecorder` of
//! kube-controller-manager writes them: core `v1` Events (which `kubectl
//! describe` lists by `involvedObject`), named `NAME.HEXNANOS`, and an event
//! repeated with the same reason and message counted on the first one
//! (tools/record/events_cache.go) instead of written again.

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::resources::find;
use crate::store::now;

/// What happened, in an Event's words.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// `Normal` or `Warning`.
    pub type_: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
    /// `source.component`, e.g. `deployment-controller`.
    pub component: &'a str,
}

/// Records a `Normal` or `Warning` event about `involved` (an object as
/// stored: apiVersion and kind are given, as stored objects lack them).
/// Best effort, as the real recorder: a failed write is dropped.
pub fn record(cluster: &Cluster, involved: &Value, api_version: &str, kind: &str, e: &Event) {
    let Event {
        type_,
        reason,
        message,
        component,
    } = *e;
    let events = find("", "v1", "events").expect("core events are served");
    let meta = &involved["metadata"];
    let ns = meta["namespace"].as_str().unwrap_or("default");
    let name = meta["name"].as_str().unwrap_or("");
    let uid = meta["uid"].as_str().unwrap_or("");
    let at = now();
    let (existing, _) = cluster.store.list(events, Some(ns));
    let same = existing.iter().find(|x| {
        x["involvedObject"]["uid"] == uid
            && x["reason"] == reason
            && x["message"] == message
            && x["source"]["component"] == component
    });
    if let Some(x) = same {
        let event_name = x["metadata"]["name"].as_str().unwrap_or("").to_string();
        let _ = cluster.store.update(events, ns, &event_name, false, |cur| {
            let mut n = (**cur).clone();
            n["count"] = json!(cur["count"].as_i64().unwrap_or(1) + 1);
            n["lastTimestamp"] = json!(at);
            Ok(n)
        });
        return;
    }
    let nanos = jiff::Timestamp::now().as_nanosecond();
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": format!("{name}.{nanos:x}"), "namespace": ns },
        "involvedObject": {
            "apiVersion": api_version,
            "kind": kind,
            "namespace": ns,
            "name": name,
            "uid": uid,
            "resourceVersion": meta["resourceVersion"],
        },
        "reason": reason,
        "message": message,
        "source": { "component": component },
        "firstTimestamp": at,
        "lastTimestamp": at,
        "count": 1,
        "type": type_,
        "reportingComponent": component,
        "reportingInstance": "",
    });
    let _ = cluster.store.create(events, event, false);
}

/// `ScalingReplicaSet` on the Deployment that controls `rs`, worded as the
/// deployment controller's `scaleReplicaSet` does ("Scaled up replica set
/// web-7d9f8c6b5 from 0 to 3").
pub fn scaled_replica_set(cluster: &Cluster, rs: &Value, from: i64, to: i64) {
    let Some(owner) = rs["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|refs| refs.iter().find(|r| r["controller"] == true))
    else {
        return;
    };
    let deployments = find("apps", "v1", "deployments").expect("deployments are served");
    let ns = rs["metadata"]["namespace"].as_str().unwrap_or("");
    let Some(d) = cluster
        .store
        .get(deployments, ns, owner["name"].as_str().unwrap_or(""))
    else {
        return;
    };
    let direction = if to > from { "up" } else { "down" };
    let message = format!(
        "Scaled {direction} replica set {} from {from} to {to}",
        rs["metadata"]["name"].as_str().unwrap_or("")
    );
    let event = Event {
        type_: "Normal",
        reason: "ScalingReplicaSet",
        message: &message,
        component: "deployment-controller",
    };
    record(cluster, &d, "apps/v1", "Deployment", &event);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::cluster::{Cluster, Settings};
    use crate::store::Store;

    #[test]
    fn a_repeated_event_is_counted_not_written_again() {
        let cluster = Arc::new(Cluster {
            store: Store::new(100),
            alloc: Default::default(),
            faults: Default::default(),
            requests: Default::default(),
            tokens: Default::default(),
            settings: Settings::default(),
            server_address: "127.0.0.1:0".into(),
            types: Default::default(),
        });
        crate::server::apply_yaml(
            &cluster,
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n",
        )
        .unwrap();
        let d = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u1"}});
        let e = Event {
            type_: "Normal",
            reason: "ScalingReplicaSet",
            message: "Scaled up replica set web-x from 0 to 3",
            component: "deployment-controller",
        };
        record(&cluster, &d, "apps/v1", "Deployment", &e);
        record(&cluster, &d, "apps/v1", "Deployment", &e);
        let events = find("", "v1", "events").unwrap();
        let (listed, _) = cluster.store.list(events, Some("default"));
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["count"], 2);
        assert_eq!(listed[0]["involvedObject"]["kind"], "Deployment");
        assert!(
            listed[0]["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("web.")
        );
    }
}
