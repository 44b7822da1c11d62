//! The canary model: a stable Deployment `APP` (or `APP-stable`) and a canary
//! Deployment `APP-canary`, with their Services; a traffic provider carries the
//! weight (see `crate::traffic`).

pub mod abort;
pub mod deploy;
pub mod promote;
pub mod ramp;
pub mod set;
pub mod status;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Client;

use crate::exit::{Error, Exit};

/// A canary app as found in the cluster.
#[derive(Clone, Debug)]
pub struct App {
    pub name: String,
    pub namespace: String,
    pub stable: Deployment,
    pub canary: Deployment,
    /// `APP` or `APP-stable`, when it exists.
    pub stable_service: Option<String>,
    /// `APP-canary`, when it exists.
    pub canary_service: Option<String>,
    /// The Services that select the pods of both Deployments: candidates for
    /// the replica split (usually none or one).
    pub services: Vec<Service>,
}

impl App {
    pub fn stable_name(&self) -> String {
        self.stable.metadata.name.clone().unwrap_or_default()
    }

    pub fn canary_name(&self) -> String {
        format!("{}-canary", self.name)
    }
}

fn named<'a, T: kube::Resource>(items: &'a [T], name: &str) -> Option<&'a T> {
    items
        .iter()
        .find(|i| i.meta().name.as_deref() == Some(name))
}

/// Builds app `name` from listed objects, or says why it is not one.
pub fn resolve(
    name: &str,
    ns: &str,
    services: &[Service],
    deployments: &[Deployment],
) -> Result<App, Error> {
    let canary_name = format!("{name}-canary");
    let stable = named(deployments, name)
        .or_else(|| named(deployments, &format!("{name}-stable")))
        .ok_or_else(|| {
            Error::new(Exit::Precondition, format!("canary app {name} not found: no Deployment {name} or {name}-stable in namespace {ns}"))
                .hint("kubectl canary status lists the canary apps; -n picks the namespace")
        })?;
    let canary = named(deployments, &canary_name).ok_or_else(|| {
        Error::new(
            Exit::Precondition,
            format!("canary app {name} has no Deployment {canary_name}"),
        )
        .hint(format!(
            "create {canary_name}: a copy of {} running the new version",
            stable.metadata.name.as_deref().unwrap_or(name)
        ))
    })?;
    let stable_service = [name.to_string(), format!("{name}-stable")]
        .into_iter()
        .find(|n| named(services, n).is_some());
    Ok(App {
        name: name.to_string(),
        namespace: ns.to_string(),
        stable: stable.clone(),
        canary: canary.clone(),
        stable_service,
        canary_service: named(services, &canary_name).map(|_| canary_name.clone()),
        services: services
            .iter()
            .filter(|s| crate::traffic::replicas::selects_both(s, stable, canary))
            .cloned()
            .collect(),
    })
}

/// Every canary app among listed objects: a Deployment `X-canary` next to `X`
/// or `X-stable`.
pub fn discover(services: &[Service], deployments: &[Deployment]) -> Vec<App> {
    let services_by_ns = crate::workload::by_namespace(services);
    let deployments_by_ns = crate::workload::by_namespace(deployments);
    let in_ns = |ns: &str| {
        (
            services_by_ns.get(ns).map_or(&[][..], Vec::as_slice),
            deployments_by_ns.get(ns).map_or(&[][..], Vec::as_slice),
        )
    };
    let mut apps: Vec<App> = deployments
        .iter()
        .filter_map(|d| {
            let name = d.metadata.name.as_deref()?.strip_suffix("-canary")?;
            let ns = d.metadata.namespace.clone().unwrap_or_default();
            let (svcs, deps) = in_ns(&ns);
            resolve(name, &ns, svcs, deps).ok()
        })
        .collect();
    apps.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    apps
}

/// Loads app `name`.
pub async fn load(client: &Client, ns: &str, name: &str) -> Result<App> {
    crate::names::check_app_name(name)?;
    let (services, deployments) = crate::workload::list_objects(client, Some(ns)).await?;
    Ok(resolve(name, ns, &services, &deployments)?)
}

/// The app named, or the only canary app in `ns`.
pub async fn pick(client: &Client, ns: &str, name: Option<&str>) -> Result<App> {
    if let Some(n) = name {
        return load(client, ns, n).await;
    }
    let (services, deployments) = crate::workload::list_objects(client, Some(ns)).await?;
    let apps = discover(&services, &deployments);
    match apps.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::new(
            Exit::Precondition,
            format!("no canary app in namespace {ns}"),
        )
        .hint("a canary app is a Deployment APP-canary next to APP; -n picks the namespace")
        .into()),
        many => {
            let names: Vec<&str> = many.iter().map(|a| a.name.as_str()).collect();
            Err(Error::new(
                Exit::Usage,
                format!(
                    "{} canary apps in namespace {ns}: {}",
                    many.len(),
                    names.join(", ")
                ),
            )
            .hint("name the app: kubectl canary set WEIGHT APP")
            .into())
        }
    }
}

/// A weight from the command line: an integer 0–100, `30` or `30%`.
pub fn parse_weight(s: &str) -> Result<u8, Error> {
    let digits = s.trim().strip_suffix('%').unwrap_or(s.trim());
    digits
        .parse::<u8>()
        .ok()
        .filter(|w| *w <= 100 && !digits.starts_with('+'))
        .ok_or_else(|| {
            Error::new(Exit::Usage, format!("invalid weight {s:?}"))
                .hint("a weight is a whole number from 0 to 100, like 30 or 30%")
        })
}

/// Replicas of a Deployment's spec.
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(name: &str) -> Deployment {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"selector": {}, "template": {}}})).unwrap()
    }

    fn svc(name: &str) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}})).unwrap()
    }

    #[test]
    fn weights() {
        assert_eq!(parse_weight("30").unwrap(), 30);
        assert_eq!(parse_weight("30%").unwrap(), 30);
        assert_eq!(parse_weight("0").unwrap(), 0);
        assert_eq!(parse_weight("100").unwrap(), 100);
        for bad in ["-1", "101", "3.5", "abc", "", "%", "+5", "1e2"] {
            assert_eq!(parse_weight(bad).unwrap_err().exit, Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn discovery() {
        let deps = vec![
            deploy("shop"),
            deploy("shop-canary"),
            deploy("web-blue"),
            deploy("api-stable"),
            deploy("api-canary"),
            deploy("lone-canary"),
        ];
        let svcs = vec![svc("shop"), svc("shop-canary"), svc("api-stable")];
        let apps = discover(&svcs, &deps);
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["api", "shop"]);
        assert_eq!(apps[0].stable_name(), "api-stable");
        assert_eq!(apps[0].stable_service.as_deref(), Some("api-stable"));
        assert_eq!(apps[0].canary_service, None);
        assert_eq!(apps[1].canary_service.as_deref(), Some("shop-canary"));
        let e = resolve("lone", "default", &svcs, &deps).unwrap_err();
        assert!(e.message.contains("no Deployment lone or lone-stable"));
    }
}
