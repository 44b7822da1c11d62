//! `deploy`: a new image on the idle color (never the active one), scaled like
//! the active color, optionally waited for until healthy.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;
use kube::api::{Api, PatchParams, PostParams};
use serde::Serialize;

use super::{App, Color};
use crate::DryRun;
use crate::exit::{Error, Exit};
use crate::lock;

#[derive(Clone, Debug)]
pub struct Options {
    pub image: String,
    pub container: Option<String>,
    pub replicas: Option<i32>,
    pub wait: bool,
    pub timeout: Duration,
    pub lease_duration: Duration,
    /// Show the write, make none (`server`: the API server validates it).
    pub dry_run: Option<DryRun>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub color: Color,
    pub deployment: String,
    pub container: String,
    pub image: String,
    pub replicas: i32,
    /// `created`, `updated`, `unchanged` or `dry-run`.
    pub result: &'static str,
    /// With `--wait`: the last observed state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
}

/// Refuses images that cannot be image references (spaces, nothing).
pub fn check_image(image: &str) -> Result<(), Error> {
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::new(Exit::Usage, format!("invalid image {image:?}"))
            .hint("e.g. --image registry.example.com/web:1.2.3"));
    }
    Ok(())
}

/// The container to update: the one named, the only one, or the one named like the app.
pub fn pick_container(d: &Deployment, want: Option<&str>, app: &str) -> Result<String, Error> {
    let dname = d.metadata.name.clone().unwrap_or_default();
    let names: Vec<String> = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    match want {
        Some(w) if names.iter().any(|n| n == w) => Ok(w.to_string()),
        Some(w) => Err(Error::new(
            Exit::Usage,
            format!(
                "Deployment {dname} has no container {w:?} (it has {})",
                names.join(", ")
            ),
        )),
        None if names.len() == 1 => Ok(names[0].clone()),
        None if names.iter().any(|n| n == app) => Ok(app.to_string()),
        None => Err(Error::new(
            Exit::Usage,
            format!(
                "Deployment {dname} has {} containers ({}): say which with --container",
                names.len(),
                names.join(", ")
            ),
        )),
    }
}

/// The idle color's Deployment made from the active one: same spec, the other
/// color in labels and selector, the new image.
fn clone_for(
    app: &App,
    active: &Deployment,
    color: Color,
    container: &str,
    image: &str,
    replicas: i32,
) -> Deployment {
    let label = &app.color_label;
    let mut d = active.clone();
    let name = app.deployment_name(color);
    let mut labels = d.metadata.labels.clone().unwrap_or_default();
    if labels.contains_key(label) {
        labels.insert(label.clone(), color.to_string());
    }
    d.metadata = kube::api::ObjectMeta {
        name: Some(name),
        namespace: Some(app.namespace.clone()),
        labels: Some(labels),
        ..Default::default()
    };
    d.status = None;
    if let Some(spec) = d.spec.as_mut() {
        spec.replicas = Some(replicas);
        spec.selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(label.clone(), color.to_string());
        let meta = spec.template.metadata.get_or_insert_with(Default::default);
        meta.labels
            .get_or_insert_with(Default::default)
            .insert(label.clone(), color.to_string());
        if let Some(pod) = spec.template.spec.as_mut() {
            for c in pod.containers.iter_mut().filter(|c| c.name == container) {
                c.image = Some(image.to_string());
            }
        }
    }
    d
}

