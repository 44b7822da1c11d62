//! The four patch types, the status subresource, scale, and resourceVersion
//! preconditions.

use serde_json::json;

use crate::{configmap, deployment, rv, start};

const SVC: &str = "/api/v1/namespaces/default/services";
const DEPLOY: &str = "/apis/apps/v1/namespaces/default/deployments";

fn service() -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web", "color": "blue"}, "ports": [{"name": "http", "port": 80}, {"name": "admin", "port": 9090}]}})
}

#[tokio::test]
async fn merge_patch_and_null_deletes() {
    let env = start().await;
    env.create(SVC, service()).await;
    let p = env
        .raw(
            "PATCH",
            &format!("{SVC}/web"),
            "application/merge-patch+json",
            r#"{"metadata":{"annotations":{"a":"1"}},"spec":{"selector":{"color":"green"}}}"#,
        )
        .await;
    assert_eq!(p.code, 200, "{}", p.text);
    assert_eq!(
        p.body["spec"]["selector"],
        json!({"app": "web", "color": "green"})
    );
    let d = env
        .raw(
            "PATCH",
            &format!("{SVC}/web"),
            "application/merge-patch+json",
            r#"{"metadata":{"annotations":{"a":null}}}"#,
        )
        .await;
    assert!(d.body["metadata"]["annotations"].get("a").is_none());
}

#[tokio::test]
async fn json_patch_with_test_is_a_compare_and_swap() {
    let env = start().await;
    env.create(SVC, service()).await;
    let swap = r#"[{"op":"test","path":"/spec/selector/color","value":"blue"},{"op":"replace","path":"/spec/selector/color","value":"green"}]"#;
    let ok = env
        .raw(
            "PATCH",
            &format!("{SVC}/web"),
            "application/json-patch+json",
            swap,
        )
        .await;
    assert_eq!(
        (ok.code, ok.body["spec"]["selector"]["color"].as_str()),
        (200, Some("green"))
    );
    let stale = env
        .raw(
            "PATCH",
            &format!("{SVC}/web"),
            "application/json-patch+json",
            swap,
        )
        .await;
    assert_eq!(
        stale.code, 422,
        "the test op fails once green: {}",
        stale.text
    );
    assert_eq!(
        env.get(&format!("{SVC}/web")).await.body["spec"]["selector"]["color"],
        "green"
    );
}

#[tokio::test]
async fn strategic_merge_merges_lists_by_key() {
    let env = start().await;
    env.create(SVC, service()).await;
    let p = env
        .raw(
            "PATCH",
            &format!("{SVC}/web"),
            "application/strategic-merge-patch+json",
            r#"{"spec":{"ports":[{"name":"http","port":80,"targetPort":8080}]}}"#,
        )
        .await;
    assert_eq!(p.code, 200, "{}", p.text);
    let ports = p.body["spec"]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2, "the admin port is kept: {ports:?}");
    assert_eq!(
        ports.iter().find(|p| p["port"] == 80).unwrap()["targetPort"],
        8080
    );

    let mut d = deployment("app", 0, json!({}));
    d["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "proxy:1"}));
    env.create(DEPLOY, d).await;
    let p = env.raw("PATCH", &format!("{DEPLOY}/app"), "application/strategic-merge-patch+json",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"example/app:2.0"}]}}}}"#).await;
    let cs = p.body["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[0]["image"], "example/app:2.0");
    assert_eq!(cs[1]["image"], "proxy:1");
}

