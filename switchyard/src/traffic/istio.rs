//! Istio: a VirtualService http route with two destinations, the stable and the
//! canary (by host, or by subset `stable`/`canary`); weights sum to 100.

use std::collections::BTreeMap;

use anyhow::Result;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use super::{Carrier, Weight, params, with_annotations};
use crate::canary::App;
use crate::guard::Guard;

pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("networking.istio.io", "v1", "VirtualService"),
        "virtualservices",
    )
}

/// `shop`, `shop.default`, `shop.default.svc`, `shop.default.svc.cluster.local`.
fn host_is(host: &str, svc: &str, ns: &str) -> bool {
    host == svc || host == format!("{svc}.{ns}") || host.starts_with(&format!("{svc}.{ns}.svc"))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Stable,
    Canary,
}

fn side(dest: &Value, app: &App) -> Option<Side> {
    let host = dest["destination"]["host"].as_str().unwrap_or("");
    let ns = app.namespace.as_str();
    let stable_svc = app.stable_service.as_deref().unwrap_or(&app.name);
    match dest["destination"]["subset"].as_str() {
        Some("stable") => return Some(Side::Stable),
        Some("canary") => return Some(Side::Canary),
        _ => {}
    }
    if host_is(host, &app.canary_name(), ns) {
        Some(Side::Canary)
    } else if host_is(host, stable_svc, ns) {
        Some(Side::Stable)
    } else {
        None
    }
}

fn is_split(route: &Value, app: &App) -> bool {
    let dests = route["route"].as_array();
    let has = |s: Side| dests.is_some_and(|d| d.iter().any(|x| side(x, app) == Some(s)));
    has(Side::Stable) && has(Side::Canary)
}

fn http(vs: &DynamicObject) -> Vec<Value> {
    vs.data["spec"]["http"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn detect(app: &App, vss: &[DynamicObject]) -> Option<Carrier> {
    let found: Vec<DynamicObject> = vss
        .iter()
        .filter(|v| http(v).iter().any(|r| is_split(r, app)))
        .cloned()
        .collect();
    (!found.is_empty()).then_some(Carrier::Istio(found))
}

pub fn weight(app: &App, vss: &[DynamicObject]) -> u8 {
    for v in vss {
        for r in http(v) {
            if is_split(&r, app) {
                let w = |s: Side| {
                    r["route"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|d| side(d, app) == Some(s))
                        .map(|d| d["weight"].as_i64().unwrap_or(0))
                        .sum::<i64>()
                };
                let (s, c) = (w(Side::Stable), w(Side::Canary));
                return if s + c == 0 {
                    0
                } else {
                    ((c * 100 + (s + c) / 2) / (s + c)) as u8
                };
            }
        }
    }
    0
}

pub async fn set(
    client: &Client,
    app: &App,
    vss: &[DynamicObject],
    w: u8,
    annotations: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<Weight> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &app.namespace, &resource());
    for v in vss {
        let name = v.metadata.name.clone().unwrap_or_default();
        let routes: Vec<Value> = http(v)
            .into_iter()
            .map(|mut r| {
                if is_split(&r, app)
                    && let Some(dests) = r["route"].as_array_mut()
                {
                    for d in dests.iter_mut() {
                        match side(d, app) {
                            Some(Side::Stable) => d["weight"] = json!(100 - w as i64),
                            Some(Side::Canary) => d["weight"] = json!(w),
                            None => {}
                        }
                    }
                }
                r
            })
            .collect();
        let g = Guard::on(v, format!("VirtualService {name}")).expect(&["spec", "http"]);
        with_annotations(g, annotations)
            .set(&["spec", "http"], json!(routes))
            .send(&api, &name, &params(dry_run))
            .await?;
    }
    Ok(Weight {
        weight: w,
        achieved: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(host_is("shop", "shop", "default"));
        assert!(host_is("shop.default.svc.cluster.local", "shop", "default"));
        assert!(!host_is("shop-canary", "shop", "default"));
        assert!(!host_is("shop.other", "shop", "default"));
    }
}
