use switchyard_e2e::{TestCluster, testdata};

use crate::{bluegreen, error_line, expect};

#[test]
fn init_adopts_a_deployment_without_downtime() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["apply", "-f", testdata("app.yaml").to_str().unwrap()]);
    c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    let (stdout, _) = expect(
        &bluegreen(&c, &["init", "api", "--from-deployment", "api"]),
        0,
    );
    assert!(
        stdout.starts_with("adopted api: Service api now selects api-blue (blue)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kubectl delete deployment api -n default"),
        "{stdout}"
    );
    let svc = c.get_json(&["svc", "api"]);
    assert_eq!(
        svc["spec"]["selector"],
        serde_json::json!({"app": "api", "color": "blue"})
    );
    assert_eq!(
        c.get_json(&["deploy", "api-blue"])["status"]["readyReplicas"],
        3
    );
    assert!(
        c.object("apps", "deployments", "default", "api").is_some(),
        "the old Deployment is left"
    );
    // The Service's endpoints are api-blue's pods only.
    let slices = c.get_json(&["endpointslices", "-l", "kubernetes.io/service-name=api"]);
    for e in slices["items"][0]["endpoints"].as_array().unwrap() {
        assert!(
            e["targetRef"]["name"]
                .as_str()
                .unwrap()
                .starts_with("api-blue-"),
            "{e}"
        );
    }
    let (again, _) = expect(
        &bluegreen(&c, &["init", "api", "--from-deployment", "api"]),
        0,
    );
    assert!(again.contains("unchanged"));
    let (status, _) = expect(&bluegreen(&c, &["status", "api"]), 0);
    assert!(status.contains("api   blue"), "{status}");
}

#[test]
fn init_refuses_what_it_cannot_adopt() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    let (out, _) = expect(
        &bluegreen(&c, &["init", "web", "--from-deployment", "web-blue"]),
        0,
    );
    assert_eq!(out, "web is already a blue/green app: unchanged\n");
    let (_, e) = expect(
        &bluegreen(&c, &["init", "shop", "--from-deployment", "shop-canary"]),
        3,
    );
    assert!(
        error_line(&e).contains("does not select the pods of Deployment shop-canary"),
        "{e}"
    );
    let (_, e) = expect(
        &bluegreen(&c, &["init", "nope", "--from-deployment", "x"]),
        3,
    );
    assert!(error_line(&e).contains("no Service nope"), "{e}");
    assert_eq!(c.versions("default"), before);
}

/// `init --preview` makes the preview Service `switch --http` needs: APP's
/// ports, selecting the idle color; then a green deploy and a checked switch work.
#[test]
fn init_with_preview_creates_the_preview_service() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["apply", "-f", testdata("app.yaml").to_str().unwrap()]);
    c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    let (stdout, _) = expect(
        &bluegreen(
            &c,
            &["init", "api", "--from-deployment", "api", "--preview"],
        ),
        0,
    );
    assert!(
        stdout.contains("created Service api-preview, selecting the idle color green"),
        "{stdout}"
    );
    let preview = c.get_json(&["svc", "api-preview"]);
    assert_eq!(
        preview["spec"]["selector"],
        serde_json::json!({"app": "api", "color": "green"})
    );
    assert_eq!(preview["spec"]["ports"][0]["port"], 80);
    assert_eq!(preview["spec"]["ports"][0]["targetPort"], "http");
    // Again: nothing to do, nothing changed.
    let before = c.versions("default");
    let (again, _) = expect(
        &bluegreen(
            &c,
            &["init", "api", "--from-deployment", "api", "--preview"],
        ),
        0,
    );
    assert!(again.contains("unchanged"), "{again}");
    assert_eq!(c.versions("default"), before);
    // The preview is what a checked switch to green goes through.
    expect(
        &bluegreen(
            &c,
            &["deploy", "api", "--image", "example/api:1.1", "--wait"],
        ),
        0,
    );
    let (switched, _) = expect(&bluegreen(&c, &["switch", "api", "--http", "/healthz"]), 0);
    assert!(
        switched.starts_with("switched api: blue → green"),
        "{switched}"
    );
    assert_eq!(
        c.get_json(&["svc", "api-preview"])["spec"]["selector"]["color"],
        "blue"
    );
}

/// An app adopted without a preview gets one from a later `init --preview`.
#[test]
fn init_preview_on_an_adopted_app_adds_only_the_preview() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["delete", "svc", "web-preview"]);
    let (stdout, _) = expect(
        &bluegreen(
            &c,
            &["init", "web", "--from-deployment", "web-blue", "--preview"],
        ),
        0,
    );
    assert!(
        stdout.contains("created Service web-preview, selecting the idle color green"),
        "{stdout}"
    );
    assert_eq!(
        c.get_json(&["svc", "web-preview"])["spec"]["selector"]["color"],
        "green"
    );
    assert!(!c.lease_held("default", "web"));
}
