//! `promote`: the canary's pod template becomes the stable one; once stable
//! runs it healthily, weight 0 and the canary scaled to 0. Traffic never goes
//! to pods that are not ready: the weight moves only after the rollout.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, PatchParams};
use serde::Serialize;

use super::{App, abort, set};
use crate::exit::{Error, Exit};
use crate::guard::Guard;
use crate::traffic::Kind;
use crate::{lock, workload};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub provider: Kind,
    pub images: Vec<String>,
    /// `promoted` or `unchanged`.
    pub result: &'static str,
}

/// The stable Deployment running the canary's pod template (stable keeps its
/// own labels, which its selector needs).
pub fn promoted(app: &App) -> Deployment {
    let mut stable = app.stable.clone();
    let (Some(spec), Some(canary)) = (stable.spec.as_mut(), app.canary.spec.as_ref()) else {
        return stable;
    };
    spec.template.spec = canary.template.spec.clone();
    let annotations = canary
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.clone());
    spec.template
        .metadata
        .get_or_insert_with(Default::default)
        .annotations = annotations;
    stable
}

fn same_template(app: &App) -> bool {
    let pod = |d: &Deployment| d.spec.as_ref().and_then(|s| s.template.spec.clone());
    pod(&app.stable) == pod(&app.canary)
}

pub async fn run(
    client: &Client,
    app: &App,
    opts: &set::Options,
    timeout: Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    let t = set::traffic(client, app, opts).await?;
    let mut report = Report {
        app: app.name.clone(),
        namespace: app.namespace.clone(),
        provider: t.kind,
        images: workload::images(&app.canary),
        result: "unchanged",
    };
    let weight = t.weight(app).weight;
    if same_template(app) && weight == 0 && super::replicas(&app.canary) == 0 {
        return Ok(report);
    }
    if !same_template(app) {
        workload::readiness(&app.canary).map_err(|why| {
            Error::new(
                Exit::Precondition,
                format!("cannot promote {}: {why}", app.canary_name()),
            )
            .hint("promote what runs healthily; kubectl canary abort stops it")
        })?;
    }
    lock::with_lease(
        client,
        &app.namespace,
        &app.name,
        opts.lease_duration,
        async {
            let stable = app.stable_name();
            if !same_template(app) {
                // Guarded on the stable spec as read: its generation moves
                // with every spec change and with nothing else (the
                // controller's status writes between do not matter). A
                // leaf, because a typed object read and written back can
                // differ from the server's JSON in fields it does not model.
                let target = promoted(app);
                let template = target.spec.as_ref().map(|s| &s.template);
                Guard::on(&app.stable, format!("Deployment {stable}"))
                    .expect(&["metadata", "generation"])
                    .set(&["spec", "template"], serde_json::to_value(template)?)
                    .send(
                        &Api::<Deployment>::namespaced(client.clone(), &app.namespace),
                        &stable,
                        &PatchParams::default(),
                    )
                    .await?;
                progress(&format!(
                    "Deployment {stable}: now runs {}",
                    report.images.join(", ")
                ));
            }
            crate::workload::wait_healthy(client, &app.namespace, &stable, timeout, progress)
                .await?;
            // Only now does traffic leave the canary.
            let now = super::load(client, &app.namespace, &app.name).await?;
            let t = set::traffic(client, &now, opts).await?;
            let w = t.weight(&now).weight;
            if w != 0 || t.kind == Kind::Replicas {
                set::write(
                    client,
                    &now,
                    &t,
                    set::Change {
                        from: w,
                        to: 0,
                        reason: Some("promote"),
                        total: None,
                        dry_run: false,
                    },
                )
                .await?;
                progress(&format!("{}: canary {w}% → 0%", t.describe(&now)));
            }
            let now = super::load(client, &app.namespace, &app.name).await?;
            abort::scale_canary_to_zero(client, &now).await?;
            Ok::<_, anyhow::Error>(())
        },
    )
    .await?;
    report.result = "promoted";
    Ok(report)
}
