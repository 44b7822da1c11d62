//! `--wait`: following every workload the run applied, all at once, until
//! each is rolled out or the first one fails (`rollout::wait_all`, the same
//! rules as `deploy-rollout`).

use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use kube::Client;
use serde::Serialize;

use crate::rollout::{self, Kind, Verdict};

/// The kinds `--wait` follows, by API group and kind.
pub fn kind_of(group: &str, kind: &str) -> Option<Kind> {
    match (group, kind) {
        ("apps", "Deployment") => Some(Kind::Deployment),
        ("apps", "StatefulSet") => Some(Kind::StatefulSet),
        ("apps", "DaemonSet") => Some(Kind::DaemonSet),
        ("batch", "Job") => Some(Kind::Job),
        _ => None,
    }
}

/// How the wait of one workload ended.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Waited {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `done`, `failed`, `willNotRoll` (OnDelete, a suspended Job: nothing
    /// to wait for) or `timedOut`.
    pub verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The last observed state, one line.
    pub observed: String,
}

impl Waited {
    /// `deployment.apps/web`.
    pub fn reference(&self) -> String {
        let group = if self.kind == "Job" { "batch" } else { "apps" };
        super::validate::reference(&self.kind, group, &self.name)
    }

    fn of(o: &rollout::Outcome) -> Waited {
        let (verdict, pod, reason, message) = match &o.verdict {
            Verdict::Done => ("done", None, None, None),
            Verdict::Failed {
                pod,
                reason,
                message,
            } => (
                "failed",
                pod.clone(),
                Some(reason.clone()),
                Some(message.clone()),
            ),
            Verdict::WillNotRoll { why } => ("willNotRoll", None, Some(why.clone()), None),
            Verdict::TimedOut => ("timedOut", None, None, None),
        };
        Waited {
            kind: o.target.kind.to_string(),
            namespace: o.target.namespace.clone(),
            name: o.target.name.clone(),
            verdict: verdict.into(),
            pod,
            reason,
            message,
            observed: o.summary.clone(),
        }
    }
}

/// Follows every target at once; stops at the first failure. The outcomes
/// known by then, in the order of `targets`.
pub async fn all(
    client: &Client,
    targets: &[rollout::Target],
    timeout: Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<Waited>> {
    let progress = Mutex::new(progress);
    let line = |l: &str| {
        if let Ok(mut p) = progress.lock() {
            p(l)
        }
    };
    let outcomes = rollout::wait_all(client, targets, Some(timeout), &line).await?;
    Ok(outcomes.iter().map(Waited::of).collect())
}
