//! `status`: what every blue/green app serves, from two LIST calls however many
//! apps there are.

use serde::Serialize;

use super::{App, Color, images};
use crate::history::Entry;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColorStatus {
    pub deployment: String,
    pub images: Vec<String>,
    pub desired: i32,
    pub ready: i32,
    pub updated: i32,
    pub available: i32,
    /// The Deployment's rollout revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviewStatus {
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selects: Option<Color>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub name: String,
    pub namespace: String,
    pub active: Color,
    pub color_label: String,
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blue: Option<ColorStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub green: Option<ColorStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<PreviewStatus>,
    /// Number of recorded switches.
    pub revision: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_switch: Option<Entry>,
}

fn color_status(app: &App, c: Color) -> Option<ColorStatus> {
    let d = app.deployment(c)?;
    let st = d.status.clone().unwrap_or_default();
    Some(ColorStatus {
        deployment: app.deployment_name(c),
        images: images(d),
        desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        ready: st.ready_replicas.unwrap_or(0),
        updated: st.updated_replicas.unwrap_or(0),
        available: st.available_replicas.unwrap_or(0),
        revision: d
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .cloned(),
    })
}

pub fn of(app: &App) -> AppStatus {
    let hist = app.history();
    AppStatus {
        name: app.name.clone(),
        namespace: app.namespace.clone(),
        active: app.active,
        color_label: app.color_label.clone(),
        service: app.name.clone(),
        blue: color_status(app, Color::Blue),
        green: color_status(app, Color::Green),
        preview: app.preview.as_ref().map(|_| PreviewStatus {
            service: app.preview_name(),
            selects: app.preview_color(),
        }),
        revision: hist.revision,
        last_switch: hist.entries.into_iter().next(),
    }
}

/// How long ago an RFC 3339 time was, as kubectl prints ages.
fn ago(time: &str) -> String {
    match time.parse::<jiff::Timestamp>() {
        Ok(t) => crate::lock::human(jiff::Timestamp::now().duration_since(t)) + " ago",
        Err(_) => time.to_string(),
    }
}

/// Table headers and rows. `paint` colors a color name (or not).
pub fn table(
    apps: &[AppStatus],
    wide: bool,
    all_namespaces: bool,
    paint: &dyn Fn(&str) -> String,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut headers = Vec::new();
    if all_namespaces {
        headers.push("NAMESPACE");
    }
    headers.extend(["APP", "ACTIVE", "BLUE", "GREEN", "PREVIEW", "LAST SWITCH"]);
    if wide {
        headers.extend(["SWITCHES", "BLUE REV", "GREEN REV", "BUILD"]);
    }
    let cell = |c: &Option<ColorStatus>| match c {
        Some(s) => format!("{} {}/{}", s.images.join(","), s.ready, s.desired),
        None => "<none>".into(),
    };
    let rows = apps
        .iter()
        .map(|a| {
            let mut r = Vec::new();
            if all_namespaces {
                r.push(a.namespace.clone());
            }
            r.push(a.name.clone());
            r.push(paint(a.active.as_str()));
            r.push(cell(&a.blue));
            r.push(cell(&a.green));
            r.push(match &a.preview {
                Some(p) => format!(
                    "{}→{}",
                    p.service,
                    p.selects
                        .map(|c| paint(c.as_str()))
                        .unwrap_or_else(|| "?".into())
                ),
                None => "<none>".into(),
            });
            r.push(match &a.last_switch {
                Some(e) => format!("{} {}→{} by {}", ago(&e.time), e.from, e.to, e.actor),
                None => "<none>".into(),
            });
            if wide {
                r.push(a.revision.to_string());
                let rev = |c: &Option<ColorStatus>| {
                    c.as_ref()
                        .and_then(|s| s.revision.clone())
                        .unwrap_or_else(|| "<none>".into())
                };
                r.push(rev(&a.blue));
                r.push(rev(&a.green));
                r.push(
                    a.last_switch
                        .as_ref()
                        .and_then(|e| e.build.clone())
                        .unwrap_or_else(|| "<none>".into()),
                );
            }
            r
        })
        .collect();
    (headers, rows)
}
