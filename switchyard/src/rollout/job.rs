//! Jobs: done when the Job controller says so (condition `Complete`), failed
//! when it says so (`Failed`, or `FailureTarget`, which comes first while the
//! last pods terminate) with its reason (`BackoffLimitExceeded`,
//! `DeadlineExceeded`, ...) and the failing pod's container reason and exit
//! code.
//!
//! A Job retries crashing pods itself up to `backoffLimit`, so crashes and
//! OOM kills are the controller's to count. Failing fast is for what no retry
//! cures: a pod that cannot pull its image, whose container cannot be
//! configured (a missing Secret), or that cannot be scheduled: the Job would
//! wait for it forever (or for its deadline).

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use super::follow::Workload;
use super::{State, Status};
use crate::health::Failure;

/// Failures no retry of the Job controller cures.
const FATAL_FOR_JOBS: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "Unschedulable",
];

impl Workload for Job {
    const HISTORY: bool = false;

    fn selector(&self) -> Option<LabelSelector> {
        // The API server generates the selector (the controller-uid label);
        // without one, the job-name label every Job pod carries.
        self.spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .or_else(|| {
                Some(LabelSelector {
                    match_labels: Some([("job-name".to_string(), self.name_any())].into()),
                    ..Default::default()
                })
            })
    }

    fn assess(&self, pods: &[Pod], _: &[ControllerRevision]) -> Status {
        assess(self, pods)
    }
}

/// The condition of `kind` that is True, if any.
fn condition<'a>(
    job: &'a Job,
    kind: &str,
) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
}

/// The last pod that failed, and why its container ended.
fn failed_pod(pods: &[Pod]) -> Option<(String, Option<String>, String)> {
    let mut failed: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"))
        .collect();
    failed.sort_by_key(|p| (p.metadata.creation_timestamp.clone(), p.name_any()));
    let pod = failed.last()?;
    let status = pod.status.as_ref();
    let ended = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .find_map(|cs| {
            let t = cs.state.as_ref()?.terminated.as_ref()?;
            (t.exit_code != 0).then(|| (cs.name.clone(), t))
        });
    Some(match ended {
        Some((container, t)) => (
            pod.name_any(),
            Some(container.clone()),
            format!(
                "pod {} container {container}: {} (exit code {})",
                pod.name_any(),
                t.reason.as_deref().unwrap_or("terminated"),
                t.exit_code
            ),
        ),
        None => (
            pod.name_any(),
            None,
            format!(
                "pod {}: {}",
                pod.name_any(),
                status
                    .and_then(|s| s.reason.clone().or(s.message.clone()))
                    .unwrap_or_else(|| "Failed".into())
            ),
        ),
    })
}

