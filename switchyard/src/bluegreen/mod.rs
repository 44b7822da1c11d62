//! The blue/green model: Service `APP` selects one color of two Deployments,
//! `APP-blue` and `APP-green`, by a color label in its selector; the optional
//! Service `APP-preview` selects the other. Discovery matches the Deployments'
//! pod-template labels against the Service selector, not names alone.

pub mod deploy;
pub mod init;
pub mod rollback;
pub mod scale;
pub mod status;
pub mod switch;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Client;
use serde::Serialize;

use crate::exit::{Error, Exit};
use crate::history::History;
pub use crate::workload::{images, list_objects, readiness, wait_healthy};

/// Service annotation naming a color label other than `color`.
pub const COLOR_LABEL_ANNOTATION: &str = "switchyard.dev/color-label";
pub const DEFAULT_COLOR_LABEL: &str = "color";

/// One of the two colors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Blue,
    Green,
}

impl Color {
    pub fn other(self) -> Color {
        match self {
            Color::Blue => Color::Green,
            Color::Green => Color::Blue,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Color::Blue => "blue",
            Color::Green => "green",
        }
    }

    pub const ALL: [Color; 2] = [Color::Blue, Color::Green];
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Color {
    type Err = Error;

    fn from_str(s: &str) -> Result<Color, Error> {
        match s {
            "blue" => Ok(Color::Blue),
            "green" => Ok(Color::Green),
            other => Err(Error::new(Exit::Usage, format!("unknown color {other:?}"))
                .hint("a color is blue or green")),
        }
    }
}

/// A blue/green app as found in the cluster.
#[derive(Clone, Debug)]
pub struct App {
    pub name: String,
    pub namespace: String,
    pub color_label: String,
    pub service: Service,
    pub active: Color,
    pub blue: Option<Deployment>,
    pub green: Option<Deployment>,
    pub preview: Option<Service>,
}

impl App {
    pub fn deployment(&self, c: Color) -> Option<&Deployment> {
        match c {
            Color::Blue => self.blue.as_ref(),
            Color::Green => self.green.as_ref(),
        }
    }

    pub fn deployment_name(&self, c: Color) -> String {
        format!("{}-{c}", self.name)
    }

    pub fn preview_name(&self) -> String {
        format!("{}-preview", self.name)
    }

    pub fn idle(&self) -> Color {
        self.active.other()
    }

    pub fn history(&self) -> History {
        History::from_annotations(self.service.metadata.annotations.as_ref())
    }

    /// The color the preview Service selects, if there is one.
    pub fn preview_color(&self) -> Option<Color> {
        let sel = self.preview.as_ref()?.spec.as_ref()?.selector.as_ref()?;
        sel.get(&self.color_label)?.parse().ok()
    }

    /// A preview that selects the active color is not a state a switch
    /// leaves (it may be a run killed between its two writes): refused, with
    /// the one-line fix, rather than guessed at. Checked under the lease.
    pub fn check_preview(&self) -> Result<(), Error> {
        if self.preview_color() != Some(self.active) {
            return Ok(());
        }
        let (ns, preview) = (&self.namespace, self.preview_name());
        Err(Error::new(
            Exit::Precondition,
            format!(
                "Service {} and {preview} both select {}; the preview must select the idle color",
                self.name, self.active
            ),
        )
        .hint(format!(
            "kubectl patch service {preview} -n {ns} -p '{{\"spec\":{{\"selector\":{{\"{}\":\"{}\"}}}}}}'",
            self.color_label,
            self.idle()
        )))
    }
}

/// The color Service `svc` selects by `label`, if any.
pub fn selected_color(svc: &Service, label: &str) -> Option<Color> {
    selector(svc)?.get(label)?.parse().ok()
}

fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec.as_ref()?.selector.as_ref()
}

fn template_labels(d: &Deployment) -> Option<&BTreeMap<String, String>> {
    d.spec.as_ref()?.template.metadata.as_ref()?.labels.as_ref()
}

/// The label that carries the color for this Service.
pub fn color_label_of(svc: &Service) -> String {
    svc.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(COLOR_LABEL_ANNOTATION))
        .cloned()
        .unwrap_or_else(|| DEFAULT_COLOR_LABEL.to_string())
}

/// Why Deployment `d` would not serve Service `svc` as color `c`, if it would not.
fn template_mismatch(
    svc_selector: &BTreeMap<String, String>,
    label: &str,
    c: Color,
    d: &Deployment,
) -> Option<String> {
    let labels = template_labels(d);
    let mut missing = Vec::new();
    for (k, v) in svc_selector {
        let want = if k == label { c.as_str() } else { v.as_str() };
        if labels.and_then(|l| l.get(k)).map(String::as_str) != Some(want) {
            missing.push(format!("{k}={want}"));
        }
    }
    (!missing.is_empty()).then(|| missing.join(","))
}

