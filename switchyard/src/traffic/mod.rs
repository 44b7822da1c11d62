//! Traffic providers: what carries a canary app's weight, how to read it, and
//! how to change it in one guarded write per object. The stable and canary
//! weights are always written together, so they always sum to 100.

pub mod gateway;
pub mod istio;
pub mod nginx;
pub mod replicas;

use std::collections::BTreeMap;

use anyhow::Result;
use k8s_openapi::api::networking::v1::Ingress;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;

use crate::canary::App;
use crate::exit::{Error, Exit};

/// A provider, as `--provider` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Gateway API HTTPRoute backendRef weights.
    Gateway,
    /// ingress-nginx canary Ingress (`canary-weight` annotation).
    Nginx,
    /// Istio VirtualService route destination weights.
    Istio,
    /// The replica split of one Service over both Deployments.
    Replicas,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gateway => "gateway",
            Kind::Nginx => "nginx",
            Kind::Istio => "istio",
            Kind::Replicas => "replicas",
        }
    }
}

/// The objects that carry an app's weight.
#[derive(Clone, Debug)]
pub enum Carrier {
    Gateway(Vec<DynamicObject>),
    Nginx(Ingress),
    /// `--create-canary-ingress`: the stable Ingress to copy on the first write.
    NginxFromStable(Ingress),
    Istio(Vec<DynamicObject>),
    /// The Service that selects both Deployments.
    Replicas(String),
}

/// The traffic of one app.
#[derive(Clone, Debug)]
pub struct Traffic {
    pub kind: Kind,
    pub carrier: Carrier,
}

/// A weight as read or written: what was asked, and for the replica split what
/// the pod counts achieve.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Weight {
    pub weight: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved: Option<f64>,
}

/// The objects detection reads, listed once for a namespace (or all).
#[derive(Clone, Debug, Default)]
pub struct Objects {
    pub routes: Vec<DynamicObject>,
    pub ingresses: Vec<Ingress>,
    pub virtual_services: Vec<DynamicObject>,
}

fn is_missing_type(e: &kube::Error) -> bool {
    // A cluster without the CRD answers 404 for the whole resource type.
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

async fn list_dynamic(
    client: &Client,
    ns: Option<&str>,
    ar: &kube::api::ApiResource,
) -> Result<Vec<DynamicObject>> {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l.items),
        Err(e) if is_missing_type(&e) => Ok(Vec::new()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("listing {}", ar.plural))),
    }
}

/// HTTPRoutes, Ingresses and VirtualServices: three LIST calls however many apps.
pub async fn list(client: &Client, ns: Option<&str>) -> Result<Objects> {
    let ingresses: Api<Ingress> = match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let (route_type, vs_type) = (gateway::resource(), istio::resource());
    let (routes, ingresses, virtual_services) = tokio::try_join!(
        list_dynamic(client, ns, &route_type),
        async {
            match ingresses.list(&ListParams::default()).await {
                Ok(l) => Ok(l.items),
                Err(e) if is_missing_type(&e) => Ok(Vec::new()),
                Err(e) => Err(anyhow::Error::new(e).context("listing Ingresses")),
            }
        },
        list_dynamic(client, ns, &vs_type),
    )?;
    Ok(Objects {
        routes,
        ingresses,
        virtual_services,
    })
}

fn in_ns<'a, T: kube::Resource>(items: &'a [T], ns: &'a str) -> impl Iterator<Item = &'a T> {
    items
        .iter()
        .filter(move |i| i.meta().namespace.as_deref() == Some(ns))
}

