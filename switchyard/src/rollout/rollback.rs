//! Putting a workload's previous revision back, as `kubectl rollout undo`
//! does (kubectl's pkg/polymorphichelpers/rollback.go), guarded so that a
//! change someone made since the rollout's own write is kept, not overwritten.
//!
//! - Deployments (`DeploymentRollbacker`): the ReplicaSet of that revision
//!   gives the template, without its `pod-template-hash` label, and the
//!   annotations (its own, such as `kubernetes.io/change-cause`, except the
//!   controller's bookkeeping, which stays the Deployment's). The Deployment
//!   controller then finds that ReplicaSet's template again, scales it back up
//!   and gives it the next revision number.
//! - StatefulSets and DaemonSets (`StatefulSetRollbacker`,
//!   `DaemonSetRollbacker`): the ControllerRevision's data is the template
//!   (`{"spec":{"template":{..., "$patch":"replace"}}}`), which replaces the
//!   object's.
//!
//! kubectl sends that unguarded; here it is a JSON Patch that first tests
//! `metadata.generation` as the rollout's write left it.

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PatchParams};
use kube::core::Selector;
use kube::{Client, ResourceExt};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Kind, Target};
use crate::exit::{Error, Exit};
use crate::guard::Guard;
use crate::health::{POD_TEMPLATE_HASH, REVISION_ANNOTATION};

/// The annotations kubectl keeps from the Deployment rather than take from the
/// ReplicaSet (`annotationsToSkip`).
const KEPT_FROM_DEPLOYMENT: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// The Deployment's annotations after an undo to a ReplicaSet's revision, as
/// kubectl computes them: the controller's bookkeeping from the Deployment,
/// everything else (`kubernetes.io/change-cause` above all) from the
/// ReplicaSet, which the controller copied from the Deployment of its time.
pub fn annotations(
    deployment: &Value,
    replica_set: &std::collections::BTreeMap<String, String>,
) -> Value {
    let mut out = Map::new();
    if let Some(mine) = deployment.as_object() {
        for k in KEPT_FROM_DEPLOYMENT {
            if let Some(v) = mine.get(*k) {
                out.insert(k.to_string(), v.clone());
            }
        }
    }
    for (k, v) in replica_set {
        if !KEPT_FROM_DEPLOYMENT.contains(&k.as_str()) {
            out.insert(k.clone(), Value::String(v.clone()));
        }
    }
    Value::Object(out)
}

/// A revision to come back to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// The number `kubectl rollout history` shows.
    pub number: i64,
    /// The ControllerRevision's name (StatefulSets, DaemonSets).
    #[serde(skip)]
    pub name: Option<String>,
}

fn selector(obj: &Value, what: &str) -> Result<String> {
    let s: LabelSelector = serde_json::from_value(obj["spec"]["selector"].clone())
        .with_context(|| format!("the selector of {what}"))?;
    Ok(Selector::try_from(s)
        .with_context(|| format!("the selector of {what}"))?
        .to_string())
}