#[tokio::test]
async fn strategic_merge_is_refused_for_custom_resources() {
    let env = start().await;
    env.install_traffic_crds();
    let routes = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes";
    env.create(routes, json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"},
        "spec": {"rules": [{"backendRefs": [{"name": "a", "weight": 100}, {"name": "b", "weight": 0}]}]}})).await;
    let p = env
        .raw(
            "PATCH",
            &format!("{routes}/r"),
            "application/strategic-merge-patch+json",
            "{}",
        )
        .await;
    assert_eq!(p.code, 415);
    let m = env.raw("PATCH", &format!("{routes}/r"), "application/json-patch+json",
        r#"[{"op":"replace","path":"/spec/rules/0/backendRefs/0/weight","value":70},{"op":"replace","path":"/spec/rules/0/backendRefs/1/weight","value":30}]"#).await;
    assert_eq!(m.code, 200, "{}", m.text);
    assert_eq!(m.body["spec"]["rules"][0]["backendRefs"][1]["weight"], 30);
}

#[tokio::test]
async fn server_side_apply_creates_then_merges() {
    let env = start().await;
    let path = "/api/v1/namespaces/default/configmaps/applied";
    let no_manager = env
        .raw(
            "PATCH",
            path,
            "application/apply-patch+yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n",
        )
        .await;
    assert_eq!(no_manager.code, 400);
    let doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: \"1\"\n";
    let created = env
        .raw(
            "PATCH",
            &format!("{path}?fieldManager=test"),
            "application/apply-patch+yaml",
            doc,
        )
        .await;
    assert_eq!(created.code, 201, "{}", created.text);
    // Another manager's configuration merges in: each owns its own key.
    let doc2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  b: \"2\"\n";
    let merged = env
        .raw(
            "PATCH",
            &format!("{path}?fieldManager=other"),
            "application/apply-patch+yaml",
            doc2,
        )
        .await;
    assert_eq!(merged.code, 200);
    assert_eq!(merged.body["data"], json!({"a": "1", "b": "2"}));
    // The same manager leaving `a` out of its configuration removes it.
    let pruned = env
        .raw(
            "PATCH",
            &format!("{path}?fieldManager=test"),
            "application/apply-patch+yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata: {}\n",
        )
        .await;
    assert_eq!(pruned.code, 200, "{}", pruned.text);
    assert_eq!(pruned.body["data"], json!({"b": "2"}));
}

#[tokio::test]
async fn stale_resource_version_is_a_conflict_for_put_and_patch() {
    let env = start().await;
    let path = "/api/v1/namespaces/default/configmaps";
    let c = env.create(path, configmap("c", json!({}))).await.body;
    let mut first = c.clone();
    first["data"]["k"] = json!("first");
    assert_eq!(
        env.raw(
            "PUT",
            &format!("{path}/c"),
            "application/json",
            &first.to_string()
        )
        .await
        .code,
        200
    );
    let mut second = c.clone();
    second["data"]["k"] = json!("second");
    let lost = env
        .raw(
            "PUT",
            &format!("{path}/c"),
            "application/json",
            &second.to_string(),
        )
        .await;
    assert_eq!(
        (lost.code, lost.body["reason"].as_str()),
        (409, Some("Conflict"))
    );
    let guarded = format!(
        r#"{{"metadata":{{"resourceVersion":"{}"}},"data":{{"k":"third"}}}}"#,
        rv(&c)
    );
    assert_eq!(
        env.raw(
            "PATCH",
            &format!("{path}/c"),
            "application/merge-patch+json",
            &guarded
        )
        .await
        .code,
        409
    );
    assert_eq!(
        env.get(&format!("{path}/c")).await.body["data"]["k"],
        "first"
    );
}

