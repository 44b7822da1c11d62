//! Rolling updates of workloads: Deployments, StatefulSets, DaemonSets and
//! Jobs followed to their end, failing fast.
//!
//! [`wait_all`] follows any number of workloads at once and stops at the first
//! that cannot get there, naming object, pod and reason. Deployments use the
//! rules of [`crate::health`] as they are; the other kinds have theirs in one
//! module each (`statefulset`, `daemonset`, `job`: pure functions of the object
//! and its pods, as `kubectl rollout status` and the Job controller's
//! conditions define done), over one list-then-watch loop (`follow`) and the
//! pod-level rules of [`crate::health::pod_failure`].
//!
//! [`update`] is the step `deploy-rollout`: set images or restart, wait, and
//! with undo on failure put the previous revision back ([`rollback`], as
//! `kubectl rollout undo` does).

pub mod daemonset;
mod deployment;
mod follow;
pub mod job;
pub mod rollback;
pub mod statefulset;
pub mod template;
pub mod update;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::ApiResource;
use serde::Serialize;

use crate::exit::Exit;
use crate::health::Failure;

/// The label the StatefulSet and DaemonSet controllers put on their pods and
/// ControllerRevisions: which revision of the template a pod was made from.
pub const REVISION_HASH_LABEL: &str = "controller-revision-hash";

/// A kind of workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
}

impl Kind {
    /// `deployment`, `statefulset`, ...: how kubectl names it (`deployment/web`).
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
            Kind::DaemonSet => "daemonset",
            Kind::Job => "job",
        }
    }

    /// The API resource, for kind-agnostic reads and writes.
    pub fn api_resource(self) -> ApiResource {
        use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch};
        match self {
            Kind::Deployment => ApiResource::erase::<apps::Deployment>(&()),
            Kind::StatefulSet => ApiResource::erase::<apps::StatefulSet>(&()),
            Kind::DaemonSet => ApiResource::erase::<apps::DaemonSet>(&()),
            Kind::Job => ApiResource::erase::<batch::Job>(&()),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::Job => "Job",
        })
    }
}

/// One workload to follow.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Target {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl Target {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Target {
        Target {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for Target {
    /// `deployment/web`, as kubectl names objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.resource(), self.name)
    }
}

/// What one workload came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub target: Target,
    pub verdict: Verdict,
    /// The revision it rolled to, as `kubectl rollout history` numbers them
    /// (a Deployment's `deployment.kubernetes.io/revision`, the number of a
    /// StatefulSet's or DaemonSet's ControllerRevision); none for Jobs.
    pub revision: Option<String>,
    /// The container to blame, when a failure names one.
    pub container: Option<String>,
    /// The last observed state on one line (`deployment/web: 2/3 ready, ...`).
    pub summary: String,
    /// Pods of the new revision not ready at the end, as `name: why`.
    pub not_ready: Vec<String>,
}

impl Outcome {
    /// The exit code this ending means: a workload that will not roll has its
    /// change stored and nothing to wait for, so that is not a failure.
    pub fn exit(&self) -> Exit {
        match self.verdict {
            Verdict::Done | Verdict::WillNotRoll { .. } => Exit::Ok,
            Verdict::Failed { .. } => Exit::Failed,
            Verdict::TimedOut => Exit::Timeout,
        }
    }
}

/// How a workload's wait ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum Verdict {
    /// Rolled out (or, for a Job, complete).
    Done,
    /// It cannot get there without a change: the pod to blame (if one is),
    /// the Kubernetes reason, and what Kubernetes said.
    Failed {
        pod: Option<String>,
        reason: String,
        message: String,
    },
    /// Its strategy does not roll pods (`updateStrategy: OnDelete`, a
    /// suspended Job): there is nothing to wait for.
    WillNotRoll { why: String },
    /// The timeout passed first.
    TimedOut,
}

/// Where a workload is, as its kind's rule sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Done,
    Progressing,
    Failed(Failure),
    WillNotRoll(String),
}

/// A kind's rule applied to an object and its pods: the state, and what a
/// progress line and the result say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    /// One line, starting with the target (`statefulset/db: ...`).
    pub summary: String,
    /// Pods of the new revision that are not ready, as `name: why`.
    pub not_ready: Vec<String>,
    /// See [`Outcome::revision`].
    pub revision: Option<String>,
}

