//! Gateway API: every HTTPRoute rule whose backendRefs name both Services gets
//! stable = 100 − w and canary = w.

use std::collections::BTreeMap;

use anyhow::Result;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

use super::{Carrier, Weight, params, with_annotations};
use crate::canary::App;
use crate::exit::{Error, Exit};
use crate::guard::Guard;

pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "HTTPRoute"),
        "httproutes",
    )
}

/// A backendRef that points at Service `name` (kind Service is the default).
fn names_service(r: &Value, name: &str) -> bool {
    r["name"] == name
        && r["kind"].as_str().is_none_or(|k| k == "Service")
        && r["group"].as_str().is_none_or(str::is_empty)
}

fn refs_both(rule: &Value, stable: &str, canary: &str) -> bool {
    let refs = rule["backendRefs"].as_array();
    let has = |n: &str| refs.is_some_and(|rs| rs.iter().any(|r| names_service(r, n)));
    has(stable) && has(canary)
}

fn rules(route: &DynamicObject) -> Vec<Value> {
    route.data["spec"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn services(app: &App) -> Option<(&str, String)> {
    Some((app.stable_service.as_deref()?, app.canary_service.clone()?))
}

pub fn detect(app: &App, routes: &[DynamicObject]) -> Option<Carrier> {
    let (stable, canary) = services(app)?;
    let found: Vec<DynamicObject> = routes
        .iter()
        .filter(|r| rules(r).iter().any(|rule| refs_both(rule, stable, &canary)))
        .cloned()
        .collect();
    (!found.is_empty()).then_some(Carrier::Gateway(found))
}

/// A rule that names both Services must name nothing else: with a third
/// backend, the two weights no longer make the canary's share.
pub fn check_rules(app: &App, routes: &[DynamicObject]) -> Result<(), Error> {
    let Some((stable, canary)) = services(app) else {
        return Ok(());
    };
    for r in routes {
        for rule in rules(r)
            .iter()
            .filter(|rule| refs_both(rule, stable, &canary))
        {
            let others: Vec<&str> = rule["backendRefs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|b| !names_service(b, stable) && !names_service(b, &canary))
                .map(|b| b["name"].as_str().unwrap_or("?"))
                .collect();
            if !others.is_empty() {
                let name = r.metadata.name.as_deref().unwrap_or("");
                return Err(Error::new(
                    Exit::Precondition,
                    format!(
                        "HTTPRoute {name} also sends the traffic of {stable} and {canary} to {}, so a weight cannot be set",
                        others.join(", ")
                    ),
                )
                .hint(format!(
                    "give {} a rule of its own; the rule with {stable} and {canary} must have just those two backends",
                    others.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// Why `--provider gateway` cannot work, naming the route that is closest.
pub fn why_not(app: &App, routes: &[DynamicObject]) -> Error {
    let Some((stable, canary)) = services(app) else {
        return Error::new(
            Exit::Precondition,
            format!(
                "the gateway provider needs Services {} and {}",
                app.name,
                app.canary_name()
            ),
        );
    };
    for r in routes {
        let all: Vec<&Value> = r.data["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let refs = |n: &str| {
            all.iter().any(|rule| {
                rule["backendRefs"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|b| names_service(b, n)))
            })
        };
        let name = r.metadata.name.as_deref().unwrap_or("");
        match (refs(stable), refs(&canary)) {
            (true, false) => return Error::new(Exit::Precondition, format!("HTTPRoute {name} does not reference the canary Service {canary}"))
                .hint(format!("add a backendRef {{name: {canary}, port: ..., weight: 0}} to the rule that serves {stable}")),
            (false, true) => return Error::new(Exit::Precondition, format!("HTTPRoute {name} does not reference the stable Service {stable}")),
            _ => {}
        }
    }
    Error::new(
        Exit::Precondition,
        format!("no HTTPRoute references both {stable} and {canary}"),
    )
}

/// The canary share of the first rule that names both Services (weights default to 1).
pub fn weight(app: &App, routes: &[DynamicObject]) -> u8 {
    let Some((stable, canary)) = services(app) else {
        return 0;
    };
    for r in routes {
        for rule in rules(r) {
            if refs_both(&rule, stable, &canary) {
                let w = |n: &str| {
                    rule["backendRefs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|b| names_service(b, n))
                        .map(|b| b["weight"].as_i64().unwrap_or(1))
                        .sum::<i64>()
                };
                let (s, c) = (w(stable), w(&canary));
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

/// The rules with the weights of both Services set.
pub fn reweighted(rules: &[Value], stable: &str, canary: &str, w: u8) -> Vec<Value> {
    rules
        .iter()
        .map(|rule| {
            let mut rule = rule.clone();
            if refs_both(&rule, stable, canary)
                && let Some(refs) = rule["backendRefs"].as_array_mut()
            {
                for r in refs.iter_mut() {
                    if names_service(r, stable) {
                        r["weight"] = json!(100 - w as i64);
                    } else if names_service(r, canary) {
                        r["weight"] = json!(w);
                    }
                }
            }
            rule
        })
        .collect()
}

pub async fn set(
    client: &Client,
    app: &App,
    routes: &[DynamicObject],
    w: u8,
    annotations: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<Weight> {
    let (stable, canary) = services(app).expect("detect() found both Services");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &app.namespace, &resource());
    for r in routes {
        let name = r.metadata.name.clone().unwrap_or_default();
        // The plan read the rules (which name both Services, at which index);
        // a Gateway controller's status.parents is not part of it.
        let g = Guard::on(r, format!("HTTPRoute {name}")).expect(&["spec", "rules"]);
        with_annotations(g, annotations)
            .set(
                &["spec", "rules"],
                json!(reweighted(&rules(r), stable, &canary, w)),
            )
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
    fn reweights_only_rules_naming_both() {
        let rules = vec![
            json!({"backendRefs": [{"name": "shop", "weight": 100}, {"name": "shop-canary", "weight": 0}]}),
            json!({"matches": [{"path": {"value": "/admin"}}], "backendRefs": [{"name": "shop"}]}),
        ];
        let out = reweighted(&rules, "shop", "shop-canary", 30);
        assert_eq!(out[0]["backendRefs"][0]["weight"], 70);
        assert_eq!(out[0]["backendRefs"][1]["weight"], 30);
        assert_eq!(out[1], rules[1]);
    }

    #[test]
    fn only_service_backend_refs_count() {
        assert!(names_service(&json!({"name": "shop"}), "shop"));
        assert!(names_service(
            &json!({"name": "shop", "kind": "Service", "group": ""}),
            "shop"
        ));
        assert!(!names_service(
            &json!({"name": "shop", "kind": "Bucket", "group": "example.com"}),
            "shop"
        ));
    }
}
