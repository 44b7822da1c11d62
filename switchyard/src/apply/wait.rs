//! `--wait`: following every workload the run applied, all at once, until
//! each is rolled out or the first one fails.

use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kube::Client;
use serde::Serialize;

use crate::health;

/// A workload to follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

/// The kinds `--wait` follows: (API group, kind).
pub const WORKLOADS: &[(&str, &str)] = &[
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
];

/// Whether objects of this group and kind are followed by `--wait`.
pub fn is_workload(group: &str, kind: &str) -> bool {
    WORKLOADS.iter().any(|(g, k)| *g == group && *k == kind)
}

/// How the wait of one workload ended.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Waited {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// `done`, `failed`, `timedOut`, or `notFollowed` (a kind this build cannot follow yet).
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
        let group = WORKLOADS
            .iter()
            .find(|(_, k)| *k == self.kind)
            .map_or("", |(g, _)| *g);
        super::validate::reference(&self.kind, group, &self.name)
    }
}

/// Follows every target at once; stops at the first failure (the others'
/// waits are dropped) and returns the outcomes known by then, the failure last.
pub async fn all(
    client: &Client,
    targets: &[Target],
    timeout: Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<Waited>> {
    let progress = Mutex::new(progress);
    let mut outcomes = Vec::new();
    let mut running = FuturesUnordered::new();
    for t in targets {
        if t.kind != "Deployment" {
            outcomes.push(Waited {
                kind: t.kind.clone(),
                namespace: t.namespace.clone(),
                name: t.name.clone(),
                verdict: "notFollowed".into(),
                pod: None,
                reason: None,
                message: None,
                observed: format!("{} {} is not followed by this build", t.kind, t.name),
            });
            continue;
        }
        let progress = &progress;
        running.push(async move {
            let mut on_change = |o: &health::Observed| {
                if let Ok(mut p) = progress.lock() {
                    p(&o.summary);
                }
            };
            let outcome =
                health::wait_for_deployment(client, &t.namespace, &t.name, timeout, &mut on_change)
                    .await;
            (t, outcome)
        });
    }
    while let Some((t, outcome)) = running.next().await {
        let w = |verdict: &str, f: Option<&health::Failure>, o: &health::Observed| Waited {
            kind: t.kind.clone(),
            namespace: t.namespace.clone(),
            name: t.name.clone(),
            verdict: verdict.into(),
            pod: f.and_then(|f| f.pod.clone()),
            reason: f.map(|f| f.reason.clone()),
            message: f.map(|f| f.message.clone()),
            observed: o.summary.clone(),
        };
        match outcome? {
            health::Outcome::Healthy(o) => outcomes.push(w("done", None, &o)),
            health::Outcome::Failed(f, o) => {
                outcomes.push(w("failed", Some(&f), &o));
                return Ok(outcomes);
            }
            health::Outcome::TimedOut(o) => {
                outcomes.push(w("timedOut", None, &o));
                return Ok(outcomes);
            }
        }
    }
    Ok(outcomes)
}
