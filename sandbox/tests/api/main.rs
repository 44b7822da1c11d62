//! Library-level tests: a sandbox in-process, driven by kube-rs (the client the
//! Switchyard tools use) and by raw HTTP where the wire format is the point.

mod controllers;
mod errors;
mod list;
mod patch;
mod rbac;
mod watch;
mod workloads;

use std::time::Duration;

use http_body_util::BodyExt;
use kube::Client;
use kube_sandbox::{Options, Sandbox, Settings};
use serde_json::{Value, json};

/// A started sandbox and an admin client for it.
pub struct Env {
    pub sandbox: Sandbox,
    pub client: Client,
}

/// What a raw request got back.
#[derive(Debug)]
pub struct Raw {
    pub code: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn client_for(sandbox: &Sandbox, token: Option<&str>) -> Client {
    let yaml = sandbox.kubeconfig(token, "default");
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
    let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("kubeconfig loads");
    // These tests assert on the server's exact answers, 503s and 429s included.
    config.default_retry = false;
    Client::try_from(config).expect("client builds")
}

pub async fn start_with(opts: Options) -> Env {
    let sandbox = Sandbox::start(opts).await.expect("sandbox starts");
    let client = client_for(&sandbox, None).await;
    Env { sandbox, client }
}

/// A sandbox with fast pods, for controller tests.
pub async fn start() -> Env {
    start_with(Options {
        settings: Settings {
            ready_delay: Duration::from_millis(50),
            bookmark_interval: Duration::from_millis(100),
            crash_backoff: Duration::from_millis(100),
            ..Settings::default()
        },
        ..Options::default()
    })
    .await
}

impl Env {
    /// Sends one request; `body` as JSON unless `content_type` says otherwise.
    pub async fn raw(&self, method: &str, path: &str, content_type: &str, body: &str) -> Raw {
        raw_with(&self.client, method, path, content_type, body).await
    }

    pub async fn get(&self, path: &str) -> Raw {
        self.raw("GET", path, "application/json", "").await
    }

    pub async fn create(&self, path: &str, obj: Value) -> Raw {
        let r = self
            .raw("POST", path, "application/json", &obj.to_string())
            .await;
        assert_eq!(r.code, 201, "create {path}: {}", r.text);
        r
    }

    /// The object at `path`, polled until `pred` holds (bounded).
    pub async fn wait_for(&self, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.get(path).await;
            if r.code == 200 && pred(&r.body) {
                return r.body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: last {}",
                r.text
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub async fn raw_with(
    client: &Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Raw {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .expect("request builds");
    let resp = client.send(req).await.expect("request is answered");
    let code = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Raw {
        code,
        headers,
        body,
        text,
    }
}

pub fn configmap(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

pub fn deployment(name: &str, replicas: i64, annotations: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "app", "image": "example/app:1.0", "ports": [{"name": "http", "containerPort": 8080}]}]}
            }
        }
    })
}

pub fn rv(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .expect("has rv")
        .parse()
        .expect("numeric rv")
}
