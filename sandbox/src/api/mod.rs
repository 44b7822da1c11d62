//! Serving one API request: authenticate, count, inject faults, route, answer.
//! Transport-free (the `server` module does HTTP and TLS), so tests can drive it.

pub mod convert;
pub mod discovery;
pub mod objects;
pub mod openapi;
pub mod proxy;
pub mod review;
pub mod route;
pub mod scale;
pub mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::auth::{self, Role, User};
use crate::cluster::Cluster;
use crate::faults::Fault;
use crate::status::ApiError;
use route::{ResourcePath, Route};

/// One request, transport stripped.
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub accept: String,
    pub content_type: String,
    pub authorization: Option<String>,
    /// The User-Agent: names the field manager of a write without `fieldManager`.
    pub user_agent: String,
    /// `Impersonate-User`, `-Group`, `-Uid`, `-Extra-*`.
    pub impersonation: auth::Impersonation,
    pub body: Bytes,
}

impl Request {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.param(key), Some("true" | "1"))
    }

    pub fn dry_run(&self) -> bool {
        self.param("dryRun") == Some("All")
    }

    pub fn wants_table(&self) -> bool {
        self.accept.contains("as=Table")
    }
}

/// An answer.
pub enum Reply {
    Json(u16, Value),
    Text(u16, &'static str, String),
    /// A watch: newline-delimited JSON events until the sender closes.
    Stream(mpsc::Receiver<Bytes>),
}

impl Reply {
    pub fn ok(v: Value) -> Reply {
        Reply::Json(200, v)
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::Json(e.code, e.to_status())
    }
}

/// Verb and resource of a request, as audit logs and RBAC name them.
fn verb_of(req: &Request, p: &ResourcePath) -> &'static str {
    if p.sub.as_deref() == Some("proxy") {
        return match req.method {
            Method::GET | Method::HEAD => "get",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "get",
        };
    }
    match (&req.method, p.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if req.flag("watch") => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => "unknown",
    }
}

/// Serves one request.
pub async fn handle(cluster: &Arc<Cluster>, req: Request) -> Reply {
    let user = match cluster
        .tokens
        .authenticate(req.authorization.as_deref())
        .and_then(|u| auth::impersonate(u, &cluster.store, &req.impersonation))
    {
        Ok(u) => u,
        Err(e) => return e.into(),
    };
    let route = route::parse(&req.path, &cluster.types);
    let (verb, resource) = match &route {
        Route::Resource(p) => (
            verb_of(&req, p),
            match &p.sub {
                Some(s) => format!("{}/{s}", p.res.plural),
                None => p.res.plural.to_string(),
            },
        ),
        Route::Admin(_) => ("admin", req.path.clone()),
        _ => ("get", req.path.clone()),
    };
    if !matches!(route, Route::Admin(_)) {
        let line = match req.query.is_empty() {
            true => format!("{} {}", req.method, req.path),
            false => {
                let mut q: Vec<_> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                q.sort();
                format!("{} {}?{}", req.method, req.path, q.join("&"))
            }
        };
        cluster.requests.record(verb, &resource, line);
    }
    let decision = match &route {
        Route::Admin(_) => Default::default(),
        Route::Resource(p) => cluster.faults.decide(verb, &resource, p.name.as_deref()),
        _ => cluster.faults.decide(verb, &resource, None),
    };
    // A write's etcd round trip, when the sandbox models one.
    let write_cost = match verb {
        "create" | "update" | "patch" | "delete" | "deletecollection"
            if matches!(route, Route::Resource(_)) =>
        {
            cluster.settings.write_latency
        }
        _ => std::time::Duration::ZERO,
    };
    let delay = decision.latency + write_cost;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(e) = decision.error {
        return e.into();
    }
    match route {
        Route::Version => Reply::ok(discovery::version()),
        Route::Health => Reply::Text(200, "text/plain", "ok".into()),
        Route::CoreVersions => Reply::ok(discovery::core_versions(&cluster.server_address)),
        Route::Groups => Reply::ok(discovery::groups(&cluster.types)),
        Route::Group(g) => discovery::group(&cluster.types, &g)
            .map(Reply::ok)
            .unwrap_or_else(|| not_found(&req.path)),
        Route::Resources(g, v) => discovery::resources(&cluster.types, &g, &v)
            .map(Reply::ok)
            .unwrap_or_else(|| not_found(&req.path)),
        Route::OpenApiV3(path) if path.is_empty() => Reply::ok(openapi::root(&cluster.types)),
        Route::OpenApiV3(path) => openapi::group_version(&cluster.types, &path)
            .map(Reply::ok)
            .unwrap_or_else(|| not_found(&req.path)),
        Route::OpenApiV2 | Route::NotFound => not_found(&req.path),
        Route::Admin(path) => admin(cluster, &user, &req, &path),
        Route::Resource(p) => {
            if let Err(e) = auth::authorize(
                &user,
                &cluster.store,
                verb,
                p.res,
                p.sub.as_deref(),
                p.name.as_deref(),
                p.ns.as_deref(),
            ) {
                return e.into();
            }
            // A server-side apply that creates the object is authorized as a
            // create too (patch.go's createAuthorizerAttributes): `patch`
            // alone may change objects, not make them.
            if verb == "patch"
                && p.sub.is_none()
                && crate::patch::PatchType::from_content_type(&req.content_type)
                    == Some(crate::patch::PatchType::Apply)
                && let Some(name) = p.name.as_deref()
                && cluster
                    .store
                    .get(p.res, p.ns.as_deref().unwrap_or(""), name)
                    .is_none()
                && let Err(e) = auth::authorize(
                    &user,
                    &cluster.store,
                    "create",
                    p.res,
                    None,
                    Some(name),
                    p.ns.as_deref(),
                )
            {
                return e.into();
            }
            if p.res.review {
                return review::create(cluster, &user, &req, &p).unwrap_or_else(Reply::from);
            }
            resource_request(cluster, &req, p, verb, decision.drop_watch_after)
                .await
                .unwrap_or_else(Reply::from)
        }
    }
}

