//! Status bodies, authentication, authorization, validation, dry-run, faults
//! and request counting.

use serde_json::json;

use crate::{configmap, deployment, raw_with, rv, start, start_with};
use kube_sandbox::Options;

#[tokio::test]
async fn errors_carry_status_bodies_like_the_real_server() {
    let env = start().await;
    let nf = env
        .get("/apis/apps/v1/namespaces/default/deployments/nope")
        .await;
    assert_eq!(nf.code, 404);
    assert_eq!(nf.body["kind"], "Status");
    assert_eq!(nf.body["reason"], "NotFound");
    assert_eq!(nf.body["message"], "deployments.apps \"nope\" not found");

    let path = "/api/v1/namespaces/default/configmaps";
    env.create(path, configmap("a", json!({}))).await;
    let dup = env
        .raw(
            "POST",
            path,
            "application/json",
            &configmap("a", json!({})).to_string(),
        )
        .await;
    assert_eq!(
        (dup.code, dup.body["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );

    let bad = deployment("Bad_Name", 1, json!({}));
    let inv = env
        .raw(
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            "application/json",
            &bad.to_string(),
        )
        .await;
    assert_eq!(
        (inv.code, inv.body["reason"].as_str()),
        (422, Some("Invalid"))
    );
    assert_eq!(inv.body["details"]["causes"][0]["field"], "metadata.name");

    let no_ns = env
        .raw(
            "POST",
            "/api/v1/namespaces/ghost/configmaps",
            "application/json",
            &configmap("x", json!({})).to_string(),
        )
        .await;
    assert_eq!(no_ns.code, 404);
    assert_eq!(no_ns.body["message"], "namespaces \"ghost\" not found");

    let unknown = env.get("/apis/example.com/v1/widgets").await;
    assert_eq!(unknown.code, 404);
}

#[tokio::test]
async fn tokens_authenticate_and_readonly_cannot_write() {
    let env = start_with(Options {
        readonly_token: Some("viewer-token".into()),
        ..Options::default()
    })
    .await;
    let anon = crate::client_for(&env.sandbox, Some("wrong-token")).await;
    let r = raw_with(&anon, "GET", "/api/v1/namespaces", "application/json", "").await;
    assert_eq!(
        (r.code, r.body["reason"].as_str()),
        (401, Some("Unauthorized"))
    );

    let ro = crate::client_for(&env.sandbox, Some("viewer-token")).await;
    assert_eq!(
        raw_with(
            &ro,
            "GET",
            "/api/v1/namespaces/default/services",
            "application/json",
            ""
        )
        .await
        .code,
        200
    );
    let w = raw_with(
        &ro,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &configmap("x", json!({})).to_string(),
    )
    .await;
    assert_eq!(
        (w.code, w.body["reason"].as_str()),
        (403, Some("Forbidden"))
    );
    assert!(
        w.body["message"]
            .as_str()
            .unwrap()
            .contains("cannot create resource \"configmaps\""),
        "{}",
        w.text
    );
    // The admin endpoints are the admin's alone.
    assert_eq!(
        raw_with(&ro, "GET", "/sandbox/requests", "application/json", "")
            .await
            .code,
        403
    );
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let env = start().await;
    let path = "/api/v1/namespaces/default/configmaps";
    let before = env.sandbox.cluster().store.rv();
    let r = env
        .raw(
            "POST",
            &format!("{path}?dryRun=All"),
            "application/json",
            &configmap("dry", json!({})).to_string(),
        )
        .await;
    assert_eq!(r.code, 201);
    assert_eq!(env.get(&format!("{path}/dry")).await.code, 404);
    assert_eq!(env.sandbox.cluster().store.rv(), before);

    let created = env.create(path, configmap("real", json!({}))).await.body;
    let p = env
        .raw(
            "PATCH",
            &format!("{path}/real?dryRun=All"),
            "application/merge-patch+json",
            r#"{"data":{"k":"changed"}}"#,
        )
        .await;
    assert_eq!(
        (p.code, p.body["data"]["k"].as_str()),
        (200, Some("changed"))
    );
    let now = env.get(&format!("{path}/real")).await.body;
    assert_eq!(now["data"]["k"], "v");
    assert_eq!(rv(&now), rv(&created));
}

#[tokio::test]
async fn generation_counts_spec_changes_only() {
    let env = start().await;
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let d = env.create(path, deployment("gen", 0, json!({}))).await.body;
    assert_eq!(d["metadata"]["generation"], 1);
    let labelled = env
        .raw(
            "PATCH",
            &format!("{path}/gen"),
            "application/merge-patch+json",
            r#"{"metadata":{"labels":{"x":"y"}}}"#,
        )
        .await
        .body;
    assert_eq!(labelled["metadata"]["generation"], 1);
    let scaled = env
        .raw(
            "PATCH",
            &format!("{path}/gen"),
            "application/merge-patch+json",
            r#"{"spec":{"replicas":2}}"#,
        )
        .await
        .body;
    assert_eq!(scaled["metadata"]["generation"], 2);
}

#[tokio::test]
async fn faults_answer_errors_and_requests_are_counted() {
    let env = start().await;
    let path = "/api/v1/namespaces/default/configmaps";
    env.create(path, configmap("c", json!({}))).await;
    env.raw("DELETE", "/sandbox/requests", "application/json", "")
        .await;

    let add = env
        .raw(
            "POST",
            "/sandbox/faults",
            "application/json",
            r#"{"spec":"status=503,verb=patch,resource=configmaps,count=1"}"#,
        )
        .await;
    assert_eq!(add.code, 201, "{}", add.text);
    let p = env
        .raw(
            "PATCH",
            &format!("{path}/c"),
            "application/merge-patch+json",
            r#"{"data":{"k":"2"}}"#,
        )
        .await;
    assert_eq!(
        (p.code, p.body["reason"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(
        env.get(&format!("{path}/c")).await.body["data"]["k"],
        "v",
        "a refused write changes nothing"
    );
    let again = env
        .raw(
            "PATCH",
            &format!("{path}/c"),
            "application/merge-patch+json",
            r#"{"data":{"k":"2"}}"#,
        )
        .await;
    assert_eq!(again.code, 200, "the fault was bounded to one request");

    env.raw(
        "POST",
        "/sandbox/faults",
        "application/json",
        r#"{"spec":"status=429,verb=get,retry-after=2,count=1"}"#,
    )
    .await;
    let t = env.get(&format!("{path}/c")).await;
    assert_eq!(t.code, 429);
    assert_eq!(t.headers.get("retry-after").unwrap(), "2");

    let counts = env.get("/sandbox/requests").await.body;
    assert_eq!(counts["counts"]["patch configmaps"], 2);
    assert_eq!(counts["counts"]["get configmaps"], 2);
    assert_eq!(
        env.sandbox.cluster().requests.count("patch", "configmaps"),
        2
    );
    assert_eq!(
        env.raw(
            "POST",
            "/sandbox/faults",
            "application/json",
            r#"{"spec":"status=200"}"#
        )
        .await
        .code,
        400
    );
}

#[tokio::test]
async fn discovery_and_version() {
    let env = start().await;
    let v = env.get("/version").await.body;
    assert_eq!(v["major"], "1");
    let apps = env.get("/apis/apps/v1").await.body;
    let names: Vec<&str> = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"deployments/scale"), "{names:?}");
    let core = env.get("/api").await.body;
    assert_eq!(core["versions"][0], "v1");
    let oapi = env.get("/openapi/v3").await.body;
    let url = oapi["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.get(&url).await.code, 200);
}
