//! HTTPRoute and VirtualService are custom resources, as on a real server:
//! served only once their CRDs exist, validated and defaulted by their schema.

use serde_json::json;

use crate::start;

const ROUTES: &str = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes";
const VS: &str = "/apis/networking.istio.io/v1/namespaces/default/virtualservices";

#[tokio::test]
async fn without_their_crds_the_traffic_types_are_not_found() {
    let env = start().await;
    for path in [ROUTES, VS] {
        let r = env.get(path).await;
        assert_eq!(r.code, 404, "{path}: {}", r.text);
    }
    let groups = env.get("/apis").await;
    assert!(
        !groups.text.contains("gateway.networking.k8s.io"),
        "{}",
        groups.text
    );
}

#[tokio::test]
async fn the_route_schema_defaults_and_validates_as_the_official_crd() {
    let env = start().await;
    env.install_traffic_crds();
    let r = env
        .create(
            ROUTES,
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "shop"},
                "spec": {"parentRefs": [{"name": "gw"}],
                         "rules": [{"backendRefs": [{"name": "shop", "port": 80}]}]}}),
        )
        .await;
    let spec = &r.body["spec"];
    assert_eq!(
        spec["parentRefs"][0],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw"})
    );
    assert_eq!(
        spec["rules"][0]["matches"],
        json!([{"path": {"type": "PathPrefix", "value": "/"}}])
    );
    let backend = &spec["rules"][0]["backendRefs"][0];
    assert_eq!(
        (backend["weight"].clone(), backend["kind"].clone()),
        (json!(1), json!("Service"))
    );

    let bad = env
        .raw(
            "POST",
            ROUTES,
            "application/json",
            &json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "bad"},
                "spec": {"rules": [{"backendRefs": [{"name": "a", "weight": -5}]}]}})
            .to_string(),
        )
        .await;
    assert_eq!(bad.code, 422, "{}", bad.text);
    assert!(
        bad.text.contains(
            "spec.rules[0].backendRefs[0].weight: Invalid value: -5: spec.rules[0].backendRefs[0].weight in body should be greater than or equal to 0"
        ),
        "{}",
        bad.text
    );
}

#[tokio::test]
async fn a_virtualservice_keeps_its_spec_and_serves_its_status() {
    let env = start().await;
    env.install_traffic_crds();
    let spec = json!({"hosts": ["shop"], "http": [{"route": [
        {"destination": {"host": "shop", "subset": "stable"}, "weight": 90, "headers": {"request": {"set": {"x": "1"}}}},
        {"destination": {"host": "shop", "subset": "canary"}, "weight": 10}]}]});
    let r = env
        .create(
            VS,
            json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": "shop"}, "spec": spec}),
        )
        .await;
    assert_eq!(
        r.body["spec"], spec,
        "fields the subset does not list are kept"
    );
    let status = env
        .raw(
            "PATCH",
            &format!("{VS}/shop/status"),
            "application/merge-patch+json",
            r#"{"status":{"observedGeneration":1}}"#,
        )
        .await;
    assert_eq!(status.code, 200, "{}", status.text);
    assert_eq!(status.body["status"]["observedGeneration"], 1);
}

#[tokio::test]
async fn a_custom_resource_owned_by_a_deleted_object_is_collected() {
    let env = start().await;
    env.install_traffic_crds();
    let cm = env
        .create(
            "/api/v1/namespaces/default/configmaps",
            json!({"metadata": {"name": "owner"}}),
        )
        .await;
    let owner = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
        "uid": cm.body["metadata"]["uid"]}]);
    env.create(
        ROUTES,
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "owned", "ownerReferences": owner}, "spec": {}}),
    )
    .await;
    let gone = env
        .raw(
            "DELETE",
            "/api/v1/namespaces/default/configmaps/owner",
            "application/json",
            "",
        )
        .await;
    assert_eq!(gone.code, 200, "{}", gone.text);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = env.get(&format!("{ROUTES}/owned")).await;
        if r.code == 404 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the route outlived its owner: {}",
            r.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