/// Builds app `name` from listed objects, or says precisely why it is not one.
pub fn resolve(
    name: &str,
    ns: &str,
    services: &[Service],
    deployments: &[Deployment],
) -> Result<App, Error> {
    let by_name = |n: &str| {
        services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(n))
    };
    let deploy = |n: &str| {
        deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(n))
    };
    let service = by_name(name).ok_or_else(|| {
        Error::new(
            Exit::Precondition,
            format!("app {name} not found: no Service {name} in namespace {ns}"),
        )
        .hint("kubectl bluegreen status lists the blue/green apps; -n picks the namespace")
    })?;
    let label = color_label_of(service);
    let sel = selector(service).filter(|s| !s.is_empty()).ok_or_else(|| {
        Error::new(Exit::Precondition, format!("Service {name} has no selector, so it selects no color"))
            .hint(format!("a blue/green Service selects pods by a `{label}` label: kubectl bluegreen init {name} --from-deployment NAME"))
    })?;
    let active: Color = match sel.get(&label) {
        Some(v) => v.parse().map_err(|_| {
            Error::new(
                Exit::Precondition,
                format!("Service {name} selects {label}={v}, which is not blue or green"),
            )
        })?,
        None => {
            return Err(Error::new(
                Exit::Precondition,
                format!("Service {name} selects no color: its selector has no `{label}` label"),
            )
            .hint(format!("kubectl bluegreen init {name} --from-deployment NAME adopts it; or set the {COLOR_LABEL_ANNOTATION} annotation")));
        }
    };
    let mut colors: [Option<Deployment>; 2] = [None, None];
    for (i, c) in Color::ALL.into_iter().enumerate() {
        let dname = format!("{name}-{c}");
        if let Some(d) = deploy(&dname) {
            if let Some(missing) = template_mismatch(sel, &label, c, d) {
                return Err(Error::new(
                    Exit::Precondition,
                    format!("Deployment {dname} does not match Service {name}: its pod template lacks {missing}"),
                )
                .hint(format!("the pod template of {dname} must carry the Service selector with {label}={c}")));
            }
            colors[i] = Some(d.clone());
        }
    }
    let [blue, green] = colors;
    let app = App {
        name: name.to_string(),
        namespace: ns.to_string(),
        color_label: label,
        service: service.clone(),
        active,
        blue,
        green,
        preview: by_name(&format!("{name}-preview")).cloned(),
    };
    if app.deployment(active).is_none() {
        return Err(Error::new(
            Exit::Precondition,
            format!(
                "Service {name} selects {active}, but Deployment {name}-{active} does not exist"
            ),
        ));
    }
    Ok(app)
}

/// Every blue/green app among listed objects: Services that select a color and
/// have the matching Deployment. Other Services (previews included: no
/// `web-preview-green` exists) are skipped silently.
pub fn discover(services: &[Service], deployments: &[Deployment]) -> Vec<App> {
    let services_by_ns = crate::workload::by_namespace(services);
    let deployments_by_ns = crate::workload::by_namespace(deployments);
    let mut apps: Vec<App> = services
        .iter()
        .filter(|s| {
            let label = color_label_of(s);
            selector(s)
                .is_some_and(|sel| sel.get(&label).is_some_and(|v| v.parse::<Color>().is_ok()))
        })
        .filter_map(|s| {
            let ns = s.metadata.namespace.clone().unwrap_or_default();
            let name = s.metadata.name.as_deref()?;
            let same_ns = deployments_by_ns.get(&ns).map_or(&[][..], Vec::as_slice);
            resolve(name, &ns, std::slice::from_ref(s), same_ns)
                .ok()
                .map(|mut app| {
                    // resolve() saw only this Service; find the preview among the namespace's.
                    app.preview = services_by_ns.get(&ns).and_then(|svcs| {
                        svcs.iter()
                            .find(|p| p.metadata.name.as_deref() == Some(&app.preview_name()))
                            .cloned()
                    });
                    app
                })
        })
        .collect();
    apps.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    apps
}

/// Loads app `name` in `ns`.
pub async fn load(client: &Client, ns: &str, name: &str) -> Result<App> {
    crate::names::check_app_name(name)?;
    let (services, deployments) = list_objects(client, Some(ns)).await?;
    Ok(resolve(name, ns, &services, &deployments)?)
}

