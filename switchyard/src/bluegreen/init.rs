//! `init`: adopt an existing Deployment + Service into the blue/green model
//! without downtime. `APP-blue` is made from the Deployment with the color label
//! added; the Service selector moves to `color: blue` only once `APP-blue` is
//! ready. The old Deployment is left for the user to delete. With `preview`,
//! `APP-preview` is created too (APP's ports, selecting the idle color), the
//! Service `switch --http` checks the target through.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use kube::api::{Api, ObjectMeta, PatchParams, PostParams};
use serde::Serialize;
use serde_json::json;

use super::{COLOR_LABEL_ANNOTATION, Color, DEFAULT_COLOR_LABEL, color_label_of, list_objects};
use crate::exit::{Error, Exit};
use crate::lock;

#[derive(Clone, Debug)]
pub struct Options {
    pub from_deployment: String,
    pub timeout: Duration,
    pub lease_duration: Duration,
    /// Also create `APP-preview`, selecting the idle color, if it is missing.
    pub preview: bool,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub app: String,
    pub namespace: String,
    pub from_deployment: String,
    pub deployment: String,
    /// `adopted` or `unchanged`.
    pub result: &'static str,
    /// `APP-preview`, when this run created it.
    pub preview_created: Option<CreatedPreview>,
}

/// The preview Service `init --preview` created.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPreview {
    pub name: String,
    /// The color it selects: the idle one.
    pub selects: Color,
}

