//! DaemonSets: done as kubectl's `DaemonSetStatusViewer` (rollout_status.go)
//! says, and failing fast on the pods of the current revision.
//!
//! Done: the controller observed the latest generation, and
//! `updatedNumberScheduled` and `numberAvailable` both reached
//! `desiredNumberScheduled` (one pod per eligible Node); the pods must agree
//! (that many ready pods of the current revision). The current revision is the
//! newest ControllerRevision; its pods carry its `controller-revision-hash`.
//! `OnDelete` never rolls.

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use super::follow::{Workload, newest};
use super::{ON_DELETE, REVISION_HASH_LABEL, State, Status};

impl Workload for DaemonSet {
    const HISTORY: bool = true;

    fn selector(&self) -> Option<LabelSelector> {
        self.spec.as_ref().map(|s| s.selector.clone())
    }

    fn assess(&self, pods: &[Pod], history: &[ControllerRevision]) -> Status {
        assess(self, pods, history)
    }

    fn history_key(&self) -> String {
        format!(
            "{:?}/{:?}",
            self.metadata.generation,
            self.status.as_ref().and_then(|s| s.observed_generation)
        )
    }
}

/// The hash a ControllerRevision's pods carry: its label, else its name
/// past `DAEMONSET-`.
pub fn revision_hash(ds: &str, r: &ControllerRevision) -> Option<String> {
    r.labels().get(REVISION_HASH_LABEL).cloned().or_else(|| {
        r.metadata
            .name
            .as_deref()
            .and_then(|n| n.strip_prefix(&format!("{ds}-")))
            .map(str::to_string)
    })
}

