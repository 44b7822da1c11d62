//! Waiting for workloads to be healthy.
//!
//! [`wait_for_deployment`] lists and then watches the Deployment and the pods of
//! its current ReplicaSet, so it learns of every change as it happens instead of
//! polling, and it stops as soon as the answer is known: healthy, or a failure
//! that waiting cannot cure (CrashLoopBackOff, image pull errors, a missing
//! Secret, OOMKilled restarts, an unschedulable pod, the progress deadline),
//! named with the pod, the container and the Kubernetes reason. [`assess`] is
//! the rule itself, pure, so front ends and tests can apply it to any objects.
//!
//! [`http_check`] and [`wait_for_http`] ask the application itself, through the
//! API server's service proxy, so a Jenkins agent outside the cluster needs no
//! port-forward.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::core::{Expression, Selector};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::exit::{Error, Exit};

/// The annotation the Deployment controller keeps equal on a Deployment and its
/// current ReplicaSet.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// The label that ties a ReplicaSet's pods to it.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Container waiting reasons that the kubelet only leaves by someone fixing
/// the workload (or by retrying forever), so waiting longer cannot help.
const FATAL_WAITING_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Why a workload cannot become healthy, found without waiting for the timeout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The pod that shows the failure; None for Deployment-level reasons.
    pub pod: Option<String>,
    /// The container in that pod, when one container is to blame.
    pub container: Option<String>,
    /// The Kubernetes reason: `CrashLoopBackOff`, `OOMKilled`, `Unschedulable`,
    /// `ProgressDeadlineExceeded`, ...
    pub reason: String,
    /// What Kubernetes said about it (kubelet, scheduler or controller message).
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.pod, &self.container) {
            (Some(p), Some(c)) => write!(f, "pod {p} container {c}: ")?,
            (Some(p), None) => write!(f, "pod {p}: ")?,
            _ => {}
        }
        f.write_str(&self.reason)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// The last observed state of a Deployment, for progress lines and for the
/// timeout report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    /// The Deployment's name.
    pub name: String,
    /// `spec.replicas`.
    pub desired: i32,
    /// Pods of the current template (`status.updatedReplicas`).
    pub updated: i32,
    /// Ready pods (`status.readyReplicas`).
    pub ready: i32,
    /// Pods ready for at least `minReadySeconds` (`status.availableReplicas`).
    pub available: i32,
    /// Pods of older ReplicaSets not yet gone.
    pub old: i32,
    /// False while the controller has not yet seen the latest spec: the counts
    /// then describe the previous template.
    pub current: bool,
    /// Pods of the current ReplicaSet that are not ready, as `name: why`.
    pub not_ready: Vec<String>,
    /// The Deployment's revision (`deployment.kubernetes.io/revision`), once
    /// the controller has given it one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// One human line, e.g. `web-green: 2/3 ready, 3 updated, 2 available`.
    pub summary: String,
}

impl Observed {
    /// What is known before the Deployment was ever read.
    fn nothing(name: &str) -> Observed {
        Observed {
            name: name.to_string(),
            summary: format!("{name}: not observed yet"),
            ..Default::default()
        }
    }
}

impl fmt::Display for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

/// What [`assess`] concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Fully rolled out and available, no old pods left.
    Healthy,
    /// Not there yet, and nothing says it cannot get there.
    Progressing,
    /// It cannot become healthy without a change.
    Failed(Failure),
}

/// A verdict and the state it was drawn from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub verdict: Verdict,
    pub observed: Observed,
}

/// How a wait ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Healthy(Observed),
    Failed(Failure, Observed),
    TimedOut(Observed),
}

impl Outcome {
    /// The last observed state, whatever the ending.
    pub fn observed(&self) -> &Observed {
        match self {
            Outcome::Healthy(o) | Outcome::Failed(_, o) | Outcome::TimedOut(o) => o,
        }
    }

    /// The process exit code this ending means (ARCHITECTURE.md, "Exit codes").
    pub fn exit(&self) -> Exit {
        match self {
            Outcome::Healthy(_) => Exit::Ok,
            Outcome::Failed(..) => Exit::Failed,
            Outcome::TimedOut(_) => Exit::Timeout,
        }
    }
}

