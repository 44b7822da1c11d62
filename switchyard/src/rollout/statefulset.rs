//! StatefulSets: done as kubectl's `StatefulSetStatusViewer` (rollout_status.go)
//! says, and failing fast on the pods of the update revision.
//!
//! Done: the controller observed the latest generation; `readyReplicas`
//! reached `spec.replicas`; and, for RollingUpdate, the pods at or above the
//! partition are on `updateRevision` (`updatedReplicas >= replicas -
//! partition`), which without a partition means every pod, and then also
//! `currentRevision == updateRevision` (the controller moves it when the last
//! pod is updated). The pods must agree: as many ready pods of the update
//! revision as the partition leaves to update. `OnDelete` never rolls: pods
//! keep the old template until someone deletes them. Under OrderedReady a
//! failing pod of any revision fails the rollout: the controller waits for it.

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use super::follow::Workload;
use super::{ON_DELETE, REVISION_HASH_LABEL, State, Status};

impl Workload for StatefulSet {
    const HISTORY: bool = true;

    fn selector(&self) -> Option<LabelSelector> {
        self.spec.as_ref().map(|s| s.selector.clone())
    }

    fn assess(&self, pods: &[Pod], history: &[ControllerRevision]) -> Status {
        assess(self, pods, history)
    }

    fn history_key(&self) -> String {
        let s = self.status.as_ref();
        format!(
            "{:?}/{:?}",
            s.and_then(|s| s.update_revision.clone()),
            s.and_then(|s| s.current_revision.clone())
        )
    }
}

/// The revision number of the ControllerRevision named `name`.
fn number(history: &[ControllerRevision], name: Option<&str>) -> Option<String> {
    let name = name?;
    history
        .iter()
        .find(|r| r.metadata.name.as_deref() == Some(name))
        .map(|r| r.revision.to_string())
}

/// Under `podManagementPolicy: OrderedReady` (the default) the controller
/// replaces no pod while another is unhealthy, whatever its revision, so a
/// failing pod of an older revision blocks the rollout for good: reverting the
/// template is not enough either, the pod must be deleted (Kubernetes'
/// StatefulSet docs, "Forced rollback"). `Parallel` has no such wait.
fn blocking(
    spec: &k8s_openapi::api::apps::v1::StatefulSetSpec,
    live: &[&Pod],
    update_revision: Option<&str>,
) -> Option<crate::health::Failure> {
    if spec.pod_management_policy.as_deref() == Some("Parallel") {
        return None;
    }
    live.iter().find_map(|p| {
        let mut f = crate::health::pod_failure(p)?;
        let on = p.labels().get(REVISION_HASH_LABEL).cloned().unwrap_or_default();
        f.message = format!(
            "{}; the pod is on revision {on}, not {}, and with podManagementPolicy OrderedReady the controller waits for it to be Ready before replacing it: delete it to go on (forced rollback)",
            f.message,
            update_revision.unwrap_or("the update revision")
        );
        Some(f)
    })
}

