//! `deploy`: a new image on the canary Deployment (never the stable one),
//! optionally waited for until healthy. It gets no traffic until `set`/`ramp`.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, PatchParams};
use serde::Serialize;

use super::App;
use crate::bluegreen::deploy::{check_image, pick_container};
use crate::exit::{Error, Exit};
use crate::lock;

#[derive(Clone, Debug)]
pub struct Options {
    pub image: String,
    pub container: Option<String>,
    /// Replicas (default: as now, or 1 if the canary is scaled to 0).
    pub replicas: Option<i32>,
    pub wait: bool,
    pub timeout: Duration,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub deployment: String,
    pub container: String,
    pub image: String,
    pub replicas: i32,
    /// `updated` or `unchanged`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
}

pub async fn run(
    client: &Client,
    app: &App,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    check_image(&opts.image)?;
    if opts.replicas.is_some_and(|r| r < 1) {
        return Err(Error::new(Exit::Usage, "--replicas must be 1 or more for a canary").into());
    }
    let name = app.canary_name();
    let container = pick_container(&app.canary, opts.container.as_deref(), &app.name)?;
    let current = super::replicas(&app.canary);
    let replicas = opts.replicas.unwrap_or(current.max(1));
    let image_now = crate::workload::container_image(&app.canary, &container);
    let mut report = Report {
        app: app.name.clone(),
        namespace: app.namespace.clone(),
        deployment: name.clone(),
        container: container.clone(),
        image: opts.image.clone(),
        replicas,
        result: "unchanged",
        observed: None,
    };
    lock::with_lease(
        client,
        &app.namespace,
        &app.name,
        lock::DEFAULT_DURATION,
        async {
            if image_now.as_deref() != Some(opts.image.as_str()) || replicas != current {
                crate::workload::image_write(&app.canary, &container, &opts.image, replicas)
                    .send(
                        &Api::<Deployment>::namespaced(client.clone(), &app.namespace),
                        &name,
                        &PatchParams::default(),
                    )
                    .await?;
                progress(&format!(
                    "Deployment {name}: {container}={} ({})",
                    opts.image,
                    crate::output::count(replicas, "replica")
                ));
                report.result = "updated";
            }
            if opts.wait {
                report.observed = Some(
                    crate::workload::wait_healthy(
                        client,
                        &app.namespace,
                        &name,
                        opts.timeout,
                        progress,
                    )
                    .await?,
                );
            }
            Ok::<_, anyhow::Error>(())
        },
    )
    .await?;
    Ok(report)
}
