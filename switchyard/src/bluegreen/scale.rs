//! `scale-down`: scale the idle color (never the active one).

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, PatchParams};
use serde::Serialize;

use super::{App, Color};
use crate::DryRun;
use crate::exit::{Error, Exit};
use crate::lock;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub color: Color,
    pub deployment: String,
    pub from: i32,
    pub to: i32,
    /// `scaled`, `unchanged` or `dry-run`.
    pub result: &'static str,
}

/// Scales `color` (the idle one when None) to `to` replicas; with `dry_run`,
/// says the write and makes none (no lease, as a switch's dry run).
pub async fn run(
    client: &Client,
    app: &App,
    color: Option<Color>,
    to: i32,
    lease_duration: std::time::Duration,
    dry_run: Option<DryRun>,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    let (ns, name) = (app.namespace.as_str(), app.name.as_str());
    if to < 0 {
        return Err(Error::new(
            Exit::Usage,
            format!("--to {to}: replicas must be 0 or more"),
        )
        .into());
    }
    let color = color.unwrap_or_else(|| app.idle());
    if color == app.active {
        return Err(Error::new(
            Exit::Precondition,
            format!("{color} is active: Service {name} sends it traffic, so it is not scaled down"),
        )
        .hint(format!(
            "scale-down scales the idle color ({}); switch first if you meant to retire {color}",
            app.idle()
        ))
        .into());
    }
    let dname = app.deployment_name(color);
    let d = app.deployment(color).ok_or_else(|| {
        Error::new(
            Exit::Precondition,
            format!("Deployment {dname} does not exist"),
        )
    })?;
    let from = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let mut report = Report {
        app: name.into(),
        namespace: ns.into(),
        color,
        deployment: dname.clone(),
        from,
        to,
        result: "unchanged",
    };
    if from == to {
        return Ok(report);
    }
    let write = crate::workload::replicas_write(d, to);
    let api = Api::<Deployment>::namespaced(client.clone(), ns);
    if let Some(mode) = dry_run {
        let how = match mode {
            DryRun::Client => "dry run: nothing changed",
            DryRun::Server => {
                write
                    .send(&api, &dname, &PatchParams::default().dry_run())
                    .await?;
                "dry run: the server validated it, nothing changed"
            }
        };
        progress(&format!(
            "would patch Deployment {dname}: replicas {from} → {to} ({how})"
        ));
        report.result = "dry-run";
        return Ok(report);
    }
    lock::with_lease(client, ns, name, lease_duration, async {
        write.send(&api, &dname, &PatchParams::default()).await
    })
    .await?;
    report.result = "scaled";
    Ok(report)
}

/// After a switch: waits `delay`, then scales the old color to 0, if it is
/// still idle by then (someone may have switched back; the active color is
/// never scaled down).
pub async fn down_later(
    client: &Client,
    ns: &str,
    app: &str,
    old: Color,
    delay: std::time::Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    progress(&format!("scaling {app}-{old} down in {}s", delay.as_secs()));
    tokio::time::sleep(delay).await;
    let now = super::load(client, ns, app).await?;
    let r = run(
        client,
        &now,
        Some(old),
        0,
        lock::DEFAULT_DURATION,
        None,
        progress,
    )
    .await?;
    progress(&format!(
        "{}: {} → {}",
        r.deployment,
        r.from,
        crate::output::count(r.to, "replica")
    ));
    Ok(r)
}