/// The rule (see the module's doc). `pods`: the StatefulSet's own.
pub fn assess(sts: &StatefulSet, pods: &[Pod], history: &[ControllerRevision]) -> Status {
    let name = sts.name_any();
    let spec = sts.spec.clone().unwrap_or_default();
    let st = sts.status.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1);
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let partition = strategy
        .rolling_update
        .as_ref()
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .clamp(0, replicas.max(0));
    let observed = st.observed_generation.unwrap_or(0);
    let current = observed > 0 && observed >= sts.metadata.generation.unwrap_or(0);
    let update_revision = st.update_revision.clone();
    let revision = number(history, update_revision.as_deref());
    let (ready, updated) = (
        st.ready_replicas.unwrap_or(0),
        st.updated_replicas.unwrap_or(0),
    );
    let to_update = replicas - partition;

    let live = super::live_pods(pods);
    // Pods of the update revision: failures of the old ones are not this
    // rollout's to blame.
    let new: Vec<&Pod> = live
        .iter()
        .copied()
        .filter(|p| {
            update_revision.is_some()
                && p.labels().get(REVISION_HASH_LABEL) == update_revision.as_ref()
        })
        .collect();
    let waiting = super::waiting(&new);
    let ready_new = new.len() - waiting.len();

    let mut summary = format!("statefulset/{name}: {ready}/{replicas} ready, {updated} updated");
    if partition > 0 {
        summary.push_str(&format!(" ({to_update} above partition {partition})"));
    }
    let state = if strategy.type_.as_deref() == Some("OnDelete") {
        State::WillNotRoll(ON_DELETE.into())
    } else if !current {
        summary.push_str(", waiting for the controller to observe the change");
        State::Progressing
    } else if let Some(f) = new.iter().find_map(|p| crate::health::pod_failure(p)) {
        State::Failed(f)
    } else if let Some(f) = blocking(&spec, &live, update_revision.as_deref()) {
        State::Failed(f)
    } else if ready >= replicas
        && updated >= to_update
        && (partition > 0 || st.current_revision == update_revision)
        && ready_new >= to_update.max(0) as usize
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

    /// As kube-controller-manager leaves a StatefulSet `db` of 3 mid-update
    /// from revision db-7d9f8c6b5 (1) to db-5c8b6f7d4 (2).
    fn sts(strategy: Value, status: Value) -> StatefulSet {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": { "name": "db", "namespace": "default", "generation": 2, "uid": "u1" },
            "spec": {
                "replicas": 3, "serviceName": "db",
                "selector": { "matchLabels": { "app": "db" } },
                "updateStrategy": strategy,
                "template": { "metadata": { "labels": { "app": "db" } }, "spec": { "containers": [{ "name": "app", "image": "app:2" }] } },
            },
            "status": status,
        }))
        .unwrap()
    }

    fn history() -> Vec<ControllerRevision> {
        ["db-7d9f8c6b5", "db-5c8b6f7d4"]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                serde_json::from_value(json!({
                    "apiVersion": "apps/v1", "kind": "ControllerRevision",
                    "metadata": { "name": n, "namespace": "default", "labels": { "app": "db", REVISION_HASH_LABEL: n } },
                    "revision": i + 1,
                    "data": { "spec": { "template": { "$patch": "replace" } } },
                }))
                .unwrap()
            })
            .collect()
    }

    fn rolling() -> Value {
        json!({ "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } })
    }

    fn new_pod(name: &str, reason: Option<&str>) -> Pod {
        pod(
            name,
            json!({ "app": "db", REVISION_HASH_LABEL: "db-5c8b6f7d4" }),
            reason,
        )
    }

    fn old_pod(name: &str, reason: Option<&str>) -> Pod {
        pod(
            name,
            json!({ "app": "db", REVISION_HASH_LABEL: "db-7d9f8c6b5" }),
            reason,
        )
    }

    #[test]
    fn mid_update_is_progressing_and_done_when_current_catches_up() {
        let mid = sts(
            rolling(),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "currentReplicas": 1, "updatedReplicas": 2,
                    "currentRevision": "db-7d9f8c6b5", "updateRevision": "db-5c8b6f7d4" }),
        );
        let pods = [
            old_pod("db-0", None),
            new_pod("db-1", None),
            new_pod("db-2", None),
        ];
        let s = assess(&mid, &pods, &history());
        assert_eq!(s.state, State::Progressing);
        assert_eq!(s.summary, "statefulset/db: 3/3 ready, 2 updated");
        assert_eq!(s.revision.as_deref(), Some("2"));

        let done = sts(
            rolling(),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
                    "currentRevision": "db-5c8b6f7d4", "updateRevision": "db-5c8b6f7d4" }),
        );
        let pods = [
            new_pod("db-0", None),
            new_pod("db-1", None),
            new_pod("db-2", None),
        ];
        assert_eq!(assess(&done, &pods, &history()).state, State::Done);
        // The status may come before the pods it counted: they must agree.
        assert_eq!(
            assess(&done, &pods[1..], &history()).state,
            State::Progressing
        );
    }

    #[test]
    fn all_updated_but_current_revision_behind_is_not_done() {
        let s = sts(
            rolling(),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                    "currentRevision": "db-7d9f8c6b5", "updateRevision": "db-5c8b6f7d4" }),
        );
        let pods = [
            new_pod("db-0", None),
            new_pod("db-1", None),
            new_pod("db-2", None),
        ];
        assert_eq!(assess(&s, &pods, &history()).state, State::Progressing);
    }

    #[test]
    fn a_partition_is_done_when_the_pods_above_it_are_updated() {
        let s = sts(
            json!({ "type": "RollingUpdate", "rollingUpdate": { "partition": 2 } }),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1,
                    "currentRevision": "db-7d9f8c6b5", "updateRevision": "db-5c8b6f7d4" }),
        );
        let pods = [
            old_pod("db-0", None),
            old_pod("db-1", None),
            new_pod("db-2", None),
        ];
        let a = assess(&s, &pods, &history());
        assert_eq!(a.state, State::Done);
        assert_eq!(
            a.summary,
            "statefulset/db: 3/3 ready, 1 updated (1 above partition 2)"
        );
    }

    #[test]
    fn a_stale_generation_waits_and_blames_nothing() {
        let s = sts(
            rolling(),
            json!({ "observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
                    "currentRevision": "db-7d9f8c6b5", "updateRevision": "db-7d9f8c6b5" }),
        );
        let pods = [old_pod("db-0", Some("CrashLoopBackOff"))];
        let a = assess(&s, &pods, &history());
        assert_eq!(a.state, State::Progressing);
        assert!(
            a.summary
                .ends_with("waiting for the controller to observe the change"),
            "{}",
            a.summary
        );
    }

    #[test]
    fn a_crashing_pod_of_the_update_revision_fails_and_old_ones_do_not() {
        let s = sts(
            rolling(),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 2, "updatedReplicas": 1,
                    "currentRevision": "db-7d9f8c6b5", "updateRevision": "db-5c8b6f7d4" }),
        );
        let pods = [
            old_pod("db-0", Some("ImagePullBackOff")),
            old_pod("db-1", None),
            new_pod("db-2", Some("CrashLoopBackOff")),
        ];
        let State::Failed(f) = assess(&s, &pods, &history()).state else {
            panic!("not failed")
        };
        assert_eq!(
            (f.pod.as_deref(), f.reason.as_str()),
            (Some("db-2"), "CrashLoopBackOff")
        );
        assert_eq!(f.container.as_deref(), Some("app"));
        // OrderedReady: an old pod that fails blocks the rollout for good.
        let State::Failed(f) = assess(&s, &pods[..2], &history()).state else {
            panic!("not failed")
        };
        assert_eq!(
            (f.pod.as_deref(), f.reason.as_str()),
            (Some("db-0"), "ImagePullBackOff")
        );
        assert!(f.message.ends_with("the pod is on revision db-7d9f8c6b5, not db-5c8b6f7d4, and with podManagementPolicy OrderedReady the controller waits for it to be Ready before replacing it: delete it to go on (forced rollback)"), "{}", f.message);
        // Parallel replaces it regardless.
        let mut parallel = s.clone();
        parallel.spec.as_mut().unwrap().pod_management_policy = Some("Parallel".into());
        assert_eq!(
            assess(&parallel, &pods[..2], &history()).state,
            State::Progressing
        );
    }

    #[test]
    fn on_delete_will_not_roll() {
        let s = sts(
            json!({ "type": "OnDelete" }),
            json!({ "observedGeneration": 2, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 0,
                    "currentRevision": "db-7d9f8c6b5", "updateRevision": "db-5c8b6f7d4" }),
        );
        assert_eq!(
            assess(&s, &[], &history()).state,
            State::WillNotRoll(ON_DELETE.into())
        );
    }
}
