//! RBAC through kube-rs: Roles and bindings are stored objects, a
//! token-authenticated user gets what they grant, and a refusal is the real
//! server's 403 Status.

use k8s_openapi::api::core::v1::{ConfigMap, Service};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::{client_for, configmap, raw_with, start_with};
use kube_sandbox::Options;

const SA: &str = "system:serviceaccount:ci:switchyard";

fn forbidden(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) if s.code == 403 => *s,
        other => panic!("expected 403, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_user_gets_exactly_what_its_bindings_grant() {
    let env = start_with(Options {
        users: vec![("ci-token".into(), SA.into())],
        ..Options::default()
    })
    .await;
    let admin = env.client.clone();
    let ci = client_for(&env.sandbox, Some("ci-token")).await;
    let pp = PostParams::default();
    env.create(
        "/api/v1/namespaces/default/configmaps",
        configmap("settings", json!({})),
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(ci.clone(), "default");

    // No binding yet: nothing, with the real server's message.
    let s = forbidden(cms.get("settings").await.unwrap_err());
    assert_eq!(s.reason, "Forbidden");
    assert_eq!(
        s.message,
        format!(
            "configmaps \"settings\" is forbidden: User \"{SA}\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"default\""
        )
    );

    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), "default")
        .create(&pp, &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "switchyard", "namespace": "ci"}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), "default")
        .create(&pp, &binding)
        .await
        .unwrap();

    // Granted at once: the rules are read per request.
    assert_eq!(cms.get("settings").await.unwrap().data.unwrap()["k"], "v");
    assert_eq!(
        cms.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    let patch = Patch::Merge(json!({"data": {"k": "w"}}));
    let s = forbidden(
        cms.patch("settings", &PatchParams::default(), &patch)
            .await
            .unwrap_err(),
    );
    assert!(
        s.message.contains("cannot patch resource \"configmaps\""),
        "{}",
        s.message
    );
    // Only in the binding's namespace, and not at the cluster scope.
    let everywhere: Api<ConfigMap> = Api::all(ci.clone());
    let s = forbidden(everywhere.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        s.message,
        format!(
            "configmaps is forbidden: User \"{SA}\" cannot list resource \"configmaps\" in API group \"\" at the cluster scope"
        )
    );
    let other: Api<ConfigMap> = Api::namespaced(ci.clone(), "kube-system");
    let s = forbidden(other.list(&ListParams::default()).await.unwrap_err());
    assert!(
        s.message.ends_with("in the namespace \"kube-system\""),
        "{}",
        s.message
    );

    // A ClusterRoleBinding grants a ClusterRole's rules everywhere.
    let cr: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "lister"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
    }))
    .unwrap();
    Api::<ClusterRole>::all(admin.clone())
        .create(&pp, &cr)
        .await
        .unwrap();
    let crb: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "lister"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "lister"},
        "subjects": [{"kind": "ServiceAccount", "name": "switchyard", "namespace": "ci"}],
    }))
    .unwrap();
    Api::<ClusterRoleBinding>::all(admin.clone())
        .create(&pp, &crb)
        .await
        .unwrap();
    everywhere.list(&ListParams::default()).await.unwrap();
    other.list(&ListParams::default()).await.unwrap();

    // The admin keeps full access; the sandbox's own endpoints stay admin-only.
    Api::<ConfigMap>::namespaced(admin.clone(), "default")
        .patch("settings", &PatchParams::default(), &patch)
        .await
        .unwrap();
    let r = raw_with(&ci, "GET", "/sandbox/requests", "application/json", "").await;
    assert_eq!(r.code, 403);
    // Discovery needs no grant, as on a real cluster.
    assert_eq!(
        raw_with(&ci, "GET", "/apis", "application/json", "")
            .await
            .code,
        200
    );
}

#[tokio::test]
async fn subresources_are_granted_on_their_own() {
    let env = start_with(Options {
        users: vec![("ci-token".into(), SA.into())],
        manifests: vec![
            r#"
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: svc, namespace: default}
rules:
- {apiGroups: [""], resources: [services], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: svc, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: svc}
subjects:
- {kind: User, name: "system:serviceaccount:ci:switchyard"}
"#
            .into(),
        ],
        ..Options::default()
    })
    .await;
    let ci = client_for(&env.sandbox, Some("ci-token")).await;
    Api::<Service>::namespaced(ci.clone(), "default")
        .get("web")
        .await
        .unwrap();
    let r = raw_with(
        &ci,
        "GET",
        "/api/v1/namespaces/default/services/web/proxy/healthz",
        "application/json",
        "",
    )
    .await;
    assert_eq!(r.code, 403, "{}", r.text);
    assert_eq!(r.body["kind"], "Status");
    assert_eq!(r.body["details"]["kind"], "services");
    assert_eq!(
        r.body["message"],
        format!(
            "services \"web\" is forbidden: User \"{SA}\" cannot get resource \"services/proxy\" in API group \"\" in the namespace \"default\""
        )
    );
}

#[tokio::test]
async fn an_apply_that_creates_needs_create_as_well_as_patch() {
    let env = start_with(Options {
        users: vec![("ci-token".into(), SA.into())],
        ..Options::default()
    })
    .await;
    let pp = PostParams::default();
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "patcher"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"]}],
    }))
    .unwrap();
    Api::<Role>::namespaced(env.client.clone(), "default")
        .create(&pp, &role)
        .await
        .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "patcher"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "patcher"},
        "subjects": [{"kind": "ServiceAccount", "name": "switchyard", "namespace": "ci"}],
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(env.client.clone(), "default")
        .create(&pp, &binding)
        .await
        .unwrap();
    let ci = client_for(&env.sandbox, Some("ci-token")).await;
    let cms: Api<ConfigMap> = Api::namespaced(ci, "default");
    let apply = PatchParams::apply("switchyard");
    let cm = |v: &str| {
        Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "applied"}, "data": {"k": v}}))
    };
    let s = forbidden(cms.patch("applied", &apply, &cm("1")).await.unwrap_err());
    assert_eq!(
        s.message,
        format!(
            "configmaps \"applied\" is forbidden: User \"{SA}\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\""
        )
    );
    // Once it exists, patch is enough (forced: the admin's create owns .data.k).
    env.create(
        "/api/v1/namespaces/default/configmaps",
        configmap("applied", json!({"k": "0"})),
    )
    .await;
    let got = cms
        .patch("applied", &apply.force(), &cm("2"))
        .await
        .unwrap();
    assert_eq!(got.data.unwrap()["k"], "2");
}