fn owned_by(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

/// The ControllerRevisions `obj` owns.
async fn history(client: &Client, t: &Target, obj: &Value) -> Result<Vec<ControllerRevision>> {
    let uid = obj["metadata"]["uid"].as_str().unwrap_or_default();
    let lp = ListParams::default().labels(&selector(obj, &t.to_string())?);
    let list = Api::<ControllerRevision>::namespaced(client.clone(), &t.namespace)
        .list(&lp)
        .await
        .context("listing controllerrevisions")?;
    Ok(list
        .items
        .into_iter()
        .filter(|r| owned_by(&r.metadata, uid))
        .collect())
}

/// The revision `obj` (as read, JSON) is on: the one an undo of the next
/// rollout restores. None before the controller gave it one.
pub async fn current(client: &Client, t: &Target, obj: &Value) -> Result<Option<Revision>> {
    Ok(match t.kind {
        Kind::Deployment => obj["metadata"]["annotations"][REVISION_ANNOTATION]
            .as_str()
            .and_then(|r| r.parse().ok())
            .map(|number| Revision { number, name: None }),
        Kind::StatefulSet => {
            let Some(name) = obj["status"]["updateRevision"].as_str() else {
                return Ok(None);
            };
            history(client, t, obj)
                .await?
                .into_iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .map(|r| Revision {
                    number: r.revision,
                    name: r.metadata.name,
                })
        }
        Kind::DaemonSet => history(client, t, obj)
            .await?
            .into_iter()
            .max_by_key(|r| r.revision)
            .map(|r| Revision {
                number: r.revision,
                name: r.metadata.name,
            }),
        Kind::Job => None,
    })
}

/// The template (and for Deployments the annotations) that `to` restores,
/// as `kubectl rollout undo --to-revision` computes them.
async fn restoring(
    client: &Client,
    t: &Target,
    obj: &Value,
    to: &Revision,
) -> Result<(Value, Option<Value>)> {
    let missing = || {
        Error::new(
            Exit::Failed,
            format!("{t} has no revision {} to go back to", to.number),
        )
        .hint("its revisionHistoryLimit may have removed it")
    };
    match t.kind {
        Kind::Deployment => {
            let uid = obj["metadata"]["uid"].as_str().unwrap_or_default();
            let ar = ApiResource::erase::<k8s_openapi::api::apps::v1::ReplicaSet>(&());
            let lp = ListParams::default().labels(&selector(obj, &t.to_string())?);
            let sets = Api::<DynamicObject>::namespaced_with(client.clone(), &t.namespace, &ar)
                .list(&lp)
                .await
                .context("listing replicasets")?;
            let number = to.number.to_string();
            let rs = sets
                .items
                .into_iter()
                .find(|rs| {
                    owned_by(&rs.metadata, uid)
                        && rs.annotations().get(REVISION_ANNOTATION) == Some(&number)
                })
                .ok_or_else(missing)?;
            let mut template = rs.data["spec"]["template"].clone();
            if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
                labels.remove(POD_TEMPLATE_HASH);
            }
            let annotations = annotations(&obj["metadata"]["annotations"], rs.annotations());
            Ok((template, Some(annotations)))
        }
        Kind::StatefulSet | Kind::DaemonSet => {
            let revision = history(client, t, obj)
                .await?
                .into_iter()
                .find(|r| r.metadata.name == to.name)
                .ok_or_else(missing)?;
            let mut template = revision
                .data
                .map(|d| d.0["spec"]["template"].clone())
                .unwrap_or(Value::Null);
            let Some(m) = template.as_object_mut() else {
                return Err(Error::new(
                    Exit::Failed,
                    format!(
                        "ControllerRevision {} holds no pod template",
                        to.name.as_deref().unwrap_or("")
                    ),
                )
                .into());
            };
            m.remove("$patch");
            Ok((template, None))
        }
        Kind::Job => Err(Error::new(Exit::Usage, "a Job has no revisions to go back to").into()),
    }
}

/// Restores revision `to` of `t`, provided its generation is still
/// `generation` (what the rollout's write left): else someone changed it since,
/// and that change is kept (exit 4, nothing written). Returns the object as
/// written.
pub async fn restore(
    client: &Client,
    t: &Target,
    to: &Revision,
    generation: i64,
) -> Result<DynamicObject> {
    let ar = t.kind.api_resource();
    let api = Api::<DynamicObject>::namespaced_with(client.clone(), &t.namespace, &ar);
    let what = t.to_string();
    let now = crate::guard::read_one(&api, &t.name)
        .await
        .with_context(|| format!("reading {what}"))?
        .ok_or_else(|| {
            Error::new(
                Exit::Conflict,
                format!("{what} was deleted during its rollout; nothing to roll back"),
            )
        })?;
    let obj = serde_json::to_value(&now).context("the object as JSON")?;
    let is = obj["metadata"]["generation"].as_i64().unwrap_or(0);
    if is != generation {
        return Err(Error::new(
            Exit::Conflict,
            format!(
                "{what} changed since this rollout wrote it (generation {is}, was {generation}): not rolled back, so that change stays"
            ),
        )
        .hint(format!("kubectl rollout history {what} -n {} shows what changed", t.namespace))
        .into());
    }
    let (template, annotations) = restoring(client, t, &obj, to).await?;
    let mut guard = Guard::on(&obj, what.clone())
        .expect(&["metadata", "generation"])
        .set(&["spec", "template"], template);
    if let Some(a) = annotations {
        guard = guard.set(&["metadata", "annotations"], a);
    }
    guard.send(&api, &t.name, &PatchParams::default()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_undo_takes_the_replica_sets_annotations_but_the_controllers_bookkeeping() {
        let deployment = json!({
            REVISION_ANNOTATION: "5",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "kubernetes.io/change-cause": "release 5",
            "team": "payments",
        });
        let rs = [
            (REVISION_ANNOTATION, "3"),
            ("deployment.kubernetes.io/desired-replicas", "2"),
            ("deployment.kubernetes.io/max-replicas", "3"),
            ("kubernetes.io/change-cause", "release 3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            annotations(&deployment, &rs),
            json!({
                REVISION_ANNOTATION: "5",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "kubernetes.io/change-cause": "release 3",
            })
        );
        assert_eq!(annotations(&Value::Null, &Default::default()), json!({}));
    }
}