/// `APP-preview` for `svc`: its ports (node ports left to the server) and
/// selector, the color label set to `color`; a ClusterIP Service.
fn preview_from(svc: &Service, app: &str, ns: &str, label: &str, color: Color) -> Service {
    use k8s_openapi::api::core::v1::ServiceSpec;
    let spec = svc.spec.clone().unwrap_or_default();
    let mut selector = spec.selector.clone().unwrap_or_default();
    selector.insert(label.to_string(), color.to_string());
    let ports = spec.ports.map(|ps| {
        ps.into_iter()
            .map(|mut p| {
                p.node_port = None;
                p
            })
            .collect()
    });
    let annotations = (label != DEFAULT_COLOR_LABEL)
        .then(|| [(COLOR_LABEL_ANNOTATION.to_string(), label.to_string())].into());
    Service {
        metadata: ObjectMeta {
            name: Some(format!("{app}-preview")),
            namespace: Some(ns.to_string()),
            labels: svc.metadata.labels.clone(),
            annotations,
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports,
            type_: Some("ClusterIP".into()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// Creates `APP-preview` selecting `idle` (the caller holds the lease).
async fn create_preview(
    client: &Client,
    svc: &Service,
    app: &str,
    ns: &str,
    label: &str,
    idle: Color,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<CreatedPreview> {
    let name = format!("{app}-preview");
    Api::<Service>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &preview_from(svc, app, ns, label, idle),
        )
        .await
        .with_context(|| format!("creating Service {name}"))?;
    progress(&format!("Service {name} created, selecting {label}={idle}"));
    Ok(CreatedPreview {
        name,
        selects: idle,
    })
}

/// `APP-blue` from the source Deployment: its spec, with `label: blue` in
/// labels, selector and pod template.
fn blue_from(source: &Deployment, app: &str, ns: &str, label: &str) -> Deployment {
    let mut d = source.clone();
    let mut labels = d.metadata.labels.clone().unwrap_or_default();
    labels.insert(label.to_string(), Color::Blue.to_string());
    d.metadata = ObjectMeta {
        name: Some(format!("{app}-blue")),
        namespace: Some(ns.to_string()),
        labels: Some(labels),
        ..ObjectMeta::default()
    };
    d.status = None;
    if let Some(spec) = d.spec.as_mut() {
        spec.selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(label.to_string(), "blue".into());
        spec.template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(label.to_string(), "blue".into());
    }
    d
}

pub async fn run(
    client: &Client,
    ns: &str,
    app: &str,
    opts: &Options,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<Report> {
    crate::names::check_app_name(app)?;
    let source_name = opts.from_deployment.as_str();
    let (services, deployments) = list_objects(client, Some(ns)).await?;
    let svc: &Service = services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(app))
        .ok_or_else(|| {
            Error::new(
                Exit::Precondition,
                format!("no Service {app} in namespace {ns}"),
            )
            .hint("init adopts an existing Service and the Deployment it selects")
        })?;
    let label = color_label_of(svc);
    let selector = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    if selector.is_empty() {
        return Err(
            Error::new(Exit::Precondition, format!("Service {app} has no selector")).into(),
        );
    }
    let blue_name = format!("{app}-blue");
    let mut report = Report {
        app: app.into(),
        namespace: ns.into(),
        from_deployment: source_name.into(),
        deployment: blue_name.clone(),
        result: "unchanged",
        preview_created: None,
    };
    let preview_missing = opts.preview
        && !services
            .iter()
            .any(|s| s.metadata.name.as_deref() == Some(format!("{app}-preview").as_str()));
    if let Some(c) = selector.get(&label) {
        // Already adopted (this run or an earlier one): the asked state holds.
        let adopted = c.parse::<Color>().is_ok()
            && deployments
                .iter()
                .any(|d| d.metadata.name.as_deref() == Some(format!("{app}-{c}").as_str()));
        if adopted {
            report.deployment = format!("{app}-{c}");
            if preview_missing {
                let idle = c.parse::<Color>().expect("checked above").other();
                report.preview_created = Some(
                    lock::with_lease(client, ns, app, opts.lease_duration, async {
                        create_preview(client, svc, app, ns, &label, idle, progress).await
                    })
                    .await?,
                );
            }
            return Ok(report);
        }
        return Err(Error::new(
            Exit::Precondition,
            format!(
                "Service {app} already selects {label}={c}, but Deployment {app}-{c} does not exist"
            ),
        )
        .into());
    }
    let source = deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(source_name))
        .ok_or_else(|| {
            Error::new(
                Exit::Precondition,
                format!("no Deployment {source_name} in namespace {ns}"),
            )
        })?;
    let template = source
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if !selector.iter().all(|(k, v)| template.get(k) == Some(v)) {
        return Err(Error::new(
            Exit::Precondition,
            format!("Service {app} does not select the pods of Deployment {source_name}"),
        )
        .hint("init adopts the Deployment the Service serves today")
        .into());
    }

    lock::with_lease(client, ns, app, opts.lease_duration, async {
        let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
        if !deployments
            .iter()
            .any(|d| d.metadata.name.as_deref() == Some(blue_name.as_str()))
        {
            api.create(&PostParams::default(), &blue_from(source, app, ns, &label))
                .await
                .with_context(|| format!("creating Deployment {blue_name}"))?;
            progress(&format!(
                "Deployment {blue_name} created from {source_name}"
            ));
        }
        super::wait_healthy(client, ns, &blue_name, opts.timeout, progress).await?;
        // Only now does the Service move: its pods were ready before a single
        // request could reach them.
        // Guarded on the selector read: a cloud controller writing the
        // Service's status in between does not matter, a selector change does.
        let mut write = crate::guard::Guard::on(svc, format!("Service {app}"))
            .expect(&["spec", "selector"])
            .set(&["spec", "selector", label.as_str()], json!("blue"));
        if label != DEFAULT_COLOR_LABEL {
            write = write.set(
                &["metadata", "annotations", COLOR_LABEL_ANNOTATION],
                json!(label),
            );
        }
        write
            .send(
                &Api::<Service>::namespaced(client.clone(), ns),
                app,
                &PatchParams::default(),
            )
            .await
            .with_context(|| format!("moving Service {app} to {blue_name}"))?;
        progress(&format!(
            "Service {app} now selects {label}=blue ({blue_name})"
        ));
        if preview_missing {
            report.preview_created =
                Some(create_preview(client, svc, app, ns, &label, Color::Green, progress).await?);
        }
        Ok::<_, anyhow::Error>(())
    })
    .await?;
    report.result = "adopted";
    Ok(report)
}