fn not_found(path: &str) -> Reply {
    ApiError::new(
        404,
        "NotFound",
        format!("the server could not find the requested resource ({path})"),
    )
    .into()
}

async fn resource_request(
    cluster: &Arc<Cluster>,
    req: &Request,
    p: ResourcePath,
    verb: &str,
    drop_watch_after: Option<u32>,
) -> Result<Reply, ApiError> {
    match p.sub.as_deref() {
        None | Some("status") => {}
        Some("scale") if p.res.scale => return scale::handle(cluster, req, &p),
        Some("proxy") if p.res.kind == "Service" => return proxy::service(cluster, req, &p),
        Some("log") if p.res.kind == "Pod" => return proxy::pod_log(cluster, &p),
        Some(_) => {
            return Err(ApiError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
    }
    if p.sub.is_some() && !p.res.status {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ));
    }
    match verb {
        "get" => objects::get(cluster, req, &p),
        "list" => objects::list(cluster, req, &p),
        "watch" => watch::watch(cluster, req, &p, drop_watch_after),
        "create" => objects::create(cluster, req, &p),
        "update" => objects::update(cluster, req, &p),
        "patch" => objects::patch(cluster, req, &p),
        "delete" => objects::delete(cluster, req, &p),
        "deletecollection" => objects::delete_collection(cluster, req, &p),
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({})",
            req.method
        ))),
    }
}

/// `/sandbox/requests` (GET counts, DELETE/POST reset) and `/sandbox/faults`
/// (GET list, POST add `{"spec": "..."}`, DELETE clear). Admin token only.
fn admin(cluster: &Cluster, user: &User, req: &Request, path: &str) -> Reply {
    if user.role != Role::Admin {
        return ApiError::new(
            403,
            "Forbidden",
            format!(
                "User \"{}\" cannot use the sandbox admin endpoints",
                user.name
            ),
        )
        .into();
    }
    match (path, &req.method) {
        ("requests", &Method::GET) => Reply::ok(cluster.requests.snapshot()),
        ("requests", &Method::DELETE | &Method::POST) => {
            cluster.requests.reset();
            Reply::ok(json!({ "reset": true }))
        }
        ("faults", &Method::GET) => Reply::ok(json!({ "faults": cluster.faults.list() })),
        ("faults", &Method::DELETE) => {
            cluster.faults.clear();
            Reply::ok(json!({ "faults": [] }))
        }
        ("faults", &Method::POST) => {
            let spec = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|v| v["spec"].as_str().map(String::from));
            let Some(spec) = spec else {
                return ApiError::bad_request(
                    "body must be {\"spec\": \"status=503,verb=patch,...\"}",
                )
                .into();
            };
            match Fault::parse(&spec) {
                Ok(f) => {
                    cluster.faults.add(f);
                    Reply::Json(201, json!({ "faults": cluster.faults.list() }))
                }
                Err(e) => ApiError::bad_request(e).into(),
            }
        }
        _ => not_found(&req.path),
    }
}