/// Assesses a Deployment from its status and the pods of its current
/// ReplicaSet (the caller selects them; see [`wait_for_deployment`]).
///
/// Healthy means what `kubectl rollout status` waits for, and a little more:
/// the controller has observed the latest generation, and updated, ready and
/// available pods all equal `spec.replicas` with no pod of an older ReplicaSet
/// left, and `pods` (all the pods of the current ReplicaSet) are that many,
/// all ready. Failures are looked for only once the controller has observed the
/// latest spec, so a wait that starts right after a `kubectl apply` does not
/// blame the new version for the previous template's crashing pods.
pub fn assess(deployment: &Deployment, pods: &[Pod]) -> Assessment {
    let name = deployment.name_any();
    let status = deployment.status.clone().unwrap_or_default();
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let old = (total - updated).max(0);
    let current =
        status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);

    // Pods being deleted are on their way out, whatever state they are in.
    let mut live: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    live.sort_by_key(|p| p.metadata.name.clone());
    let waiting: Vec<(String, String)> = live
        .iter()
        .filter(|p| !pod_ready(p))
        .map(|p| (p.name_any(), pod_state(p)))
        .collect();

    let verdict = if !current {
        Verdict::Progressing
    } else if let Some(f) = live.iter().find_map(|p| pod_failure(p)) {
        Verdict::Failed(f)
    } else if let Some(mut f) = deadline_exceeded(deployment) {
        if let Some((pod, why)) = waiting.first() {
            f.message = format!("{}; pod {pod}: {why}", f.message);
        }
        Verdict::Failed(f)
    } else if updated == desired
        && ready == desired
        && available == desired
        && total == desired
        // The pods must agree: the Deployment's status and the pods come by
        // separate watches, and the status may arrive before the pod events
        // it was computed from (or before a pod that has since crashed).
        && live.len() == desired.max(0) as usize
        && waiting.is_empty()
    {
        Verdict::Healthy
    } else {
        Verdict::Progressing
    };

    let mut summary =
        format!("{name}: {ready}/{desired} ready, {updated} updated, {available} available");
    if old > 0 {
        summary.push_str(&format!(", {old} old"));
    }
    if deployment.spec.as_ref().and_then(|s| s.paused) == Some(true) {
        summary.push_str(", paused");
    }
    if !current {
        summary.push_str(", waiting for the controller to observe the change");
    } else if !waiting.is_empty() {
        // Grouped by reason so that the line stays one line for 50 pods.
        let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, why) in &waiting {
            *by_reason.entry(why.as_str()).or_default() += 1;
        }
        let parts: Vec<String> = by_reason
            .iter()
            .map(|(why, n)| format!("{n} {why}"))
            .collect();
        summary.push_str(&format!("; not ready: {}", parts.join(", ")));
    }
    Assessment {
        verdict,
        observed: Observed {
            name,
            desired,
            updated,
            ready,
            available,
            old,
            current,
            not_ready: waiting
                .into_iter()
                .map(|(pod, why)| format!("{pod}: {why}"))
                .collect(),
            revision: deployment.annotations().get(REVISION_ANNOTATION).cloned(),
            summary,
        },
    }
}

/// Whether the pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

fn pod_condition<'a>(
    pod: &'a Pod,
    kind: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

fn container_statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    // Init containers first: they run first, so they fail first.
    let status = pod.status.as_ref();
    let init = status.and_then(|s| s.init_container_statuses.as_deref());
    let main = status.and_then(|s| s.container_statuses.as_deref());
    init.unwrap_or_default()
        .iter()
        .chain(main.unwrap_or_default())
}

/// One word or two on why a pod is not ready: the waiting reason the kubelet
/// reports, else the phase.
pub fn pod_state(pod: &Pod) -> String {
    if let Some(c) = pod_condition(pod, "PodScheduled")
        && c.status == "False"
    {
        return c.reason.clone().unwrap_or_else(|| "Unscheduled".into());
    }
    for cs in container_statuses(pod) {
        let state = cs.state.as_ref();
        if let Some(r) = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone())
        {
            return r;
        }
        if let Some(r) = state
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.reason.clone())
        {
            return r;
        }
    }
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into())
}

/// A reason in this pod that waiting cannot cure, if any: the pod-level rule
/// every workload kind's wait shares (CrashLoopBackOff, OOMKilled, image pull
/// and container config errors, Unschedulable), with pod, container and the
/// kubelet's or scheduler's message.
pub fn pod_failure(pod: &Pod) -> Option<Failure> {
    let name = pod.name_any();
    if let Some(c) = pod_condition(pod, "PodScheduled")
        && c.status == "False"
        && c.reason.as_deref() == Some("Unschedulable")
    {
        return Some(Failure {
            pod: Some(name),
            container: None,
            reason: "Unschedulable".into(),
            message: c.message.clone().unwrap_or_default(),
        });
    }
    for cs in container_statuses(pod) {
        let state = cs.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
        // OOMKilled first: a container killed for memory then sits in
        // CrashLoopBackOff, and the memory is what the user has to fix.
        let oom = terminated
            .filter(|t| t.reason.as_deref() == Some("OOMKilled"))
            .or(last.filter(|t| cs.restart_count > 0 && t.reason.as_deref() == Some("OOMKilled")));
        if let Some(t) = oom {
            let limit = memory_limit(pod, &cs.name)
                .map(|l| format!(", memory limit {l}"))
                .unwrap_or_default();
            return Some(Failure {
                pod: Some(name),
                container: Some(cs.name.clone()),
                reason: "OOMKilled".into(),
                message: format!(
                    "container {} was killed for using too much memory (exit code {}{limit}), restarted {} times",
                    cs.name, t.exit_code, cs.restart_count
                ),
            });
        }
        let waiting = state.and_then(|s| s.waiting.as_ref());
        if let Some(reason) = waiting
            .and_then(|w| w.reason.as_deref())
            .filter(|r| FATAL_WAITING_REASONS.contains(r))
        {
            let mut message = waiting.and_then(|w| w.message.clone()).unwrap_or_default();
            // A back-off message says nothing about why the container exits.
            if let Some(t) = last {
                let why = t.reason.as_deref().unwrap_or("exited");
                message = format!(
                    "{message}{}last exit code {} ({why}), {} restarts",
                    if message.is_empty() { "" } else { "; " },
                    t.exit_code,
                    cs.restart_count
                );
            }
            return Some(Failure {
                pod: Some(name),
                container: Some(cs.name.clone()),
                reason: reason.to_string(),
                message,
            });
        }
    }
    None
}

