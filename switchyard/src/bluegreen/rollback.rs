//! `rollback`: switch back to the color the history says was active before,
//! with the same checks as a switch.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, PatchParams};

use super::{App, Color, switch};
use crate::exit::{Error, Exit};
use crate::lock;

#[derive(Clone, Debug)]
pub struct Options {
    /// Scale the previous color up (to the active color's replicas) and wait for
    /// it, when it was scaled down.
    pub scale_up: bool,
    pub timeout: Duration,
    pub switch: switch::Options,
}

/// The color to roll back to, from the history.
pub fn previous_color(app: &App) -> Result<Color, Error> {
    let hist = app.history();
    let prev = hist.previous.ok_or_else(|| {
        Error::new(Exit::Precondition, format!("no switch of {} is recorded, so there is nothing to roll back to", app.name))
            .hint(format!("kubectl bluegreen history {} shows what is recorded; kubectl bluegreen switch {} --to COLOR switches explicitly", app.name, app.name))
    })?;
    prev.parse()
}

pub async fn run(
    client: &Client,
    app: &App,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<switch::Report> {
    let (ns, name) = (app.namespace.as_str(), app.name.as_str());
    let to = previous_color(app)?;
    if to != app.active {
        let dname = app.deployment_name(to);
        let d = app.deployment(to).ok_or_else(|| {
            Error::new(
                Exit::Precondition,
                format!("cannot roll back to {to}: Deployment {dname} does not exist"),
            )
        })?;
        let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        if replicas == 0 {
            let want = app
                .deployment(app.active)
                .and_then(|a| a.spec.as_ref())
                .and_then(|s| s.replicas)
                .unwrap_or(1)
                .max(1);
            if !opts.scale_up {
                return Err(Error::new(Exit::Precondition, format!("cannot roll back to {to}: {dname} is scaled to 0"))
                    .hint(format!("kubectl bluegreen rollback {name} --scale-up scales it to {want}, waits for it, then switches"))
                    .into());
            }
            lock::with_lease(client, ns, name, opts.switch.lease_duration, async {
                crate::workload::replicas_write(d, want)
                    .send(
                        &Api::<Deployment>::namespaced(client.clone(), ns),
                        &dname,
                        &PatchParams::default(),
                    )
                    .await?;
                progress(&format!("Deployment {dname}: scaled to {want}"));
                super::wait_healthy(client, ns, &dname, opts.timeout, progress).await
            })
            .await?;
        }
    }
    let mut sw = opts.switch.clone();
    sw.to = Some(to);
    sw.reason = Some(sw.reason.unwrap_or_else(|| "rollback".to_string()));
    switch::run(client, ns, name, &sw, progress).await
}
