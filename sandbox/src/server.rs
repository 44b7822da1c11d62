//! HTTPS on loopback: TLS, HTTP/1.1 and HTTP/2, and the `Sandbox` handle that
//! tests and the `kube-sandbox` binary start and stop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, Reply};
use crate::auth::{Role, Tokens};
use crate::cluster::{Cluster, Settings};
use crate::defaults::Allocator;
use crate::faults::{Fault, Faults};
use crate::requests::Requests;
use crate::store::{Store, random_suffix};
use crate::{controllers, kubeconfig, tls};

/// How to start a sandbox.
#[derive(Clone, Debug)]
pub struct Options {
    /// 0 picks a free port.
    pub port: u16,
    /// Seed the demo apps (`web` blue/green, `shop` canary).
    pub demo: bool,
    /// Multi-document YAML manifests applied at start.
    pub manifests: Vec<String>,
    /// Fault specs (see `faults`), active from the start.
    pub faults: Vec<String>,
    /// The admin token; random when None.
    pub admin_token: Option<String>,
    /// A token that may only get, list and watch.
    pub readonly_token: Option<String>,
    /// (token, username) of users judged by RBAC: they may do what the Roles
    /// and ClusterRoles bound to the username allow (a service account is
    /// `system:serviceaccount:NS:NAME`).
    pub users: Vec<(String, String)>,
    /// Changes kept for watch resume; older resourceVersions get 410 Gone.
    pub history: usize,
    pub settings: Settings,
    /// Keep the CA and serving certificate here, reusing those found: a
    /// restart on the same port stays trusted by existing kubeconfigs.
    pub tls_dir: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 0,
            demo: false,
            manifests: Vec::new(),
            faults: Vec::new(),
            admin_token: None,
            readonly_token: None,
            users: Vec::new(),
            history: 10_000,
            settings: Settings::default(),
            tls_dir: None,
        }
    }
}

/// A running sandbox. Dropping it stops the listener; in-flight watches end with
/// the runtime.
pub struct Sandbox {
    addr: SocketAddr,
    ca_pem: String,
    admin_token: String,
    cluster: Arc<Cluster>,
    shutdown: watch::Sender<bool>,
}

type Body = BoxBody<Bytes, Infallible>;

fn full(code: u16, content_type: &str, body: Vec<u8>) -> hyper::Response<Body> {
    hyper::Response::builder()
        .status(code)
        .header("content-type", content_type)
        .header("cache-control", "no-cache, private")
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("static headers are valid")
}

fn into_response(reply: Reply) -> hyper::Response<Body> {
    match reply {
        Reply::Json(code, v) => {
            let mut resp = full(
                code,
                "application/json",
                serde_json::to_vec(&v).unwrap_or_default(),
            );
            if let Some(secs) = v["details"]["retryAfterSeconds"].as_u64()
                && code >= 429
            {
                resp.headers_mut().insert("retry-after", secs.into());
            }
            resp
        }
        Reply::Text(code, ct, s) => full(code, ct, s.into_bytes()),
        Reply::Stream(rx) => {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
            });
            hyper::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("cache-control", "no-cache, private")
                .body(StreamBody::new(stream).boxed())
                .expect("static headers are valid")
        }
    }
}

async fn serve_request(
    cluster: Arc<Cluster>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return full(400, "text/plain", b"unreadable body".to_vec()),
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let all = |name: &str| -> Vec<String> {
        parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(String::from)
            .collect()
    };
    let impersonation = crate::auth::Impersonation {
        user: header("impersonate-user"),
        groups: all("impersonate-group"),
        uid: header("impersonate-uid"),
        extra: parts
            .headers
            .iter()
            .filter_map(|(k, v)| {
                let key = k.as_str().strip_prefix("impersonate-extra-")?;
                Some((key.to_string(), v.to_str().ok()?.to_string()))
            })
            .collect(),
    };
    let request = api::Request {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query,
        accept: header("accept").unwrap_or_default(),
        content_type: header("content-type").unwrap_or_default(),
        authorization: header("authorization"),
        user_agent: header("user-agent").unwrap_or_default(),
        impersonation,
        body,
    };
    into_response(api::handle(&cluster, request).await)
}