/// The rule (see the module's doc). `pods`: the DaemonSet's own.
pub fn assess(ds: &DaemonSet, pods: &[Pod], history: &[ControllerRevision]) -> Status {
    let name = ds.name_any();
    let spec = ds.spec.clone().unwrap_or_default();
    let st = ds.status.clone().unwrap_or_default();
    let current = st.observed_generation.unwrap_or(0) >= ds.metadata.generation.unwrap_or(0);
    let desired = st.desired_number_scheduled;
    let updated = st.updated_number_scheduled.unwrap_or(0);
    let available = st.number_available.unwrap_or(0);
    let unavailable = st.number_unavailable.unwrap_or(0);
    let newest = newest(history);
    let hash = newest.and_then(|r| revision_hash(&name, r));
    let revision = newest.map(|r| r.revision.to_string());

    let live = super::live_pods(pods);
    // Without a known revision every pod is judged: none is known to be old.
    let new: Vec<&Pod> = live
        .iter()
        .copied()
        .filter(|p| hash.is_none() || p.labels().get(REVISION_HASH_LABEL) == hash.as_ref())
        .collect();
    let waiting = super::waiting(&new);
    let ready_new = new.len() - waiting.len();

    let mut summary =
        format!("daemonset/{name}: {updated}/{desired} updated, {available} available");
    if unavailable > 0 {
        summary.push_str(&format!(", {unavailable} unavailable"));
    }
    let strategy = spec.update_strategy.and_then(|s| s.type_);
    let state = if strategy.as_deref() == Some("OnDelete") {
        State::WillNotRoll(ON_DELETE.into())
    } else if !current {
        summary.push_str(", waiting for the controller to observe the change");
        State::Progressing
    } else if let Some(f) = new.iter().find_map(|p| crate::health::pod_failure(p)) {
        State::Failed(f)
    } else if updated >= desired
        && available >= desired
        && (hash.is_none() || ready_new >= desired.max(0) as usize)
    {
        State::Done
    } else {
        State::Progressing
    };
    Status::of(state, summary, waiting, revision, current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::fixtures::pod;
    use serde_json::{Value, json};

    /// As kube-controller-manager leaves DaemonSet `agent` on 2 Nodes,
    /// mid-update from hash 6b8d9 (revision 1) to 7c4f5 (revision 2).
    fn ds(strategy: Value, status: Value) -> DaemonSet {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": { "name": "agent", "namespace": "default", "generation": 2, "uid": "u1" },
            "spec": {
                "selector": { "matchLabels": { "app": "agent" } },
                "updateStrategy": strategy,
                "template": { "metadata": { "labels": { "app": "agent" } }, "spec": { "containers": [{ "name": "app", "image": "app:2" }] } },
            },
            "status": status,
        }))
        .unwrap()
    }

    fn history() -> Vec<ControllerRevision> {
        ["6b8d9", "7c4f5"]
            .iter()
            .enumerate()
            .map(|(i, h)| {
                serde_json::from_value(json!({
                    "apiVersion": "apps/v1", "kind": "ControllerRevision",
                    "metadata": { "name": format!("agent-{h}"), "namespace": "default", "labels": { "app": "agent", REVISION_HASH_LABEL: h } },
                    "revision": i + 1,
                }))
                .unwrap()
            })
            .collect()
    }

    fn rolling() -> Value {
        json!({ "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1, "maxSurge": 0 } })
    }

    fn counts(updated: i32, available: i32) -> Value {
        json!({ "observedGeneration": 2, "currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0,
                "numberReady": available, "numberAvailable": available, "numberUnavailable": 2 - available,
                "updatedNumberScheduled": updated })
    }

    fn new_pod(name: &str, reason: Option<&str>) -> Pod {
        pod(
            name,
            json!({ "app": "agent", REVISION_HASH_LABEL: "7c4f5" }),
            reason,
        )
    }

    #[test]
    fn done_when_every_node_runs_an_available_updated_pod() {
        let pods = [new_pod("agent-a", None), new_pod("agent-b", None)];
        let s = assess(&ds(rolling(), counts(2, 2)), &pods, &history());
        assert_eq!(s.state, State::Done);
        assert_eq!(s.summary, "daemonset/agent: 2/2 updated, 2 available");
        assert_eq!(s.revision.as_deref(), Some("2"));
        let mid = assess(&ds(rolling(), counts(1, 1)), &pods[..1], &history());
        assert_eq!(mid.state, State::Progressing);
        assert_eq!(
            mid.summary,
            "daemonset/agent: 1/2 updated, 1 available, 1 unavailable"
        );
    }

    #[test]
    fn a_pod_of_the_new_revision_that_cannot_pull_fails() {
        let old = pod(
            "agent-x",
            json!({ "app": "agent", REVISION_HASH_LABEL: "6b8d9" }),
            Some("CrashLoopBackOff"),
        );
        let pods = [old.clone(), new_pod("agent-b", Some("ErrImagePull"))];
        let State::Failed(f) = assess(&ds(rolling(), counts(1, 1)), &pods, &history()).state else {
            panic!("not failed")
        };
        assert_eq!(
            (f.pod.as_deref(), f.reason.as_str()),
            (Some("agent-b"), "ErrImagePull")
        );
        // The old revision's crash is not this rollout's.
        assert_eq!(
            assess(&ds(rolling(), counts(1, 1)), &[old], &history()).state,
            State::Progressing
        );
    }

    #[test]
    fn stale_generation_and_on_delete() {
        let mut stale = counts(2, 2);
        stale["observedGeneration"] = json!(1);
        assert_eq!(
            assess(&ds(rolling(), stale), &[], &history()).state,
            State::Progressing
        );
        assert_eq!(
            assess(
                &ds(json!({ "type": "OnDelete" }), counts(0, 2)),
                &[],
                &history()
            )
            .state,
            State::WillNotRoll(ON_DELETE.into())
        );
    }

    #[test]
    fn the_hash_comes_from_the_label_or_the_name() {
        let h = history();
        assert_eq!(revision_hash("agent", &h[1]).as_deref(), Some("7c4f5"));
        let mut unlabeled = h[1].clone();
        unlabeled.metadata.labels = None;
        assert_eq!(revision_hash("agent", &unlabeled).as_deref(), Some("7c4f5"));
    }
}