fn memory_limit(pod: &Pod, container: &str) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .find(|c| c.name == container)?
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")
        .map(|q| q.0.clone())
}

fn deadline_exceeded(deployment: &Deployment) -> Option<Failure> {
    let cond = deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Progressing")?;
    (cond.status == "False" && cond.reason.as_deref() == Some("ProgressDeadlineExceeded")).then(
        || Failure {
            pod: None,
            container: None,
            reason: "ProgressDeadlineExceeded".into(),
            message: cond.message.clone().unwrap_or_default(),
        },
    )
}

/// Waits until Deployment `name` is fully rolled out and available, or fails
/// fast, or `timeout` passes.
///
/// It lists and then watches the Deployment and the pods of its current
/// ReplicaSet (the one whose revision annotation equals the Deployment's),
/// resuming from the list's resourceVersion; a dropped watch resumes from the
/// last event seen and a 410 Gone relists. When the Deployment's revision
/// changes during the wait (someone rolled out again), it follows the new
/// ReplicaSet. `on_change` gets the observed state each time its summary line
/// changes: the front end prints it.
///
/// An `Err` is for what is not an answer about health: the Deployment does not
/// exist or was deleted, or the API server cannot be reached or refused us.
pub async fn wait_for_deployment(
    client: &Client,
    ns: &str,
    name: &str,
    timeout: Duration,
    on_change: &mut (dyn FnMut(&Observed) + Send),
) -> Result<Outcome> {
    let mut last = None;
    let waiting = watch_deployment(client, ns, name, on_change, &mut last);
    match tokio::time::timeout(timeout, waiting).await {
        Ok(done) => done,
        Err(_) => Ok(Outcome::TimedOut(
            last.unwrap_or_else(|| Observed::nothing(name)),
        )),
    }
}

/// The ReplicaSet whose pods are the Deployment's current version.
struct Target {
    revision: String,
    uid: String,
}

async fn watch_deployment(
    client: &Client,
    ns: &str,
    name: &str,
    on_change: &mut (dyn FnMut(&Observed) + Send),
    last: &mut Option<Observed>,
) -> Result<Outcome> {
    let gone = || {
        Error::new(
            Exit::Failed,
            format!("deployment {name} was deleted while waiting for it"),
        )
    };
    let mut feed = Feed::new(
        Api::<Deployment>::namespaced(client.clone(), ns),
        None,
        Some(format!("metadata.name={name}")),
    );
    let mut deployment = feed
        .list()
        .await
        .with_context(|| format!("reading deployment {name}"))?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::new(
                Exit::Precondition,
                format!("deployment {name} not found in namespace {ns}"),
            )
        })?;
    let mut deployments = feed.changes();
    let mut target: Option<Target> = None;
    let mut pod_changes: Option<Changes<Pod>> = None;
    let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
    loop {
        let revision = deployment.annotations().get(REVISION_ANNOTATION);
        // Re-resolve when the revision moved (a new rollout, or a rollback),
        // and on every Deployment change while its ReplicaSet is not found.
        if revision.is_some() && target.as_ref().map(|t| &t.revision) != revision {
            target = None;
            pod_changes = None;
            pods.clear();
            if let Some((t, selector)) = current_replica_set(client, ns, &deployment).await? {
                let mut feed = Feed::new(
                    Api::<Pod>::namespaced(client.clone(), ns),
                    Some(selector),
                    None,
                );
                let items = feed.list().await.context("listing pods")?;
                pods = owned_pods(items, &t.uid);
                target = Some(t);
                pod_changes = Some(feed.changes());
            }
        }

        let pod_list: Vec<Pod> = pods.values().cloned().collect();
        let Assessment { verdict, observed } = assess(&deployment, &pod_list);
        if last.as_ref().map(|o| &o.summary) != Some(&observed.summary) {
            on_change(&observed);
        }
        *last = Some(observed.clone());
        match verdict {
            Verdict::Healthy => return Ok(Outcome::Healthy(observed)),
            Verdict::Failed(f) => return Ok(Outcome::Failed(f, observed)),
            Verdict::Progressing => {}
        }

        // Streams, not futures made afresh for each select: the branch that
        // loses keeps its half-done work (a watch request in flight, a relist)
        // instead of dropping it.
        tokio::select! {
            Some(change) = deployments.next() => match change.context("watching the deployment")? {
                Change::Listed(items) => deployment = items.into_iter().next().ok_or_else(gone)?,
                Change::Applied(d) => deployment = d,
                Change::Deleted(_) => return Err(gone().into()),
            },
            Some(change) = next_of(&mut pod_changes) => {
                let uid = target.as_ref().map(|t| t.uid.as_str()).unwrap_or_default();
                match change.context("watching pods")? {
                    Change::Listed(items) => pods = owned_pods(items, uid),
                    Change::Applied(p) if controlled_by(&p, uid) => {
                        pods.insert(p.name_any(), p);
                    }
                    Change::Applied(p) | Change::Deleted(p) => {
                        pods.remove(&p.name_any());
                    }
                }
            }
            // Feeds never end (a closed watch is resumed), so this is a bug.
            else => anyhow::bail!("the watch of deployment {name} ended"),
        }
    }
}