/// The rule (see the module's doc). `pods`: the Job's own.
pub fn assess(job: &Job, pods: &[Pod]) -> Status {
    let name = job.name_any();
    let spec = job.spec.clone().unwrap_or_default();
    let st = job.status.clone().unwrap_or_default();
    let completions = spec.completions.unwrap_or(1);
    let (active, succeeded, failed) = (
        st.active.unwrap_or(0),
        st.succeeded.unwrap_or(0),
        st.failed.unwrap_or(0),
    );
    let summary = format!(
        "job/{name}: {succeeded}/{completions} succeeded, {active} active, {failed} failed"
    );
    let live = super::live_pods(pods);
    let running: Vec<&Pod> = live
        .iter()
        .copied()
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .collect();
    let waiting = super::waiting(&running);

    let state = if condition(job, "Complete").is_some() {
        State::Done
    } else if let Some(c) = condition(job, "Failed").or_else(|| condition(job, "FailureTarget")) {
        let (pod, container, detail) = match failed_pod(pods) {
            Some((p, c, d)) => (Some(p), c, Some(d)),
            None => (None, None, None),
        };
        let mut message = c.message.clone().unwrap_or_default();
        if let Some(d) = detail {
            message = if message.is_empty() {
                d
            } else {
                format!("{message}; {d}")
            };
        }
        State::Failed(Failure {
            pod,
            container,
            reason: c.reason.clone().unwrap_or_else(|| "Failed".into()),
            message,
        })
    } else if spec.suspend == Some(true) {
        State::WillNotRoll("the Job is suspended (spec.suspend: true)".into())
    } else if let Some(f) = running
        .iter()
        .find_map(|p| crate::health::pod_failure(p))
        .filter(|f| FATAL_FOR_JOBS.contains(&f.reason.as_str()))
    {
        State::Failed(f)
    } else {
        State::Progressing
    };
    Status::of(state, summary, waiting, None, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::fixtures::pod;
    use serde_json::{Value, json};

    /// As the Job controller leaves Job `migrate` (backoffLimit 2).
    fn job(status: Value) -> Job {
        serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": { "name": "migrate", "namespace": "default", "uid": "u1" },
            "spec": {
                "completions": 1, "parallelism": 1, "backoffLimit": 2,
                "selector": { "matchLabels": { "batch.kubernetes.io/controller-uid": "u1" } },
                "template": { "spec": { "restartPolicy": "Never", "containers": [{ "name": "app", "image": "app:2" }] } },
            },
            "status": status,
        }))
        .unwrap()
    }

    fn failed_pod_fixture(name: &str, created: &str) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": name, "namespace": "default", "creationTimestamp": created, "labels": { "job-name": "migrate" } },
            "spec": { "restartPolicy": "Never", "containers": [{ "name": "app", "image": "app:2" }] },
            "status": { "phase": "Failed", "containerStatuses": [{ "name": "app", "image": "app:2", "imageID": "", "ready": false, "restartCount": 0,
                "state": { "terminated": { "exitCode": 3, "reason": "Error" } } }] },
        }))
        .unwrap()
    }

    #[test]
    fn complete_is_done() {
        let j = job(json!({
            "succeeded": 1, "active": 0,
            "conditions": [
                { "type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached" },
                { "type": "Complete", "status": "True", "reason": "CompletionsReached" },
            ],
        }));
        let s = assess(&j, &[]);
        assert_eq!(s.state, State::Done);
        assert_eq!(s.summary, "job/migrate: 1/1 succeeded, 0 active, 0 failed");
    }

    #[test]
    fn backoff_limit_exceeded_names_the_last_failed_pod_and_its_exit_code() {
        let j = job(json!({
            "failed": 3, "active": 0,
            "conditions": [
                { "type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" },
                { "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit" },
            ],
        }));
        let pods = [
            failed_pod_fixture("migrate-b", "2026-01-01T00:00:10Z"),
            failed_pod_fixture("migrate-a", "2026-01-01T00:00:00Z"),
        ];
        let State::Failed(f) = assess(&j, &pods).state else {
            panic!("not failed")
        };
        assert_eq!(f.reason, "BackoffLimitExceeded");
        assert_eq!(f.pod.as_deref(), Some("migrate-b"));
        assert_eq!(f.container.as_deref(), Some("app"));
        assert_eq!(
            f.message,
            "Job has reached the specified backoff limit; pod migrate-b container app: Error (exit code 3)"
        );
    }

    #[test]
    fn deadline_exceeded_fails_without_a_pod() {
        let j = job(json!({
            "conditions": [{ "type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline" }],
        }));
        let State::Failed(f) = assess(&j, &[]).state else {
            panic!()
        };
        assert_eq!((f.reason.as_str(), f.pod), ("DeadlineExceeded", None));
    }

    #[test]
    fn an_image_that_cannot_be_pulled_fails_fast_and_a_crash_is_left_to_the_backoff() {
        let j = job(json!({ "active": 1 }));
        let pulling = pod(
            "migrate-x",
            json!({ "job-name": "migrate" }),
            Some("ImagePullBackOff"),
        );
        let State::Failed(f) = assess(&j, &[pulling]).state else {
            panic!()
        };
        assert_eq!(f.reason, "ImagePullBackOff");
        let crashing = pod(
            "migrate-y",
            json!({ "job-name": "migrate" }),
            Some("CrashLoopBackOff"),
        );
        let s = assess(&j, &[crashing]);
        assert_eq!(s.state, State::Progressing);
        assert!(
            s.summary.ends_with("; not ready: 1 CrashLoopBackOff"),
            "{}",
            s.summary
        );
    }

    #[test]
    fn a_suspended_job_will_not_run() {
        let mut j = job(json!({}));
        j.spec.as_mut().unwrap().suspend = Some(true);
        assert!(matches!(assess(&j, &[]).state, State::WillNotRoll(_)));
    }
}
