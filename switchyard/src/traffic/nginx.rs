//! ingress-nginx: the canary Ingress `APP-canary` with
//! `nginx.ingress.kubernetes.io/canary: "true"` and `canary-weight`.

use std::collections::BTreeMap;

use anyhow::Result;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use serde_json::json;

use super::{Carrier, Weight, params, with_annotations, write_error};
use crate::canary::App;
use crate::guard::Guard;

pub const CANARY: &str = "nginx.ingress.kubernetes.io/canary";
pub const CANARY_WEIGHT: &str = "nginx.ingress.kubernetes.io/canary-weight";

fn annotation<'a>(i: &'a Ingress, key: &str) -> Option<&'a str> {
    i.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

pub fn detect(app: &App, ingresses: &[Ingress]) -> Option<Carrier> {
    let name = app.canary_name();
    ingresses
        .iter()
        .find(|i| {
            i.metadata.name.as_deref() == Some(name.as_str())
                && annotation(i, CANARY) == Some("true")
        })
        .map(|i| Carrier::Nginx(i.clone()))
}

/// The stable Ingress `APP`, to copy with `--create-canary-ingress`.
pub fn stable_ingress(app: &App, ingresses: &[Ingress]) -> Option<Ingress> {
    ingresses
        .iter()
        .find(|i| i.metadata.name.as_deref() == Some(app.name.as_str()))
        .cloned()
}

pub fn weight(ing: &Ingress) -> u8 {
    annotation(ing, CANARY_WEIGHT)
        .and_then(|w| w.parse::<u8>().ok())
        .unwrap_or(0)
        .min(100)
}

pub async fn set(
    client: &Client,
    app: &App,
    ing: &Ingress,
    w: u8,
    annotations: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<Weight> {
    let name = app.canary_name();
    let mut a = annotations.clone();
    a.insert(CANARY_WEIGHT.to_string(), w.to_string());
    // ingress-nginx's status.loadBalancer is not part of the plan.
    with_annotations(Guard::on(ing, format!("Ingress {name}")), &a)
        .send(
            &Api::<Ingress>::namespaced(client.clone(), &app.namespace),
            &name,
            &params(dry_run),
        )
        .await?;
    Ok(Weight {
        weight: w,
        achieved: None,
    })
}

/// The canary Ingress made from the stable one: same rules, backends pointing
/// at the canary Service, the canary annotations.
pub fn canary_from(
    app: &App,
    stable: &Ingress,
    w: u8,
    annotations: &BTreeMap<String, String>,
) -> Ingress {
    let stable_svc = app
        .stable_service
        .clone()
        .unwrap_or_else(|| app.name.clone());
    let canary_svc = app.canary_name();
    let mut spec =
        serde_json::to_value(stable.spec.clone().unwrap_or_default()).unwrap_or_default();
    fn retarget(v: &mut serde_json::Value, from: &str, to: &str) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("service")
                    .and_then(|s| s.get("name"))
                    .and_then(|n| n.as_str())
                    == Some(from)
                {
                    m["service"]["name"] = json!(to);
                }
                m.values_mut().for_each(|x| retarget(x, from, to));
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| retarget(x, from, to)),
            _ => {}
        }
    }
    retarget(&mut spec, &stable_svc, &canary_svc);
    let mut a = annotations.clone();
    a.insert(CANARY.to_string(), "true".to_string());
    a.insert(CANARY_WEIGHT.to_string(), w.to_string());
    Ingress {
        metadata: ObjectMeta {
            name: Some(canary_svc),
            namespace: Some(app.namespace.clone()),
            labels: stable.metadata.labels.clone(),
            annotations: Some(a),
            ..ObjectMeta::default()
        },
        spec: serde_json::from_value(spec).ok(),
        status: None,
    }
}

pub async fn create(
    client: &Client,
    app: &App,
    stable: &Ingress,
    w: u8,
    annotations: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<Weight> {
    let ing = canary_from(app, stable, w, annotations);
    let pp = if dry_run {
        PostParams {
            dry_run: true,
            ..PostParams::default()
        }
    } else {
        PostParams::default()
    };
    Api::<Ingress>::namespaced(client.clone(), &app.namespace)
        .create(&pp, &ing)
        .await
        .map_err(|e| write_error(e, &format!("Ingress {}", app.canary_name())))?;
    Ok(Weight {
        weight: w,
        achieved: None,
    })
}
