//! `abort`: weight 0 at once, then the canary scaled to 0.

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde_json::json;

use super::{App, set};
use crate::lock;
use crate::traffic::{Kind, write_error};

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
    let patch = json!({ "metadata": { "resourceVersion": app.canary.metadata.resource_version }, "spec": { "replicas": 0 } });
    Api::<Deployment>::namespaced(client.clone(), &app.namespace)
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| write_error(e, &format!("Deployment {name}")))?;
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
            if from != 0 {
                set::write(
                    client,
                    app,
                    &t,
                    set::Change {
                        from,
                        to: 0,
                        reason: Some(opts.reason.as_deref().unwrap_or("abort")),
                        total: None,
                        dry_run: false,
                    },
                )
                .await?;
                progress(&format!("{}: canary {from}% → 0%", t.describe(app)));
            }
            // The replica split scaled the canary with the weight; reload for the
            // others, whose canary still runs.
            let now = super::load(client, &app.namespace, &app.name).await?;
            scale_canary_to_zero(client, &now).await?;
            progress(&format!("Deployment {}: scaled to 0", app.canary_name()));
            Ok::<_, anyhow::Error>(())
        },
    )
    .await?;
    report.result = "aborted";
    Ok(report)
}