/// The next change of an optional feed; never, when there is none.
pub(crate) async fn next_of<K>(changes: &mut Option<Changes<K>>) -> Option<Result<Change<K>>> {
    match changes {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

/// Whether `obj` has a controller owner reference to `uid`.
pub(crate) fn controlled_by<K: Resource>(obj: &K, uid: &str) -> bool {
    obj.meta()
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

/// The label selector narrows the list; the owner check makes it exact, since
/// another workload's pods could carry the same labels.
fn owned_pods(items: Vec<Pod>, rs_uid: &str) -> BTreeMap<String, Pod> {
    items
        .into_iter()
        .filter(|p| controlled_by(p, rs_uid))
        .map(|p| (p.name_any(), p))
        .collect()
}

/// Finds the Deployment's current ReplicaSet and the label selector of its pods.
async fn current_replica_set(
    client: &Client,
    ns: &str,
    deployment: &Deployment,
) -> Result<Option<(Target, String)>> {
    let Some(revision) = deployment.annotations().get(REVISION_ANNOTATION) else {
        return Ok(None);
    };
    let uid = deployment.metadata.uid.clone().unwrap_or_default();
    let label_selector = deployment
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    let selector = Selector::try_from(label_selector)
        .with_context(|| format!("the selector of deployment {}", deployment.name_any()))?;
    let api = Api::<ReplicaSet>::namespaced(client.clone(), ns);
    let list = api
        .list(&ListParams::default().labels(&selector.to_string()))
        .await
        .context("listing replicasets")?;
    let Some(rs) = list.items.into_iter().find(|rs| {
        controlled_by(rs, &uid) && rs.annotations().get(REVISION_ANNOTATION) == Some(revision)
    }) else {
        return Ok(None);
    };
    let Some(hash) = rs.labels().get(POD_TEMPLATE_HASH).cloned() else {
        return Ok(None);
    };
    let mut pod_selector = selector;
    pod_selector.extend(Expression::Equal(POD_TEMPLATE_HASH.into(), hash));
    Ok(Some((
        Target {
            revision: revision.clone(),
            uid: rs.metadata.uid.clone().unwrap_or_default(),
        },
        pod_selector.to_string(),
    )))
}

/// The changes of a [`Feed`], as a stream that never ends.
pub(crate) type Changes<K> = BoxStream<'static, Result<Change<K>>>;

/// A change seen by a [`Feed`].
pub(crate) enum Change<K> {
    /// A fresh list replaces everything known (first list, or after 410 Gone).
    Listed(Vec<K>),
    Applied(K),
    Deleted(K),
}

/// List-then-watch of one kind of object, resuming where it left off: what
/// kube's `runtime::watcher` does, in the few lines this module needs.
pub(crate) struct Feed<K> {
    api: Api<K>,
    list_params: ListParams,
    watch_params: WatchParams,
    resource_version: String,
    stream: Option<BoxStream<'static, kube::Result<WatchEvent<K>>>>,
    /// Watches in a row that failed or ended before delivering anything.
    restarts: u32,
}

/// Consecutive failed watch requests after which the error is reported: the
/// API server is more likely gone than busy.
const MAX_WATCH_ERRORS: u32 = 5;

impl<K> Feed<K>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug + Send + 'static,
{
    pub(crate) fn new(api: Api<K>, labels: Option<String>, fields: Option<String>) -> Self {
        let mut list_params = ListParams::default();
        let mut watch_params = WatchParams::default();
        if let Some(l) = &labels {
            list_params = list_params.labels(l);
            watch_params = watch_params.labels(l);
        }
        if let Some(f) = &fields {
            list_params = list_params.fields(f);
            watch_params = watch_params.fields(f);
        }
        Feed {
            api,
            list_params,
            watch_params,
            resource_version: String::new(),
            stream: None,
            restarts: 0,
        }
    }

    pub(crate) async fn list(&mut self) -> kube::Result<Vec<K>> {
        self.stream = None;
        let list = self.api.list(&self.list_params).await?;
        self.resource_version = list.metadata.resource_version.unwrap_or_default();
        Ok(list.items)
    }

    fn seen(&mut self, obj: &K) {
        if let Some(rv) = &obj.meta().resource_version {
            self.resource_version = rv.clone();
        }
        self.restarts = 0;
    }

    /// Every change from the last list on, as a stream.
    pub(crate) fn changes(self) -> Changes<K> {
        futures_util::stream::unfold(self, |mut feed| async move {
            let change = feed.next().await;
            Some((change, feed))
        })
        .boxed()
    }

    /// The next change.
    async fn next(&mut self) -> Result<Change<K>> {
        loop {
            if self.stream.is_none() {
                if self.restarts > 1 {
                    // Back off a server that ends or refuses watches at once;
                    // the first restart after a normal end needs no pause.
                    let ms = 50u64 << self.restarts.min(6);
                    tokio::time::sleep(Duration::from_millis(ms.min(2000))).await;
                }
                match self
                    .api
                    .watch(&self.watch_params, &self.resource_version)
                    .await
                {
                    Ok(s) => self.stream = Some(s.boxed()),
                    Err(e) if is_gone(&e) => return Ok(Change::Listed(self.list().await?)),
                    Err(e) if retryable(&e) && self.restarts < MAX_WATCH_ERRORS => {
                        self.restarts += 1;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let Some(stream) = self.stream.as_mut() else {
                continue;
            };
            match stream.next().await {
                Some(Ok(WatchEvent::Added(o) | WatchEvent::Modified(o))) => {
                    self.seen(&o);
                    return Ok(Change::Applied(o));
                }
                Some(Ok(WatchEvent::Deleted(o))) => {
                    self.seen(&o);
                    return Ok(Change::Deleted(o));
                }
                Some(Ok(WatchEvent::Bookmark(b))) => {
                    self.resource_version = b.metadata.resource_version;
                    self.restarts = 0;
                }
                Some(Ok(WatchEvent::Error(status))) if status.code == 410 => {
                    return Ok(Change::Listed(self.list().await?));
                }
                Some(Err(e)) if is_gone(&e) => return Ok(Change::Listed(self.list().await?)),
                // Any other end of the stream (closed by the server or a
                // proxy, an error event, a broken connection): resume from the
                // last event seen, which loses nothing.
                Some(Ok(WatchEvent::Error(_)) | Err(_)) | None => {
                    self.stream = None;
                    self.restarts += 1;
                }
            }
        }
    }
}

fn is_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 410)
}

/// Errors a busy or restarting API server gives; worth another watch request.
fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// An HTTP answer, through the service proxy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpAnswer {
    /// The HTTP status code.
    pub status: u16,
    /// The start of the body on one line; for the API server's own answers,
    /// its message.
    pub body: String,
    /// Set when the API server answered rather than the application: the
    /// Kubernetes reason, e.g. `ServiceUnavailable` (no ready endpoint),
    /// `NotFound` (no such Service) or `Forbidden` (RBAC).
    pub api_reason: Option<String>,
}

impl fmt::Display for HttpAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(r) = &self.api_reason {
            write!(f, " from the API server ({r})")?;
        }
        if !self.body.is_empty() {
            write!(f, ": {}", self.body)?;
        }
        Ok(())
    }
}

/// How much of a body to keep: enough for `{"status":"DOWN", ...}` and a short
/// error, not a whole HTML page in a Jenkins log.
const BODY_EXCERPT: usize = 200;

/// The service proxy path: `/api/v1/namespaces/NS/services/NAME[:PORT]/proxy/PATH`.
pub fn proxy_path(ns: &str, service: &str, port: Option<&str>, path: &str) -> String {
    let target = match port {
        Some(p) if !p.is_empty() => format!("{service}:{p}"),
        _ => service.to_string(),
    };
    format!(
        "/api/v1/namespaces/{ns}/services/{target}/proxy/{}",
        path.trim_start_matches('/')
    )
}

fn excerpt(body: &[u8]) -> (String, Option<String>) {
    let text = String::from_utf8_lossy(body);
    // The API server's own errors are Status objects; their message is what
    // a person needs ("no endpoints available for service web").
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && v["kind"] == "Status"
        && v["apiVersion"] == "v1"
    {
        let message = v["message"].as_str().unwrap_or_default();
        let reason = v["reason"].as_str().unwrap_or("Unknown");
        return (shorten(message), Some(reason.to_string()));
    }
    (shorten(&text), None)
}

fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(BODY_EXCERPT) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// One HTTP GET through the API server's service proxy:
/// `/api/v1/namespaces/{ns}/services/{service}[:{port}]/proxy/{path}`.
///
/// Any HTTP status comes back as a value; transport errors are `Err`. The
/// client should not retry on its own (`Config::default_retry = false`, as
/// `connect` sets), or a 503 answer is retried inside kube.
pub async fn http_check(
    client: &Client,
    ns: &str,
    service: &str,
    port: Option<&str>,
    path: &str,
) -> Result<HttpAnswer> {
    let uri = proxy_path(ns, service, port, path);
    let request = http::Request::get(&uri)
        .header(http::header::ACCEPT, "application/json, */*")
        .body(kube::client::Body::empty())
        .with_context(|| format!("building the request GET {uri}"))?;
    let response = client
        .send(request)
        .await
        .with_context(|| format!("GET {uri}"))?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect_bytes()
        .await
        .with_context(|| format!("reading the answer to GET {uri}"))?;
    let (body, api_reason) = excerpt(&body);
    Ok(HttpAnswer {
        status,
        body,
        api_reason,
    })
}

/// Retries an HTTP check until it answers `expect` or `timeout` passes;
/// backoff 200 ms doubling to 2 s. The last answer comes back either way.
async fn retry_http<F, Fut>(
    what: &str,
    expect: u16,
    timeout: Duration,
    on_change: &mut (dyn FnMut(&HttpAnswer) + Send),
    mut check: F,
    refused: impl Fn(&HttpAnswer) -> Option<Error>,
) -> Result<(bool, HttpAnswer)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<HttpAnswer>>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(200);
    let mut last: Option<HttpAnswer> = None;
    let mut last_error: Option<anyhow::Error> = None;
    loop {
        match tokio::time::timeout_at(deadline, check()).await {
            Ok(Ok(answer)) => {
                if last.as_ref() != Some(&answer) {
                    on_change(&answer);
                }
                if answer.status == expect {
                    return Ok((true, answer));
                }
                if let Some(e) = refused(&answer) {
                    return Err(e.into());
                }
                last = Some(answer);
                last_error = None;
            }
            Ok(Err(e)) => last_error = Some(e),
            Err(_) => break,
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep_until((now + delay).min(deadline)).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
    match (last, last_error) {
        (_, Some(e)) => Err(e),
        (Some(answer), None) => Ok((false, answer)),
        (None, None) => Err(Error::new(
            Exit::Timeout,
            format!("no HTTP answer from {what} within {}", human(timeout)),
        )
        .into()),
    }
}

/// Asks [`http_check`] until it answers `expect` or `timeout` passes, backing
/// off from 200 ms to 2 s between tries (HTTP has no watch). Returns whether
/// it passed and the last answer; `on_change` gets each answer that differs
/// from the one before.
///
/// It gives up early, as `Err`, when the API server refuses the proxy request
/// (401/403: exit 5) or the Service does not exist (exit 3): waiting cannot fix
/// either. Transport errors are retried until the timeout, then returned.
#[allow(clippy::too_many_arguments)]
pub async fn wait_for_http(
    client: &Client,
    ns: &str,
    service: &str,
    port: Option<&str>,
    path: &str,
    expect: u16,
    timeout: Duration,
    on_change: &mut (dyn FnMut(&HttpAnswer) + Send),
) -> Result<(bool, HttpAnswer)> {
    let what = format!("service {service}");
    retry_http(
        &what,
        expect,
        timeout,
        on_change,
        || http_check(client, ns, service, port, path),
        |a| refusal(a, ns, service),
    )
    .await
}

/// Like `wait_for_http`, against a plain URL (a Jenkins agent that can reach it).
pub async fn wait_for_url(
    url: &str,
    expect: u16,
    timeout: Duration,
    on_change: &mut (dyn FnMut(&HttpAnswer) + Send),
) -> Result<(bool, HttpAnswer)> {
    let per_try = Duration::from_secs(10).min(timeout.max(Duration::from_millis(100)));
    retry_http(
        "the URL",
        expect,
        timeout,
        on_change,
        || crate::http::get(url, per_try),
        |_| None,
    )
    .await
}

/// An answer of the API server itself that no amount of waiting changes.
fn refusal(answer: &HttpAnswer, ns: &str, service: &str) -> Option<Error> {
    let reason = answer.api_reason.as_deref()?;
    match (answer.status, reason) {
        (401 | 403, _) => Some(
            Error::new(
                Exit::Unreachable,
                format!(
                    "the API server refused the service proxy request: {}",
                    answer.body
                ),
            )
            .hint("the checking identity needs get on services/proxy in this namespace; rbac/role.yaml grants it"),
        ),
        (404, "NotFound") if answer.body.starts_with("services ") => Some(
            Error::new(
                Exit::Precondition,
                format!("service {service} not found in namespace {ns}"),
            )
            .hint("check the service name and -n/--namespace"),
        ),
        _ => None,
    }
}

/// `1.5s`, `2m`, for messages.
fn human(d: Duration) -> String {
    if d.as_secs() >= 60 && d.as_secs().is_multiple_of(60) {
        format!("{}m", d.as_secs() / 60)
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn deployment(generation: i64, observed: i64, status: Value) -> Deployment {
        let mut s = status;
        s["observedGeneration"] = json!(observed);
        serde_json::from_value(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web-green",
                "namespace": "default",
                "generation": generation,
                "annotations": { REVISION_ANNOTATION: "2" },
            },
            "spec": {
                "replicas": 3,
                "selector": { "matchLabels": { "app": "web" } },
                "template": { "metadata": { "labels": { "app": "web" } }, "spec": { "containers": [{ "name": "web", "image": "web:2" }] } },
            },
            "status": s,
        }))
        .unwrap()
    }

    fn counts(replicas: i32, updated: i32, ready: i32, available: i32) -> Value {
        json!({
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
        })
    }

    fn pod(name: &str, status: Value) -> Pod {
        serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": { "name": name, "namespace": "default" },
            "spec": { "containers": [{ "name": "web", "image": "web:2", "resources": { "limits": { "memory": "64Mi" } } }] },
            "status": status,
        }))
        .unwrap()
    }

    fn ready_pod(name: &str) -> Pod {
        pod(
            name,
            json!({
                "phase": "Running",
                "conditions": [{ "type": "Ready", "status": "True" }],
                "containerStatuses": [{ "name": "web", "image": "web:2", "imageID": "", "ready": true, "restartCount": 0, "state": { "running": {} } }],
            }),
        )
    }

    fn waiting_pod(name: &str, reason: &str, message: &str, restarts: i32, last: Value) -> Pod {
        pod(
            name,
            json!({
                "phase": "Pending",
                "conditions": [{ "type": "Ready", "status": "False", "reason": "ContainersNotReady" }],
                "containerStatuses": [{
                    "name": "web", "image": "web:2", "imageID": "", "ready": false,
                    "restartCount": restarts,
                    "state": { "waiting": { "reason": reason, "message": message } },
                    "lastState": last,
                }],
            }),
        )
    }

    fn crashing(name: &str) -> Pod {
        waiting_pod(
            name,
            "CrashLoopBackOff",
            "back-off 10s restarting failed container=web",
            3,
            json!({ "terminated": { "exitCode": 1, "reason": "Error" } }),
        )
    }

    #[test]
    fn fully_rolled_out_is_healthy() {
        let d = deployment(2, 2, counts(3, 3, 3, 3));
        let pods: Vec<Pod> = ["a", "b", "c"].iter().map(|n| ready_pod(n)).collect();
        let a = assess(&d, &pods);
        assert_eq!(a.verdict, Verdict::Healthy);
        assert_eq!(
            a.observed.summary,
            "web-green: 3/3 ready, 3 updated, 3 available"
        );
        assert!(a.observed.not_ready.is_empty());
    }

    #[test]
    fn old_pods_left_or_unavailable_pods_mean_progressing() {
        let with_old = assess(&deployment(2, 2, counts(4, 3, 4, 4)), &[]);
        assert_eq!(with_old.verdict, Verdict::Progressing);
        assert_eq!(with_old.observed.old, 1);
        assert!(
            with_old.observed.summary.ends_with(", 1 old"),
            "{}",
            with_old.observed.summary
        );

        let pods = [
            ready_pod("a"),
            ready_pod("b"),
            waiting_pod("c", "ContainerCreating", "", 0, json!({})),
        ];
        let a = assess(&deployment(2, 2, counts(3, 3, 2, 2)), &pods);
        assert_eq!(a.verdict, Verdict::Progressing);
        assert_eq!(
            a.observed.summary,
            "web-green: 2/3 ready, 3 updated, 2 available; not ready: 1 ContainerCreating"
        );
        assert_eq!(a.observed.not_ready, ["c: ContainerCreating"]);
    }

    #[test]
    fn a_stale_generation_is_never_healthy_nor_blamed() {
        // The counts describe the previous template, and so may its crashing pods.
        let a = assess(&deployment(3, 2, counts(3, 3, 3, 3)), &[crashing("old-a")]);
        assert_eq!(a.verdict, Verdict::Progressing);
        assert!(!a.observed.current);
        assert!(a.observed.summary.contains("waiting for the controller"));
    }

    #[test]
    fn crashloop_names_pod_container_and_last_exit() {
        let pods = [ready_pod("web-green-1"), crashing("web-green-2")];
        let a = assess(&deployment(2, 2, counts(3, 3, 1, 1)), &pods);
        let Verdict::Failed(f) = a.verdict else {
            panic!("{:?}", a.verdict)
        };
        assert_eq!(f.pod.as_deref(), Some("web-green-2"));
        assert_eq!(f.container.as_deref(), Some("web"));
        assert_eq!(f.reason, "CrashLoopBackOff");
        assert_eq!(
            f.message,
            "back-off 10s restarting failed container=web; last exit code 1 (Error), 3 restarts"
        );
        assert_eq!(
            f.to_string(),
            format!(
                "pod web-green-2 container web: CrashLoopBackOff: {}",
                f.message
            )
        );
    }

    #[test]
    fn oom_wins_over_the_back_off_it_causes() {
        let p = waiting_pod(
            "web-green-1",
            "CrashLoopBackOff",
            "back-off",
            2,
            json!({ "terminated": { "exitCode": 137, "reason": "OOMKilled" } }),
        );
        let Verdict::Failed(f) = assess(&deployment(1, 1, counts(1, 1, 0, 0)), &[p]).verdict else {
            panic!()
        };
        assert_eq!(f.reason, "OOMKilled");
        assert!(
            f.message.contains("exit code 137, memory limit 64Mi"),
            "{}",
            f.message
        );
        assert!(f.message.contains("restarted 2 times"), "{}", f.message);
    }

    #[test]
    fn image_and_config_errors_fail() {
        for reason in [
            "ErrImagePull",
            "ImagePullBackOff",
            "CreateContainerConfigError",
            "InvalidImageName",
        ] {
            let p = waiting_pod("p", reason, "details", 0, json!({}));
            let Verdict::Failed(f) = assess(&deployment(1, 1, counts(1, 1, 0, 0)), &[p]).verdict
            else {
                panic!("{reason}")
            };
            assert_eq!(f.reason, reason);
            assert_eq!(f.message, "details");
        }
        // Creating a container is what pods do at first.
        let p = waiting_pod("p", "ContainerCreating", "", 0, json!({}));
        assert_eq!(
            assess(&deployment(1, 1, counts(1, 1, 0, 0)), &[p]).verdict,
            Verdict::Progressing
        );
    }

    #[test]
    fn init_containers_are_checked_too() {
        let mut p = ready_pod("p");
        p.status.as_mut().unwrap().init_container_statuses =
            Some(vec![serde_json::from_value(json!({
            "name": "migrate", "image": "m", "imageID": "", "ready": false, "restartCount": 1,
            "state": { "waiting": { "reason": "CrashLoopBackOff" } },
        })).unwrap()]);
        let Verdict::Failed(f) = assess(&deployment(1, 1, counts(1, 1, 0, 0)), &[p]).verdict else {
            panic!()
        };
        assert_eq!(f.container.as_deref(), Some("migrate"));
    }

    #[test]
    fn unschedulable_carries_the_scheduler_message() {
        let p = pod(
            "p",
            json!({
                "phase": "Pending",
                "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available: 1 Insufficient cpu." }],
            }),
        );
        let Verdict::Failed(f) = assess(&deployment(1, 1, counts(1, 1, 0, 0)), &[p]).verdict else {
            panic!()
        };
        assert_eq!(f.reason, "Unschedulable");
        assert_eq!(f.container, None);
        assert_eq!(f.message, "0/1 nodes are available: 1 Insufficient cpu.");
    }

    #[test]
    fn progress_deadline_fails_and_names_a_waiting_pod() {
        let mut status = counts(1, 1, 0, 0);
        status["conditions"] = json!([
            { "type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable" },
            { "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-green-abc\" has timed out progressing." },
        ]);
        let p = pod(
            "web-green-abc-x",
            json!({ "phase": "Running", "conditions": [{ "type": "Ready", "status": "False" }], "containerStatuses": [{ "name": "web", "image": "web:2", "imageID": "", "ready": false, "restartCount": 0, "state": { "running": {} } }] }),
        );
        let Verdict::Failed(f) = assess(&deployment(1, 1, status), &[p]).verdict else {
            panic!()
        };
        assert_eq!(f.reason, "ProgressDeadlineExceeded");
        assert_eq!(f.pod, None);
        assert_eq!(
            f.message,
            "ReplicaSet \"web-green-abc\" has timed out progressing.; pod web-green-abc-x: Running"
        );
    }

    #[test]
    fn terminating_pods_are_not_blamed() {
        let mut p = crashing("going");
        p.metadata.deletion_timestamp =
            Some(serde_json::from_value(json!("2025-01-01T00:00:00Z")).unwrap());
        let mut d = deployment(1, 1, counts(1, 1, 1, 1));
        d.spec.as_mut().unwrap().replicas = Some(1);
        let a = assess(&d, &[p, ready_pod("staying")]);
        assert_eq!(a.verdict, Verdict::Healthy);
    }

    #[test]
    fn zero_replicas_is_healthy_at_once() {
        let mut d = deployment(1, 1, json!({}));
        d.spec.as_mut().unwrap().replicas = Some(0);
        assert_eq!(assess(&d, &[]).verdict, Verdict::Healthy);
    }

    #[test]
    fn proxy_paths_and_excerpts() {
        assert_eq!(
            proxy_path("prod", "web", Some("http"), "/actuator/health"),
            "/api/v1/namespaces/prod/services/web:http/proxy/actuator/health"
        );
        assert_eq!(
            proxy_path("prod", "web", None, "healthz?full=1"),
            "/api/v1/namespaces/prod/services/web/proxy/healthz?full=1"
        );
        assert_eq!(
            excerpt(b"{\"status\":\"UP\"}\n"),
            ("{\"status\":\"UP\"}".into(), None)
        );
        let status = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"web\"","reason":"ServiceUnavailable","code":503}"#;
        assert_eq!(
            excerpt(status),
            (
                "no endpoints available for service \"web\"".into(),
                Some("ServiceUnavailable".into())
            )
        );
        let long = "x".repeat(500);
        assert_eq!(excerpt(long.as_bytes()).0.chars().count(), BODY_EXCERPT + 1);
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
