//! The replica split: one Service over both Deployments; a fixed total of pods
//! divided by the weight (10 at 30 → 7 stable, 3 canary). When the split cannot
//! hit the weight exactly, the achieved weight is reported.

use std::collections::BTreeMap;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::Api;
use serde_json::json;

use super::{Carrier, Weight, params, with_annotations};
use crate::canary::{App, replicas};
use crate::guard::Guard;

/// The weight asked last, kept on the canary Deployment: pod counts alone
/// cannot tell 30 from 33.
pub const WEIGHT: &str = "switchyard.dev/weight";
/// The split's total, kept on the canary Deployment beside the weight: every
/// later split divides the same total, so no sequence of sets, failed ramps
/// and aborts (nor a write that failed halfway) changes stable + canary.
pub const TOTAL: &str = "switchyard.dev/total";

/// The total the split divides: asked, else the one kept, else the pods now.
pub fn total(app: &App, asked: Option<i32>) -> i32 {
    asked
        .or_else(|| {
            app.canary
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(TOTAL))
                .and_then(|t| t.parse().ok())
        })
        .unwrap_or(replicas(&app.stable) + replicas(&app.canary))
        .max(1)
}

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
    let total = self::total(app, total);
    let (stable_n, canary_n) = split(total, w);
    let api: Api<Deployment> = Api::namespaced(client.clone(), &app.namespace);
    let mut canary_annotations = annotations.clone();
    canary_annotations.insert(WEIGHT.to_string(), w.to_string());
    canary_annotations.insert(TOTAL.to_string(), total.to_string());
    // Guarded on the replicas read: the Deployment controller's status writes
    // do not matter, an HPA or a person scaling them does.
    let (stable, canary) = (app.stable_name(), app.canary_name());
    let stable_write = Guard::on(&app.stable, format!("Deployment {stable}"))
        .expect(&["spec", "replicas"])
        .set(&["spec", "replicas"], json!(stable_n));
    let canary_write = with_annotations(
        Guard::on(&app.canary, format!("Deployment {canary}")).expect(&["spec", "replicas"]),
        &canary_annotations,
    )
    .set(&["spec", "replicas"], json!(canary_n));
    let p = params(dry_run);
    // Grow before shrinking, so capacity never dips during the change.
    let (first, second, first_was) = if canary_n >= replicas(&app.canary) {
        (
            (&canary_write, &canary),
            (&stable_write, &stable),
            &app.canary,
        )
    } else {
        (
            (&stable_write, &stable),
            (&canary_write, &canary),
            &app.stable,
        )
    };
    let written = first.0.send(&api, first.1, &p).await?;
    if let Err(e) = second.0.send(&api, second.1, &p).await {
        if dry_run {
            return Err(e);
        }
        // The first write stands alone: put it back, so the split keeps
        // its total and "nothing was changed" stays true.
        return match put_back(&api, first.1, first_was, &written).await {
            Ok(()) => Err(e),
            Err(back) => Err(crate::exit::Error::new(
                crate::exit::classify(&e),
                format!(
                    "{}; putting Deployment {} back failed too: {}",
                    crate::output::one_line(&e).trim_end_matches("; nothing was changed"),
                    first.1,
                    crate::output::one_line(&back)
                ),
            )
            .hint(format!(
                "kubectl canary abort {} sets the split back to the whole total on stable",
                app.name
            ))
            .into()),
        };
    }
    Ok(Weight {
        weight: w,
        achieved: Some(achieved(stable_n, canary_n)),
    })
}

/// Undoes a first write whose second half failed: `name` back to the
/// replicas and annotations it had (`was`), if it still has what we wrote
/// (`written`); someone else's change since stays. Retried until done.
async fn put_back(
    api: &Api<Deployment>,
    name: &str,
    was: &Deployment,
    written: &Deployment,
) -> Result<()> {
    let annotations = |d: &Deployment| d.metadata.annotations.clone().unwrap_or_default();
    crate::undo::until_done(crate::undo::DEADLINE, |_| async {
        let Some(now) = crate::guard::read_one(api, name).await? else {
            return Ok(());
        };
        if replicas(&now) != replicas(written) || annotations(&now) != annotations(written) {
            return Ok(());
        }
        let mut g = Guard::on(&now, format!("Deployment {name}"))
            .expect(&["spec", "replicas"])
            .set(&["spec", "replicas"], json!(replicas(was)));
        let old = annotations(was);
        for k in [
            WEIGHT,
            TOTAL,
            crate::history::HISTORY,
            crate::history::PREVIOUS,
            crate::history::REVISION,
        ] {
            g = g.expect(&["metadata", "annotations", k]).set_or_remove(
                &["metadata", "annotations", k],
                old.get(k).map(String::as_str),
            );
        }
        g.send(api, name, &kube::api::PatchParams::default())
            .await?;
        Ok(())
    })
    .await
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
