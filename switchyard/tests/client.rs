//! The client stack `KubeArgs::connect` builds, against a kube-sandbox:
//! reads refused for now are retried (bounded, inside the caller's timeout),
//! writes never are.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube_sandbox::{Options, Sandbox};
use switchyard::connect::KubeArgs;

struct Env {
    sandbox: Sandbox,
    client: kube::Client,
    dir: std::path::PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn start() -> Env {
    let sandbox = Sandbox::start(Options {
        demo: true,
        ..Default::default()
    })
    .await
    .expect("sandbox starts");
    let dir = std::env::temp_dir().join(format!(
        "switchyard-client-{}-{}",
        std::process::id(),
        sandbox.addr().port()
    ));
    let kubeconfig = dir.join("config");
    sandbox.write_kubeconfig(&kubeconfig).unwrap();
    let conn = KubeArgs {
        kubeconfig: Some(kubeconfig),
        ..Default::default()
    }
    .connect()
    .await
    .unwrap();
    Env {
        sandbox,
        client: conn.client,
        dir,
    }
}

impl Env {
    fn fault(&self, spec: &str) {
        self.sandbox
            .cluster()
            .faults
            .add(kube_sandbox::faults::Fault::parse(spec).unwrap());
    }

    fn count(&self, verb: &str, resource: &str) -> u64 {
        self.sandbox.cluster().requests.count(verb, resource)
    }
}

fn status_of(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        e => panic!("not an API error: {e}"),
    }
}

#[tokio::test]
async fn refused_reads_are_retried() {
    let env = start().await;
    let services: Api<Service> = Api::default_namespaced(env.client.clone());
    env.fault("status=503,verb=list,resource=services,count=2");
    env.fault("status=429,verb=get,resource=services,count=2,retry-after=0");
    env.fault("status=504,verb=watch,resource=services,count=2");
    let list = services.list(&ListParams::default()).await.unwrap();
    assert!(!list.items.is_empty());
    assert_eq!(env.count("list", "services"), 3);
    services.get("web").await.unwrap();
    assert_eq!(env.count("get", "services"), 3);
    let rv = list.metadata.resource_version.unwrap();
    let _stream = services.watch(&WatchParams::default(), &rv).await.unwrap();
    assert_eq!(env.count("watch", "services"), 3);
}

#[tokio::test]
async fn reads_are_retried_five_times_at_most() {
    let env = start().await;
    let services: Api<Service> = Api::default_namespaced(env.client.clone());
    env.fault("status=503,verb=get,resource=services");
    assert_eq!(status_of(services.get("web").await.unwrap_err()), 503);
    assert_eq!(env.count("get", "services"), 5);
}

#[tokio::test]
async fn writes_are_never_retried() {
    let env = start().await;
    let services: Api<Service> = Api::default_namespaced(env.client.clone());
    let maps: Api<ConfigMap> = Api::default_namespaced(env.client.clone());
    for verb in ["create", "update", "patch", "delete"] {
        env.fault(&format!("status=503,verb={verb},count=1"));
    }
    let patch = Patch::Merge(serde_json::json!({"metadata": {"labels": {"x": "y"}}}));
    let e = services
        .patch("web", &PatchParams::default(), &patch)
        .await
        .unwrap_err();
    assert_eq!(status_of(e), 503);
    let map: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "m"}
    }))
    .unwrap();
    assert_eq!(
        status_of(maps.create(&PostParams::default(), &map).await.unwrap_err()),
        503
    );
    let web = services.get("web").await.unwrap();
    assert_eq!(
        status_of(
            services
                .replace("web", &PostParams::default(), &web)
                .await
                .unwrap_err()
        ),
        503
    );
    assert_eq!(
        status_of(
            services
                .delete("web-preview", &DeleteParams::default())
                .await
                .unwrap_err()
        ),
        503
    );
    for (verb, resource) in [
        ("patch", "services"),
        ("create", "configmaps"),
        ("update", "services"),
        ("delete", "services"),
    ] {
        assert_eq!(env.count(verb, resource), 1, "{verb} {resource}");
    }
    // Nothing was changed by a retry behind our back either.
    assert!(
        !services
            .get("web")
            .await
            .unwrap()
            .metadata
            .labels
            .unwrap()
            .contains_key("x")
    );
    assert!(maps.get_opt("m").await.unwrap().is_none());
}

/// Retries sleep inside the request's future: the caller's timeout ends
/// them. A server asking to wait longer than the cap (5 s) gets the cap.
#[tokio::test]
async fn a_throttled_read_ends_with_the_callers_timeout() {
    let env = start().await;
    let services: Api<Service> = Api::default_namespaced(env.client.clone());
    env.fault("status=429,verb=list,resource=services,retry-after=3600");
    let r = tokio::time::timeout(
        Duration::from_millis(500),
        services.list(&ListParams::default()),
    )
    .await;
    assert!(r.is_err(), "still waiting to retry when the timeout came");
    assert_eq!(env.count("list", "services"), 1);
}