/// What can carry `app`'s weight. With `forced`, that provider must be able to;
/// without, exactly one must (two → exit 2 asking for `--provider`).
pub fn detect(
    app: &App,
    objs: &Objects,
    forced: Option<Kind>,
    create_canary_ingress: bool,
) -> Result<Traffic, Error> {
    let ns = app.namespace.as_str();
    let routes: Vec<DynamicObject> = in_ns(&objs.routes, ns).cloned().collect();
    let ingresses: Vec<Ingress> = in_ns(&objs.ingresses, ns).cloned().collect();
    let vss: Vec<DynamicObject> = in_ns(&objs.virtual_services, ns).cloned().collect();
    let candidates: Vec<Traffic> = [
        gateway::detect(app, &routes).map(|c| Traffic {
            kind: Kind::Gateway,
            carrier: c,
        }),
        nginx::detect(app, &ingresses).map(|c| Traffic {
            kind: Kind::Nginx,
            carrier: c,
        }),
        istio::detect(app, &vss).map(|c| Traffic {
            kind: Kind::Istio,
            carrier: c,
        }),
        replicas::detect(app).map(|c| Traffic {
            kind: Kind::Replicas,
            carrier: c,
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let t = match forced {
        Some(kind) => match candidates.into_iter().find(|c| c.kind == kind) {
            Some(t) => Ok(t),
            None => Err(match kind {
                Kind::Gateway => gateway::why_not(app, &routes),
                Kind::Nginx if create_canary_ingress => match nginx::stable_ingress(app, &ingresses) {
                    Some(stable) => return Ok(Traffic { kind, carrier: Carrier::NginxFromStable(stable) }),
                    None => Error::new(Exit::Precondition, format!("--create-canary-ingress needs an Ingress {} to copy", app.name)),
                },
                Kind::Nginx => Error::new(Exit::Precondition, format!("no canary Ingress {}-canary with nginx.ingress.kubernetes.io/canary: \"true\"", app.name))
                    .hint("--create-canary-ingress makes one from the stable Ingress"),
                Kind::Istio => Error::new(Exit::Precondition, format!("no VirtualService routes to both {} and {}", app.stable_service.as_deref().unwrap_or(&app.name), app.canary_name())),
                Kind::Replicas => Error::new(Exit::Precondition, format!("no Service selects both {} and {}", app.stable_name(), app.canary_name()))
                    .hint("the replica split needs one Service whose selector matches the pods of both Deployments"),
            }),
        },
        None => match candidates.len() {
            1 => Ok(candidates.into_iter().next().expect("one")),
            0 => Err(Error::new(Exit::Precondition, format!("nothing carries traffic for canary app {}", app.name))
                .hint("an HTTPRoute or VirtualService naming both Services, an nginx canary Ingress APP-canary, or one Service over both Deployments")),
            _ => {
                let names: Vec<&str> = candidates.iter().map(|c| c.kind.as_str()).collect();
                Err(Error::new(Exit::Usage, format!("several providers carry traffic for {}: {}", app.name, names.join(", ")))
                    .hint(format!("pick one: --provider {}", names[0])))
            }
        },
    }?;
    if let Carrier::Gateway(routes) = &t.carrier {
        gateway::check_rules(app, routes)?;
    }
    Ok(t)
}

impl Traffic {
    /// The current canary weight.
    pub fn weight(&self, app: &App) -> Weight {
        match &self.carrier {
            Carrier::Gateway(routes) => Weight {
                weight: gateway::weight(app, routes),
                achieved: None,
            },
            Carrier::Nginx(ing) => Weight {
                weight: nginx::weight(ing),
                achieved: None,
            },
            Carrier::NginxFromStable(_) => Weight {
                weight: 0,
                achieved: None,
            },
            Carrier::Istio(vss) => Weight {
                weight: istio::weight(app, vss),
                achieved: None,
            },
            Carrier::Replicas(_) => replicas::weight(app),
        }
    }

    /// The annotations of the object that carries the weight (history lives there).
    pub fn annotations(&self, app: &App) -> Option<BTreeMap<String, String>> {
        match &self.carrier {
            Carrier::Gateway(r) | Carrier::Istio(r) => {
                r.first().and_then(|o| o.metadata.annotations.clone())
            }
            Carrier::Nginx(i) => i.metadata.annotations.clone(),
            Carrier::NginxFromStable(_) => None,
            Carrier::Replicas(_) => app.canary.metadata.annotations.clone(),
        }
    }

    /// A description of the carrier, for messages: `HTTPRoute shop`.
    pub fn describe(&self, app: &App) -> String {
        let names = |objs: &[DynamicObject]| {
            objs.iter()
                .filter_map(|o| o.metadata.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.carrier {
            Carrier::Gateway(r) => format!("HTTPRoute {}", names(r)),
            Carrier::Nginx(_) | Carrier::NginxFromStable(_) => {
                format!("Ingress {}-canary", app.name)
            }
            Carrier::Istio(v) => format!("VirtualService {}", names(v)),
            Carrier::Replicas(svc) => format!(
                "Service {svc} over {} and {}",
                app.stable_name(),
                app.canary_name()
            ),
        }
    }

    /// Writes weight `w` (one guarded write per object), with `annotations`
    /// (the history) on the carrier. Returns the weight now in effect.
    pub async fn set(
        &self,
        client: &Client,
        app: &App,
        w: u8,
        annotations: &BTreeMap<String, String>,
        total: Option<i32>,
        dry_run: bool,
    ) -> Result<Weight> {
        match &self.carrier {
            Carrier::Gateway(routes) => {
                gateway::set(client, app, routes, w, annotations, dry_run).await
            }
            Carrier::Nginx(ing) => nginx::set(client, app, ing, w, annotations, dry_run).await,
            Carrier::NginxFromStable(stable) => {
                nginx::create(client, app, stable, w, annotations, dry_run).await
            }
            Carrier::Istio(vss) => istio::set(client, app, vss, w, annotations, dry_run).await,
            Carrier::Replicas(_) => {
                replicas::set(client, app, w, total, annotations, dry_run).await
            }
        }
    }
}

pub(crate) use crate::exit::write_error;

/// `g` guarded on the history annotations as read, and writing them anew:
/// the new history is the old one plus an entry, so it depends on the old.
pub(crate) fn with_annotations(
    mut g: crate::guard::Guard,
    annotations: &BTreeMap<String, String>,
) -> crate::guard::Guard {
    for (k, v) in annotations {
        g = g
            .expect(&["metadata", "annotations", k])
            .set(&["metadata", "annotations", k], serde_json::json!(v));
    }
    g
}

/// PatchParams for a write, dry-run or not.
pub(crate) fn params(dry_run: bool) -> kube::api::PatchParams {
    if dry_run {
        kube::api::PatchParams::default().dry_run()
    } else {
        kube::api::PatchParams::default()
    }
}