impl Status {
    /// The status of `state`, with the pods in `waiting` (`(name, why)`)
    /// listed, and counted by reason in the summary while the rollout still
    /// progresses (`counted`: the observed generation is current).
    pub(crate) fn of(
        state: State,
        mut summary: String,
        waiting: Vec<(String, String)>,
        revision: Option<String>,
        counted: bool,
    ) -> Status {
        if state == State::Progressing && counted {
            summary.push_str(&not_ready_part(&waiting));
        }
        Status {
            state,
            summary,
            not_ready: waiting
                .into_iter()
                .map(|(p, why)| format!("{p}: {why}"))
                .collect(),
            revision,
        }
    }
}

/// Why the message says "updateStrategy OnDelete" (kubectl: "rollout status is
/// only available for RollingUpdate strategy type").
pub const ON_DELETE: &str = "updateStrategy OnDelete: pods keep the old template until deleted";

/// The pods not being deleted, sorted by name.
pub(crate) fn live_pods(pods: &[Pod]) -> Vec<&Pod> {
    let mut live: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    live.sort_by_key(|p| p.metadata.name.clone());
    live
}

/// The not-ready pods among `pods`, as (name, why).
pub(crate) fn waiting(pods: &[&Pod]) -> Vec<(String, String)> {
    pods.iter()
        .filter(|p| !crate::health::pod_ready(p))
        .map(|p| (p.name_any(), crate::health::pod_state(p)))
        .collect()
}