pub async fn run(
    client: &Client,
    app: &App,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    check_image(&opts.image)?;
    if opts.replicas.is_some_and(|r| r < 0) {
        return Err(Error::new(Exit::Usage, "--replicas must be 0 or more").into());
    }
    let (ns, name) = (app.namespace.as_str(), app.name.as_str());
    let color = app.idle();
    let dname = app.deployment_name(color);
    let active = app
        .deployment(app.active)
        .expect("resolve() guarantees the active Deployment");
    let replicas = opts
        .replicas
        .unwrap_or_else(|| active.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1));
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);

    let (container, current) = match app.deployment(color) {
        Some(idle) => {
            let c = pick_container(idle, opts.container.as_deref(), name)?;
            (c, Some(idle))
        }
        None => (
            pick_container(active, opts.container.as_deref(), name)?,
            None,
        ),
    };
    let unchanged = current.is_some_and(|d| {
        crate::workload::container_image(d, &container).as_deref() == Some(opts.image.as_str())
            && d.spec.as_ref().and_then(|s| s.replicas) == Some(replicas)
    });
    let mut report = Report {
        app: name.to_string(),
        namespace: ns.to_string(),
        color,
        deployment: dname.clone(),
        container: container.clone(),
        image: opts.image.clone(),
        replicas,
        result: "unchanged",
        observed: None,
    };
    if let Some(mode) = opts.dry_run.filter(|_| !unchanged) {
        // Like a switch's dry run: no lease, nothing written.
        let what = match current {
            Some(d) => {
                let write = crate::workload::image_write(d, &container, &opts.image, replicas);
                if mode == DryRun::Server {
                    write
                        .send(&api, &dname, &PatchParams::default().dry_run())
                        .await?;
                }
                format!(
                    "would patch Deployment {dname}: {container}={} ({})",
                    opts.image,
                    crate::output::count(replicas, "replica")
                )
            }
            None => {
                if mode == DryRun::Server {
                    let d = clone_for(app, active, color, &container, &opts.image, replicas);
                    let params = PostParams {
                        dry_run: true,
                        ..PostParams::default()
                    };
                    api.create(&params, &d).await.map_err(|e| {
                        anyhow::Error::new(e).context(format!("creating Deployment {dname}"))
                    })?;
                }
                format!(
                    "would create Deployment {dname} from {}: {container}={} ({})",
                    app.deployment_name(app.active),
                    opts.image,
                    crate::output::count(replicas, "replica")
                )
            }
        };
        let how = match mode {
            DryRun::Client => "dry run: nothing changed",
            DryRun::Server => "dry run: the server validated it, nothing changed",
        };
        progress(&format!("{what} ({how})"));
        report.result = "dry-run";
        return Ok(report);
    }

    lock::with_lease(client, ns, name, opts.lease_duration, async {
        if !unchanged {
            match current {
                Some(d) => {
                    crate::workload::image_write(d, &container, &opts.image, replicas)
                        .send(&api, &dname, &PatchParams::default())
                        .await?;
                    report.result = "updated";
                }
                None => {
                    let d = clone_for(app, active, color, &container, &opts.image, replicas);
                    api.create(&PostParams::default(), &d).await.map_err(|e| {
                        anyhow::Error::new(e).context(format!("creating Deployment {dname}"))
                    })?;
                    report.result = "created";
                }
            }
            progress(&format!(
                "Deployment {dname}: {container}={} ({})",
                opts.image,
                crate::output::count(replicas, "replica")
            ));
        }
        if opts.wait {
            report.observed =
                Some(super::wait_healthy(client, ns, &dname, opts.timeout, progress).await?);
        }
        Ok::<_, anyhow::Error>(())
    })
    .await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(containers: &[&str]) -> Deployment {
        let cs: Vec<_> = containers
            .iter()
            .map(|n| json!({"name": n, "image": format!("{n}:1")}))
            .collect();
        serde_json::from_value(json!({"metadata": {"name": "web-green"}, "spec": {"selector": {}, "template": {"spec": {"containers": cs}}}})).unwrap()
    }

    #[test]
    fn container_choice() {
        assert_eq!(
            pick_container(&deploy(&["app"]), None, "web").unwrap(),
            "app"
        );
        assert_eq!(
            pick_container(&deploy(&["proxy", "web"]), None, "web").unwrap(),
            "web"
        );
        assert_eq!(
            pick_container(&deploy(&["proxy", "web"]), Some("proxy"), "web").unwrap(),
            "proxy"
        );
        let e = pick_container(&deploy(&["a", "b"]), None, "web").unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(e.message.contains("--container"));
        assert!(
            pick_container(&deploy(&["a"]), Some("z"), "web")
                .unwrap_err()
                .message
                .contains("no container \"z\"")
        );
    }

    #[test]
    fn images_are_checked() {
        assert!(check_image("example/web:1.1").is_ok());
        for bad in ["", "web 1", "web\n"] {
            assert_eq!(check_image(bad).unwrap_err().exit, Exit::Usage);
        }
    }
}