/// The app named, or when none is named the only blue/green app in `ns`.
pub async fn pick(client: &Client, ns: &str, name: Option<&str>) -> Result<App> {
    if let Some(n) = name {
        return load(client, ns, n).await;
    }
    let (services, deployments) = list_objects(client, Some(ns)).await?;
    let apps = discover(&services, &deployments);
    match apps.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::new(Exit::Precondition, format!("no blue/green app in namespace {ns}"))
            .hint("name one (kubectl bluegreen switch APP), pick a namespace with -n, or adopt one with kubectl bluegreen init")
            .into()),
        many => {
            let names: Vec<&str> = many.iter().map(|a| a.name.as_str()).collect();
            Err(Error::new(Exit::Usage, format!("{} blue/green apps in namespace {ns}: {}", many.len(), names.join(", ")))
                .hint("name the app: kubectl bluegreen switch APP")
                .into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(name: &str, selector: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"selector": selector}})).unwrap()
    }

    fn deploy(name: &str, labels: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": {
            "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})).unwrap()
    }

    fn demo() -> (Vec<Service>, Vec<Deployment>) {
        (
            vec![
                svc("web", json!({"app": "web", "color": "blue"})),
                svc("web-preview", json!({"app": "web", "color": "green"})),
                svc("db", json!({"app": "db"})),
            ],
            vec![
                deploy("web-blue", json!({"app": "web", "color": "blue"})),
                deploy("web-green", json!({"app": "web", "color": "green"})),
                deploy("db", json!({"app": "db"})),
            ],
        )
    }

    #[test]
    fn resolves_the_demo_app() {
        let (s, d) = demo();
        let app = resolve("web", "default", &s, &d).unwrap();
        assert_eq!(app.active, Color::Blue);
        assert_eq!(app.idle(), Color::Green);
        assert!(app.green.is_some() && app.preview.is_some());
        assert_eq!(app.preview_color(), Some(Color::Green));
    }

    #[test]
    fn discovery_finds_apps_not_previews_or_plain_services() {
        let (s, d) = demo();
        let apps = discover(&s, &d);
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["web"]);
        assert!(apps[0].preview.is_some());
    }

    #[test]
    fn explains_what_is_wrong() {
        let (s, d) = demo();
        let err = |name: &str, s: &[Service], d: &[Deployment]| {
            resolve(name, "default", s, d).unwrap_err()
        };
        assert_eq!(err("nope", &s, &d).exit, Exit::Precondition);
        assert!(err("db", &s, &d).message.contains("selects no color"));
        let no_sel = vec![svc("web", json!({}))];
        assert!(err("web", &no_sel, &d).message.contains("no selector"));
        let purple = vec![svc("web", json!({"app": "web", "color": "purple"}))];
        assert!(
            err("web", &purple, &d)
                .message
                .contains("not blue or green")
        );
        let bad_template = vec![
            deploy("web-blue", json!({"app": "web", "color": "blue"})),
            deploy("web-green", json!({"app": "web"})),
        ];
        let e = err("web", &s, &bad_template);
        assert!(
            e.message.contains("web-green") && e.message.contains("color=green"),
            "{}",
            e.message
        );
        let missing_active = vec![deploy("web-green", json!({"app": "web", "color": "green"}))];
        assert!(
            err("web", &s, &missing_active)
                .message
                .contains("web-blue does not exist")
        );
    }

    #[test]
    fn custom_color_label() {
        let mut s = svc("api", json!({"app": "api", "slot": "green"}));
        s.metadata.annotations =
            Some([(COLOR_LABEL_ANNOTATION.to_string(), "slot".to_string())].into());
        let d = vec![deploy("api-green", json!({"app": "api", "slot": "green"}))];
        let app = resolve("api", "default", &[s], &d).unwrap();
        assert_eq!(
            (app.active, app.color_label.as_str()),
            (Color::Green, "slot")
        );
    }

    #[test]
    fn colors_parse() {
        assert_eq!("green".parse::<Color>().unwrap(), Color::Green);
        assert_eq!("purple".parse::<Color>().unwrap_err().exit, Exit::Usage);
    }

    #[test]
    fn readiness_rules() {
        let mut d = deploy("web-green", json!({"app": "web"}));
        d.spec.as_mut().unwrap().replicas = Some(3);
        d.metadata.generation = Some(2);
        let status = |og: i64, upd: i32, avail: i32, total: i32| {
            serde_json::from_value(json!({"observedGeneration": og, "updatedReplicas": upd, "availableReplicas": avail, "replicas": total})).unwrap()
        };
        d.status = Some(status(2, 3, 3, 3));
        assert!(readiness(&d).is_ok());
        d.status = Some(status(1, 3, 3, 3));
        assert!(readiness(&d).unwrap_err().contains("not seen"));
        d.status = Some(status(2, 3, 2, 3));
        assert!(readiness(&d).unwrap_err().contains("2/3 available"));
        d.status = Some(status(2, 3, 3, 4));
        assert!(readiness(&d).unwrap_err().contains("1 old pods"));
        d.spec.as_mut().unwrap().replicas = Some(0);
        assert!(readiness(&d).unwrap_err().contains("scaled to 0"));
    }
}
