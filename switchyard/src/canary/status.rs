//! `status`: images, readiness, the weight and its provider, per canary app.

use serde::Serialize;

use super::App;
use crate::history::{Entry, History};
use crate::traffic::{self, Kind, Objects};
use crate::workload;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Track {
    pub deployment: String,
    pub images: Vec<String>,
    pub desired: i32,
    pub ready: i32,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    pub name: String,
    pub namespace: String,
    pub stable: Track,
    pub canary: Track,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<Kind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved: Option<f64>,
    /// Why no provider was found, if none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_change: Option<Entry>,
}

fn track(d: &k8s_openapi::api::apps::v1::Deployment) -> Track {
    Track {
        deployment: d.metadata.name.clone().unwrap_or_default(),
        images: workload::images(d),
        desired: super::replicas(d),
        ready: d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0),
    }
}

pub fn of(app: &App, objs: &Objects, forced: Option<Kind>) -> AppStatus {
    let mut s = AppStatus {
        name: app.name.clone(),
        namespace: app.namespace.clone(),
        stable: track(&app.stable),
        canary: track(&app.canary),
        provider: None,
        carrier: None,
        weight: None,
        achieved: None,
        problem: None,
        last_change: None,
    };
    match traffic::detect(app, objs, forced, false) {
        Ok(t) => {
            let w = t.weight(app);
            s.provider = Some(t.kind);
            s.carrier = Some(t.describe(app));
            s.weight = Some(w.weight);
            s.achieved = w.achieved;
            s.last_change = History::from_annotations(t.annotations(app).as_ref())
                .entries
                .into_iter()
                .next();
        }
        Err(e) => s.problem = Some(e.message),
    }
    s
}

pub fn table(
    apps: &[AppStatus],
    wide: bool,
    all_namespaces: bool,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut headers = Vec::new();
    if all_namespaces {
        headers.push("NAMESPACE");
    }
    headers.extend(["APP", "STABLE", "CANARY", "WEIGHT", "PROVIDER"]);
    if wide {
        headers.extend(["CARRIER", "LAST CHANGE"]);
    }
    let cell = |t: &Track| format!("{} {}/{}", t.images.join(","), t.ready, t.desired);
    let rows = apps
        .iter()
        .map(|a| {
            let mut r = Vec::new();
            if all_namespaces {
                r.push(a.namespace.clone());
            }
            r.push(a.name.clone());
            r.push(cell(&a.stable));
            r.push(cell(&a.canary));
            r.push(match (a.weight, a.achieved) {
                (Some(w), Some(got)) if (got - w as f64).abs() > 0.05 => {
                    format!("{w}% (achieved {got}%)")
                }
                (Some(w), _) => format!("{w}%"),
                (None, _) => "<none>".into(),
            });
            r.push(
                a.provider
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "<none>".into()),
            );
            if wide {
                r.push(
                    a.carrier
                        .clone()
                        .or_else(|| a.problem.clone())
                        .unwrap_or_default(),
                );
                r.push(
                    a.last_change
                        .as_ref()
                        .map(|e| format!("{}% → {}% by {}", e.from, e.to, e.actor))
                        .unwrap_or_else(|| "<none>".into()),
                );
            }
            r
        })
        .collect();
    (headers, rows)
}
