//! One list-then-watch loop for the kinds beside Deployments: the object (by
//! name) and its pods (by its selector, owned by it), re-assessed on every
//! change, as `health::wait_for_deployment` does for Deployments.

use std::collections::BTreeMap;
use std::fmt::Debug;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams};
use kube::core::Selector;
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::{Status, Target};
use crate::exit::{Error, Exit};
use crate::health::{Change, Changes, Feed, controlled_by, next_of};

/// What the loop needs of a kind.
pub(crate) trait Workload:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    /// Whether its revisions are ControllerRevisions (read them to know the
    /// current one).
    const HISTORY: bool;
    /// The selector of its pods.
    fn selector(&self) -> Option<LabelSelector>;
    /// The rule: the object, its live and dead pods (owned by it), and its
    /// ControllerRevisions (empty unless `HISTORY`).
    fn assess(&self, pods: &[Pod], history: &[ControllerRevision]) -> Status;
    /// What, when it changes, makes the ControllerRevisions worth reading again.
    fn history_key(&self) -> String {
        String::new()
    }
}

/// The ControllerRevisions `obj` owns.
pub(crate) async fn history<W: Workload>(
    client: &Client,
    obj: &W,
) -> Result<Vec<ControllerRevision>> {
    let ns = obj.namespace().unwrap_or_default();
    let uid = obj.meta().uid.clone().unwrap_or_default();
    let mut lp = ListParams::default();
    if let Some(s) = obj.selector() {
        let s =
            Selector::try_from(s).with_context(|| format!("the selector of {}", obj.name_any()))?;
        lp = lp.labels(&s.to_string());
    }
    let list = Api::<ControllerRevision>::namespaced(client.clone(), &ns)
        .list(&lp)
        .await
        .context("listing controllerrevisions")?;
    Ok(list
        .items
        .into_iter()
        .filter(|r| controlled_by(r, &uid))
        .collect())
}

/// Follows `t` until its rule says done, failed or will not roll; `report`
/// gets every status.
pub(crate) async fn follow<W: Workload>(
    client: &Client,
    t: &Target,
    report: &mut (dyn FnMut(&Status) + Send),
) -> Result<Status> {
    let what = t.to_string();
    let gone = || {
        Error::new(
            Exit::Failed,
            format!("{what} was deleted while waiting for it"),
        )
    };
    let mut feed = Feed::new(
        Api::<W>::namespaced(client.clone(), &t.namespace),
        None,
        Some(format!("metadata.name={}", t.name)),
    );
    let mut obj = feed
        .list()
        .await
        .with_context(|| format!("reading {what}"))?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::new(
                Exit::Precondition,
                format!("{what} not found in namespace {}", t.namespace),
            )
        })?;
    let mut objects = feed.changes();
    let uid = obj.meta().uid.clone().unwrap_or_default();
    let mut selector: Option<String> = None;
    let mut pod_changes: Option<Changes<Pod>> = None;
    let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
    let mut revisions: Vec<ControllerRevision> = Vec::new();
    let mut history_key: Option<String> = None;
    loop {
        let want = match obj.selector() {
            Some(s) => Some(
                Selector::try_from(s)
                    .with_context(|| format!("the selector of {what}"))?
                    .to_string(),
            ),
            None => None,
        };
        if pod_changes.is_none() || want != selector {
            let mut feed = Feed::new(
                Api::<Pod>::namespaced(client.clone(), &t.namespace),
                want.clone(),
                None,
            );
            let items = feed.list().await.context("listing pods")?;
            pods = items
                .into_iter()
                .filter(|p| controlled_by(p, &uid))
                .map(|p| (p.name_any(), p))
                .collect();
            pod_changes = Some(feed.changes());
            selector = want;
        }
        if W::HISTORY && history_key.as_deref() != Some(obj.history_key().as_str()) {
            revisions = history(client, &obj).await?;
            history_key = Some(obj.history_key());
        }
        let list: Vec<Pod> = pods.values().cloned().collect();
        let status = obj.assess(&list, &revisions);
        report(&status);
        if status.state != super::State::Progressing {
            return Ok(status);
        }
        tokio::select! {
            Some(change) = objects.next() => match change.with_context(|| format!("watching {what}"))? {
                Change::Listed(items) => obj = items.into_iter().next().ok_or_else(gone)?,
                Change::Applied(o) => obj = o,
                Change::Deleted(_) => return Err(gone().into()),
            },
            Some(change) = next_of(&mut pod_changes) => match change.context("watching pods")? {
                Change::Listed(items) => {
                    pods = items
                        .into_iter()
                        .filter(|p| controlled_by(p, &uid))
                        .map(|p| (p.name_any(), p))
                        .collect();
                }
                Change::Applied(p) if controlled_by(&p, &uid) => {
                    pods.insert(p.name_any(), p);
                }
                Change::Applied(p) | Change::Deleted(p) => {
                    pods.remove(&p.name_any());
                }
            },
            // Feeds never end (a closed watch is resumed), so this is a bug.
            else => anyhow::bail!("the watch of {what} ended"),
        }
    }
}

/// The newest ControllerRevision, by revision number.
pub(crate) fn newest(history: &[ControllerRevision]) -> Option<&ControllerRevision> {
    history.iter().max_by_key(|r| r.revision)
}