/// `; not ready: 2 ContainerCreating, 1 Running` (empty for none): grouped by
/// reason, so the line stays one line for 50 pods.
pub(crate) fn not_ready_part(waiting: &[(String, String)]) -> String {
    if waiting.is_empty() {
        return String::new();
    }
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, why) in waiting {
        *by_reason.entry(why.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = by_reason
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect();
    format!("; not ready: {}", parts.join(", "))
}

/// Follows every target at once (concurrently, one watch loop per target),
/// and stops at the first failure, naming object, pod and reason; `progress`
/// gets one line per change (`deployment/web: 2/3 ready, ...`).
///
/// The outcomes come back in the order of `targets`. When one fails, the
/// targets still rolling then are left out (their waits are stopped); when
/// `timeout` passes (`None`: no limit), each unfinished one is `TimedOut`
/// with its last observed state. An `Err` is for what is no answer about a
/// rollout: a target that does not exist (exit 3) or was deleted, an API
/// server that cannot be reached or refuses (exit 5).
pub async fn wait_all(
    client: &kube::Client,
    targets: &[Target],
    timeout: Option<Duration>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Vec<Outcome>> {
    let last: Vec<Mutex<Status>> = targets
        .iter()
        .map(|t| {
            Mutex::new(Status {
                state: State::Progressing,
                summary: format!("{t}: not observed yet"),
                not_ready: Vec::new(),
                revision: None,
            })
        })
        .collect();
    let mut done: Vec<Option<Outcome>> = vec![None; targets.len()];
    let timed_out = {
        let mut running: FuturesUnordered<_> = targets
            .iter()
            .zip(&last)
            .enumerate()
            .map(|(i, (t, slot))| async move { (i, follow_one(client, t, progress, slot).await) })
            .collect();
        let all = async {
            while let Some((i, outcome)) = running.next().await {
                let outcome = outcome?;
                let failed = matches!(outcome.verdict, Verdict::Failed { .. });
                done[i] = Some(outcome);
                if failed {
                    break;
                }
            }
            Ok::<(), anyhow::Error>(())
        };
        match timeout {
            Some(t) => match tokio::time::timeout(t, all).await {
                Ok(r) => r.map(|_| false)?,
                Err(_) => true,
            },
            None => all.await.map(|_| false)?,
        }
    };
    let mut out = Vec::new();
    for ((t, slot), outcome) in targets.iter().zip(last).zip(done) {
        match outcome {
            Some(o) => out.push(o),
            None if timed_out => {
                let s = slot.into_inner().unwrap_or_else(|e| e.into_inner());
                out.push(Outcome {
                    target: t.clone(),
                    verdict: Verdict::TimedOut,
                    revision: s.revision,
                    container: None,
                    summary: s.summary,
                    not_ready: s.not_ready,
                });
            }
            None => {}
        }
    }
    Ok(out)
}

/// One target to its end; `slot` keeps its last status for the timeout report.
async fn follow_one(
    client: &kube::Client,
    t: &Target,
    progress: &(dyn Fn(&str) + Sync),
    slot: &Mutex<Status>,
) -> Result<Outcome> {
    let mut report = |s: &Status| {
        if let Ok(mut last) = slot.lock() {
            if last.summary != s.summary {
                progress(&s.summary);
            }
            *last = s.clone();
        }
    };
    let status = match t.kind {
        Kind::Deployment => deployment::follow(client, t, &mut report).await?,
        Kind::StatefulSet => {
            follow::follow::<k8s_openapi::api::apps::v1::StatefulSet>(client, t, &mut report)
                .await?
        }
        Kind::DaemonSet => {
            follow::follow::<k8s_openapi::api::apps::v1::DaemonSet>(client, t, &mut report).await?
        }
        Kind::Job => {
            follow::follow::<k8s_openapi::api::batch::v1::Job>(client, t, &mut report).await?
        }
    };
    Ok(outcome(t, status))
}

/// The outcome a final status means.
fn outcome(t: &Target, s: Status) -> Outcome {
    let (verdict, container) = match s.state {
        State::Done | State::Progressing => (Verdict::Done, None),
        State::Failed(f) => (
            Verdict::Failed {
                pod: f.pod,
                reason: f.reason,
                message: f.message,
            },
            f.container,
        ),
        State::WillNotRoll(why) => (Verdict::WillNotRoll { why }, None),
    };
    Outcome {
        target: t.clone(),
        verdict,
        revision: s.revision,
        container,
        summary: s.summary,
        not_ready: s.not_ready,
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Objects shaped as kube-controller-manager leaves them, for the rules' tests.

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::{Value, json};

    /// A pod with `labels`, ready or waiting for `reason`.
    pub fn pod(name: &str, labels: Value, reason: Option<&str>) -> Pod {
        let status = match reason {
            None => json!({
                "phase": "Running",
                "conditions": [{ "type": "Ready", "status": "True" }],
                "containerStatuses": [{ "name": "app", "image": "app:2", "imageID": "", "ready": true, "restartCount": 0, "state": { "running": {} } }],
            }),
            Some(r) => json!({
                "phase": "Pending",
                "conditions": [{ "type": "Ready", "status": "False", "reason": "ContainersNotReady" }],
                "containerStatuses": [{
                    "name": "app", "image": "app:2", "imageID": "", "ready": false, "restartCount": 2,
                    "state": { "waiting": { "reason": r, "message": format!("{r} details") } },
                    "lastState": { "terminated": { "exitCode": 1, "reason": "Error" } },
                }],
            }),
        };
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": name, "namespace": "default", "labels": labels },
            "spec": { "containers": [{ "name": "app", "image": "app:2" }] },
            "status": status,
        }))
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Front ends may spawn the wait on a multi-threaded runtime: this does
    /// not compile if the wait's future is not Send (it is built, not run).
    #[test]
    fn the_wait_is_send() {
        fn send<T: Send>(_: &T) {}
        let progress = |_: &str| {};
        let client = async {
            let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
            let client = kube::Client::try_from(config).unwrap();
            let wait = wait_all(&client, &[], None, &progress);
            send(&wait);
        };
        send(&client);
    }

    #[test]
    fn targets_are_named_as_kubectl_names_them() {
        assert_eq!(
            Target::new(Kind::StatefulSet, "ns", "db").to_string(),
            "statefulset/db"
        );
        let o = Outcome {
            target: Target::new(Kind::Job, "ns", "migrate"),
            verdict: Verdict::WillNotRoll {
                why: "suspended".into(),
            },
            revision: None,
            container: None,
            summary: String::new(),
            not_ready: Vec::new(),
        };
        assert_eq!(o.exit(), Exit::Ok);
        assert_eq!(
            serde_json::to_value(&o.verdict).unwrap(),
            serde_json::json!({ "result": "willNotRoll", "why": "suspended" })
        );
    }
}