impl Sandbox {
    /// Starts a sandbox on 127.0.0.1 on the current tokio runtime.
    pub async fn start(opts: Options) -> Result<Sandbox> {
        let listener = TcpListener::bind(("127.0.0.1", opts.port))
            .await
            .with_context(|| format!("binding 127.0.0.1:{}", opts.port))?;
        let addr = listener.local_addr()?;
        let tls = match &opts.tls_dir {
            Some(dir) => tls::load_or_generate(dir)?,
            None => tls::generate()?,
        };
        let admin_token = opts
            .admin_token
            .clone()
            .unwrap_or_else(|| format!("sandbox-admin-{}", random_suffix(24)));
        let mut tokens = Tokens::default();
        tokens.add(admin_token.clone(), "sandbox-admin", Role::Admin);
        if let Some(t) = &opts.readonly_token {
            tokens.add(t.clone(), "sandbox-readonly", Role::ReadOnly);
        }
        for (token, user) in &opts.users {
            tokens.add(token.clone(), user.clone(), Role::Rbac);
        }
        let faults = Faults::default();
        for spec in &opts.faults {
            faults.add(Fault::parse(spec).map_err(anyhow::Error::msg)?);
        }
        let cluster = Arc::new(Cluster {
            store: {
                let store = Store::new(opts.history);
                store.set_graceful_pods(!opts.settings.termination_grace_cap.is_zero());
                store
            },
            alloc: Allocator::default(),
            faults,
            requests: Requests::default(),
            tokens,
            settings: opts.settings.clone(),
            server_address: addr.to_string(),
            types: Default::default(),
        });
        seed(&cluster, &opts)?;
        controllers::spawn_all(&cluster);

        let (shutdown, mut stop) = watch::channel(false);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config);
        let serving = cluster.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(c) => c,
                        Err(_) => continue,
                    },
                    _ = stop.changed() => return,
                };
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let cluster = serving.clone();
                tokio::spawn(async move {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let svc = service_fn(move |req| {
                        let cluster = cluster.clone();
                        async move { Ok::<_, Infallible>(serve_request(cluster, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Sandbox {
            addr,
            ca_pem: tls.ca_pem,
            admin_token,
            cluster,
            shutdown,
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The simulated cluster: store, request counters, faults.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// A kubeconfig for this sandbox with `token` (the admin's when None).
    pub fn kubeconfig(&self, token: Option<&str>, namespace: &str) -> String {
        kubeconfig::render(
            &self.url(),
            &self.ca_pem,
            token.unwrap_or(&self.admin_token),
            namespace,
        )
    }

    /// Writes the admin kubeconfig (namespace `default`) to `path`, mode 0600.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<()> {
        kubeconfig::write(path, &self.kubeconfig(None, "default"))
    }

    /// Waits until every Deployment is fully rolled out and available and the
    /// controllers have gone quiet (no change for 100 ms), so a caller starts
    /// from a settled cluster: "nothing changed" checks compare like with like.
    pub async fn settle(&self, timeout: Duration) -> Result<()> {
        let deployments = crate::resources::find("apps", "v1", "deployments").expect("served");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (items, _) = self.cluster.store.list(deployments, None);
            let pending: Vec<String> = items
                .iter()
                .filter(|d| !rolled_out(d))
                .map(|d| d["metadata"]["name"].as_str().unwrap_or("").to_string())
                .collect();
            if pending.is_empty() {
                // Quiet for 100 ms: the EndpointSlices and the last status
                // writes have caught up. With status writers the store is
                // never quiet; rolled out twice 100 ms apart is settled then.
                let rv = self.cluster.store.rv();
                tokio::time::sleep(Duration::from_millis(100)).await;
                let writers = !self.cluster.faults.status_writers().is_empty();
                if self.cluster.store.rv() == rv
                    || writers && items_rolled_out(&self.cluster.store.list(deployments, None).0)
                    || tokio::time::Instant::now() > deadline
                {
                    return Ok(());
                }
                continue;
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "deployments not ready after {timeout:?}: {}",
                    pending.join(", ")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops accepting connections.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

fn items_rolled_out(items: &[std::sync::Arc<serde_json::Value>]) -> bool {
    items.iter().all(|d| rolled_out(d))
}

/// A Deployment whose status says it is fully rolled out and available.
pub fn rolled_out(d: &Value) -> bool {
    let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let s = &d["status"];
    let n = |f: &str| s[f].as_i64().unwrap_or(0);
    s["observedGeneration"] == d["metadata"]["generation"]
        && n("updatedReplicas") == want
        && n("availableReplicas") == want
        && n("replicas") == want
}

/// Namespaces every cluster has, the bootstrap RBAC every user relies on
/// (`system:basic-user`), the Nodes, then the demo and `--apply` manifests.
fn seed(cluster: &Arc<Cluster>, opts: &Options) -> Result<()> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        apply_yaml(
            cluster,
            &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
        )?;
    }
    // The node, as its kubelet registered it, and its heartbeat Lease.
    let nodes = crate::resources::find("", "v1", "nodes").expect("nodes are served");
    let now = jiff::Timestamp::now();
    let version = crate::api::discovery::version();
    let kubelet = version["gitVersion"].as_str().unwrap_or("");
    for name in crate::node::names(cluster.settings.nodes) {
        let node = crate::node::node_object(
            &name,
            &now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            kubelet,
        );
        cluster
            .store
            .create(nodes, node, false)
            .map_err(|e| anyhow::anyhow!("seeding node {name}: {}", e.message))?;
        let lease =
            crate::node::node_lease(&name, &now.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string());
        api::objects::apply_manifest(cluster, lease)
            .map_err(|e| anyhow::anyhow!("seeding the lease of node {name}: {}", e.message))?;
    }
    let mut docs = vec![crate::rbac::BOOTSTRAP.to_string()];
    if opts.demo {
        docs.push(include_str!("../demo/demo.yaml").to_string());
    }
    docs.extend(opts.manifests.iter().cloned());
    for text in docs {
        apply_yaml(cluster, &text)?;
    }
    Ok(())
}

/// Applies every document of a multi-document YAML manifest.
pub fn apply_yaml(cluster: &Arc<Cluster>, text: &str) -> Result<()> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).context("parsing manifest YAML")?;
    for doc in docs.into_iter().filter(|d| d.is_object()) {
        let what = format!(
            "{}/{}",
            doc["kind"].as_str().unwrap_or("?"),
            doc["metadata"]["name"].as_str().unwrap_or("?")
        );
        let items = if doc["kind"] == "List" {
            doc["items"].as_array().cloned().unwrap_or_default()
        } else {
            vec![doc]
        };
        for item in items {
            api::objects::apply_manifest(cluster, item)
                .map_err(|e| anyhow::anyhow!("applying {what}: {}", e.message))?;
        }
    }
    Ok(())
}
