//! The replica split: one Service over both Deployments; a fixed total of pods
//! divided by the weight (10 at 30 → 7 stable, 3 canary). When the split cannot
//! hit the weight exactly, the achieved weight is reported.

use std::collections::BTreeMap;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::{Api, Patch};
use serde_json::json;

use super::{Carrier, Weight, params, write_error};
use crate::canary::{App, replicas};

/// The weight asked last, kept on the canary Deployment: pod counts alone
/// cannot tell 30 from 33.
pub const WEIGHT: &str = "switchyard.dev/weight";

fn template_labels(d: &Deployment) -> BTreeMap<String, String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

/// Whether `svc` selects the pods of both Deployments: the replica split's
/// carrier.
pub fn selects_both(svc: &Service, stable: &Deployment, canary: &Deployment) -> bool {
    let (s, c) = (template_labels(stable), template_labels(canary));
    svc.spec
        .as_ref()
        .and_then(|sp| sp.selector.as_ref())
        .is_some_and(|sel| {
            !sel.is_empty()
                && sel
                    .iter()
                    .all(|(k, v)| s.get(k) == Some(v) && c.get(k) == Some(v))
        })
}

pub fn detect(app: &App) -> Option<Carrier> {
    app.services
        .iter()
        .find(|svc| selects_both(svc, &app.stable, &app.canary))
        .and_then(|svc| svc.metadata.name.clone())
        .map(Carrier::Replicas)
}

/// (stable, canary) pods for `w` percent of `total`, rounding half up.
pub fn split(total: i32, w: u8) -> (i32, i32) {
    let canary = (total * w as i32 + 50) / 100;
    (total - canary, canary)
}

fn achieved(stable: i32, canary: i32) -> f64 {
    if stable + canary == 0 {
        0.0
    } else {
        (canary as f64 * 1000.0 / (stable + canary) as f64).round() / 10.0
    }
}

pub fn weight(app: &App) -> Weight {
    let (s, c) = (replicas(&app.stable), replicas(&app.canary));
    let got = achieved(s, c);
    let asked = app
        .canary
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(WEIGHT))
        .and_then(|w| w.parse().ok())
        .filter(|w: &u8| split(s + c, *w) == (s, c))
        .unwrap_or(got.round() as u8);
    Weight {
        weight: asked,
        achieved: Some(got),
    }
}

pub async fn set(
    client: &Client,
    app: &App,
    w: u8,
    total: Option<i32>,
    annotations: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<Weight> {
    let total = total
        .unwrap_or(replicas(&app.stable) + replicas(&app.canary))
        .max(1);
    let (stable_n, canary_n) = split(total, w);
    let api: Api<Deployment> = Api::namespaced(client.clone(), &app.namespace);
    let mut canary_annotations = annotations.clone();
    canary_annotations.insert(WEIGHT.to_string(), w.to_string());
    let stable_patch = json!({ "metadata": { "resourceVersion": app.stable.metadata.resource_version }, "spec": { "replicas": stable_n } });
    let canary_patch = json!({ "metadata": { "resourceVersion": app.canary.metadata.resource_version, "annotations": canary_annotations }, "spec": { "replicas": canary_n } });
    let (stable, canary) = (app.stable_name(), app.canary_name());
    let write = |name: String, patch: serde_json::Value| {
        let api = api.clone();
        async move {
            api.patch(&name, &params(dry_run), &Patch::Merge(&patch))
                .await
                .map_err(|e| write_error(e, &format!("Deployment {name}")))
        }
    };
    // Grow before shrinking, so capacity never dips during the change.
    if canary_n >= replicas(&app.canary) {
        write(canary, canary_patch).await?;
        write(stable, stable_patch).await?;
    } else {
        write(stable, stable_patch).await?;
        write(canary, canary_patch).await?;
    }
    Ok(Weight {
        weight: w,
        achieved: Some(achieved(stable_n, canary_n)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(split(10, 30), (7, 3));
        assert_eq!(split(10, 0), (10, 0));
        assert_eq!(split(10, 100), (0, 10));
        assert_eq!(split(4, 10), (4, 0));
        assert_eq!(split(4, 25), (3, 1));
        assert_eq!(split(3, 50), (1, 2));
        assert_eq!(achieved(3, 1), 25.0);
        assert_eq!(achieved(2, 1), 33.3);
    }
}
