//! `abort`: weight 0 at once, then the canary scaled to 0.

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, PatchParams};
use serde::Serialize;

use super::{App, set};
use crate::traffic::Kind;
use crate::{lock, undo};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub provider: Kind,
    pub from: u8,
    /// `aborted` or `unchanged`.
    pub result: &'static str,
}

/// Scales the canary Deployment to 0 (guarded by the version read).
pub async fn scale_canary_to_zero(client: &Client, app: &App) -> Result<()> {
    if super::replicas(&app.canary) == 0 {
        return Ok(());
    }
    let name = app.canary_name();
    crate::workload::replicas_write(&app.canary, 0)
        .send(
            &Api::<Deployment>::namespaced(client.clone(), &app.namespace),
            &name,
            &PatchParams::default(),
        )
        .await?;
    Ok(())
}

pub async fn run(
    client: &Client,
    app: &App,
    opts: &set::Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    let t = set::traffic(client, app, opts).await?;
    let from = t.weight(app).weight;
    let mut report = Report {
        app: app.name.clone(),
        namespace: app.namespace.clone(),
        provider: t.kind,
        from,
        result: "unchanged",
    };
    if from == 0 && super::replicas(&app.canary) == 0 {
        return Ok(report);
    }
    lock::with_lease(
        client,
        &app.namespace,
        &app.name,
        opts.lease_duration,
        async {
            // A safety net: each attempt reads afresh, so a controller's
            // write (or a half-done earlier operation) never stops it.
            let moved = undo::until_done(undo::DEADLINE, |_| async {
                let now = super::load(client, &app.namespace, &app.name).await?;
                let t = set::traffic(client, &now, opts).await?;
                let w = t.weight(&now).weight;
                if w != 0 {
                    let change = set::Change {
                        from: w,
                        to: 0,
                        reason: Some(opts.reason.as_deref().unwrap_or("abort")),
                        total: opts.total,
                        dry_run: false,
                    };
                    lock::critical(set::write(client, &now, &t, change)).await?;
                    return Ok(Some(format!("{}: canary {w}% → 0%", t.describe(&now))));
                }
                Ok(None)
            })
            .await?;
            if let Some(line) = moved {
                progress(&line);
            }
            // The replica split scaled the canary with the weight; the others'
            // canary still runs.
            let scaled = undo::until_done(undo::DEADLINE, |_| async {
                let now = super::load(client, &app.namespace, &app.name).await?;
                let was = super::replicas(&now.canary);
                scale_canary_to_zero(client, &now).await?;
                Ok(was)
            })
            .await?;
            if scaled > 0 {
                progress(&format!("Deployment {}: scaled to 0", app.canary_name()));
            }
            Ok::<_, anyhow::Error>(())
        },
    )
    .await?;
    report.result = "aborted";
    Ok(report)
}