#[tokio::test]
async fn status_subresource_separates_spec_and_status() {
    let env = start().await;
    env.create(DEPLOY, deployment("s", 0, json!({}))).await;
    env.wait_for(&format!("{DEPLOY}/s"), "status", |d| {
        d["status"]["observedGeneration"] == 1
    })
    .await;
    let main = env
        .raw(
            "PATCH",
            &format!("{DEPLOY}/s"),
            "application/merge-patch+json",
            r#"{"status":{"observedGeneration":99}}"#,
        )
        .await;
    assert_eq!(
        main.body["status"]["observedGeneration"], 1,
        "the main resource ignores status"
    );
    let st = env
        .raw(
            "PATCH",
            &format!("{DEPLOY}/s/status"),
            "application/merge-patch+json",
            r#"{"spec":{"replicas":7},"status":{"observedGeneration":99}}"#,
        )
        .await;
    assert_eq!(st.body["status"]["observedGeneration"], 99);
    assert_eq!(
        st.body["spec"]["replicas"], 0,
        "the status subresource ignores spec"
    );
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    let env = start().await;
    env.create(DEPLOY, deployment("sc", 1, json!({}))).await;
    let s = env.get(&format!("{DEPLOY}/sc/scale")).await.body;
    assert_eq!(
        (s["kind"].as_str(), s["spec"]["replicas"].as_i64()),
        (Some("Scale"), Some(1))
    );
    assert_eq!(s["status"]["selector"], "app=sc");
    let p = env
        .raw(
            "PATCH",
            &format!("{DEPLOY}/sc/scale"),
            "application/merge-patch+json",
            r#"{"spec":{"replicas":3}}"#,
        )
        .await;
    assert_eq!(p.body["spec"]["replicas"], 3);
    env.wait_for(&format!("{DEPLOY}/sc"), "3 ready", |d| {
        d["status"]["readyReplicas"] == 3
    })
    .await;
    let neg = env
        .raw(
            "PATCH",
            &format!("{DEPLOY}/sc/scale"),
            "application/merge-patch+json",
            r#"{"spec":{"replicas":-1}}"#,
        )
        .await;
    assert_eq!(neg.code, 422);
}

#[tokio::test]
async fn updates_keep_the_allocated_cluster_ip() {
    let env = start().await;
    let created = env.create(SVC, service()).await.body;
    let ip = created["spec"]["clusterIP"].clone();
    assert!(ip.is_string());
    // A replace from a manifest that never had the allocated address.
    let mut manifest = service();
    manifest["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"].clone();
    manifest["spec"]["selector"]["color"] = json!("green");
    let r = env
        .raw(
            "PUT",
            &format!("{SVC}/web"),
            "application/json",
            &manifest.to_string(),
        )
        .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(r.body["spec"]["clusterIP"], ip);
    // Changing it explicitly is still refused.
    let mut moved = r.body.clone();
    moved["spec"]["clusterIP"] = json!("10.96.9.9");
    moved["spec"]["clusterIPs"] = json!(["10.96.9.9"]);
    assert_eq!(
        env.raw(
            "PUT",
            &format!("{SVC}/web"),
            "application/json",
            &moved.to_string()
        )
        .await
        .code,
        422
    );
}

#[tokio::test]
async fn a_secrets_string_data_is_stored_as_data_and_bad_base64_is_400() {
    let env = start().await;
    let path = "/api/v1/namespaces/default/secrets";
    let created = env
        .create(
            path,
            json!({"metadata": {"name": "db"}, "data": {"user": "YWRtaW4="},
                "stringData": {"password": "s3cret"}}),
        )
        .await;
    assert_eq!(
        created.body["data"],
        json!({"user": "YWRtaW4=", "password": "czNjcmV0"})
    );
    assert!(created.body.get("stringData").is_none(), "{}", created.text);
    let applied = env
        .raw(
            "PATCH",
            &format!("{path}/db?fieldManager=ci"),
            "application/apply-patch+yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: n3w}\n",
        )
        .await;
    assert_eq!(applied.code, 200, "{}", applied.text);
    assert_eq!(applied.body["data"]["password"], "bjN3");
    assert!(!applied.text.contains("n3w"), "{}", applied.text);
    let bad = env
        .raw(
            "POST",
            path,
            "application/json",
            &json!({"metadata": {"name": "bad"}, "data": {"k": "x not base64"}}).to_string(),
        )
        .await;
    assert_eq!(bad.code, 400, "{}", bad.text);
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .contains("illegal base64 data at input byte 1"),
        "{}",
        bad.text
    );
    assert_eq!(env.get(&format!("{path}/bad")).await.code, 404);
}
