use std::collections::BTreeSet;
use switchyard_e2e::{TestCluster, selected_color};

use crate::{bluegreen, error_line, expect};

fn green_ips(c: &TestCluster) -> BTreeSet<String> {
    c.get_json(&["pods", "-l", "app=web,color=green"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect()
}

fn slice_ips(c: &TestCluster) -> BTreeSet<String> {
    c.get_json(&["endpointslices", "-l", "kubernetes.io/service-name=web"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .map(|e| e["addresses"][0].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn switch_through_kubectl_moves_service_preview_and_endpoints() {
    let c = TestCluster::demo();
    let out = c.kubectl_plugin(
        crate::BIN,
        &["bluegreen", "switch", "--reason", "release 1.1"],
    );
    let (stdout, _) = expect(&out, 0);
    assert_eq!(
        stdout,
        "switched web: blue → green (revision 1); 3 ready endpoints\n"
    );
    let svc = c.get_json(&["svc", "web"]);
    assert_eq!(selected_color(&svc), "green");
    assert_eq!(selected_color(&c.get_json(&["svc", "web-preview"])), "blue");
    assert_eq!(
        slice_ips(&c),
        green_ips(&c),
        "EndpointSlices list only green pods"
    );
    let hist: serde_json::Value = serde_json::from_str(
        svc["metadata"]["annotations"]["switchyard.dev/history"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (
            hist[0]["from"].as_str(),
            hist[0]["to"].as_str(),
            hist[0]["reason"].as_str()
        ),
        (Some("blue"), Some("green"), Some("release 1.1"))
    );
    let events = c.get_json(&["events", "--field-selector", "involvedObject.name=web"]);
    assert!(
        events["items"][0]["message"]
            .as_str()
            .unwrap()
            .contains("from blue to green"),
        "{events}"
    );
    // The lease is gone: the next operation may run at once.
    assert!(
        c.object("coordination.k8s.io", "leases", "default", "switchyard-web")
            .is_none()
    );
}

#[test]
fn switching_to_the_active_color_is_unchanged_and_writes_nothing() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    let (stdout, _) = expect(&bluegreen(&c, &["switch", "web", "--to", "blue"]), 0);
    assert_eq!(stdout, "web already serves blue: unchanged\n");
    assert_eq!(c.versions("default"), before);
    expect(&bluegreen(&c, &["switch", "web"]), 0);
    let after_switch = c.versions("default");
    let (stdout, _) = expect(&bluegreen(&c, &["switch", "web", "--to", "green"]), 0);
    assert!(stdout.contains("unchanged"));
    assert_eq!(
        c.versions("default")["services/web"],
        after_switch["services/web"]
    );
}

#[test]
fn json_output_is_one_document() {
    let c = TestCluster::demo();
    let (stdout, _) = expect(&bluegreen(&c, &["switch", "web", "-o", "json"]), 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            doc["result"].as_str(),
            doc["from"].as_str(),
            doc["to"].as_str()
        ),
        (Some("switched"), Some("blue"), Some("green"))
    );
    assert_eq!(doc["endpoints"].as_array().unwrap().len(), 3);
}

#[test]
fn crashlooping_target_is_refused_and_nothing_changes() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["patch", "deploy", "web-green", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/fail":"crashloop"}}}}}"#]);
    c.wait_for(
        &["pods", "-l", "app=web,color=green"],
        "crashing green pods",
        |l| {
            l["items"].as_array().unwrap().iter().any(|p| {
                p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                    == "CrashLoopBackOff"
            })
        },
    );
    let before = c.versions("default");
    let (_, stderr) = expect(&bluegreen(&c, &["switch", "web"]), 3);
    let err = error_line(&stderr);
    assert!(
        err.contains("cannot switch web to green") && err.contains("web-green is not ready"),
        "{err}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    let after = c.versions("default");
    assert_eq!(before["services/web"], after["services/web"]);
    assert_eq!(
        before["services/web-preview"],
        after["services/web-preview"]
    );
}

#[test]
fn http_check_through_the_preview_gates_the_switch() {
    let c = TestCluster::demo();
    expect(
        &bluegreen(&c, &["switch", "web", "--http", "/actuator/health"]),
        0,
    );
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "green");
    // Blue (now idle, behind the preview) reports DOWN: switching back is refused.
    c.kubectl_ok(&["patch", "deploy", "web-blue", "--type", "merge", "-p",
        r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/health":"down"}}}}}"#]);
    c.kubectl_ok(&["rollout", "status", "deploy/web-blue", "--timeout=30s"]);
    let (_, stderr) = expect(
        &bluegreen(&c, &["switch", "web", "--http", "/actuator/health"]),
        3,
    );
    assert!(error_line(&stderr).contains("answered 503"), "{stderr}");
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "green");
}

#[test]
fn dry_runs_change_nothing() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    for mode in ["--dry-run", "--dry-run=client", "--dry-run=server"] {
        let (stdout, stderr) = expect(&bluegreen(&c, &["switch", "web", mode]), 0);
        assert_eq!(
            stdout, "web would switch from blue to green (dry run: nothing changed)\n",
            "{mode}"
        );
        // The client dry run shows both writes it would make: Service and preview.
        if mode != "--dry-run=server" {
            assert!(
                stderr.contains("would patch Service web: blue → green (revision 1)")
                    && stderr.contains("would patch Service web-preview: green → blue"),
                "{mode}: {stderr}"
            );
        }
    }
    assert_eq!(c.versions("default"), before);
}

#[test]
fn failed_service_write_leaves_service_and_preview_consistent() {
    let c = TestCluster::demo();
    c.cluster().faults.add(
        kube_sandbox::faults::Fault::parse("status=503,verb=patch,resource=services,count=1")
            .unwrap(),
    );
    let before = c.versions("default");
    let out = bluegreen(&c, &["switch", "web"]);
    let (_, stderr) = switchyard_e2e::texts(&out);
    assert_ne!(out.status.code(), Some(0));
    let err = error_line(&stderr);
    assert!(
        err.contains("writing Service web") && err.contains("503"),
        "{err}"
    );
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
    assert_eq!(
        selected_color(&c.get_json(&["svc", "web-preview"])),
        "green"
    );
    assert_eq!(
        c.versions("default")["services/web"],
        before["services/web"]
    );
}

#[test]
fn failed_preview_write_switches_the_service_back() {
    let c = TestCluster::demo();
    c.cluster().faults.add(
        kube_sandbox::faults::Fault::parse(
            "status=503,verb=patch,resource=services,name=web-preview,count=1",
        )
        .unwrap(),
    );
    let before = c.versions("default");
    let (_, stderr) = expect(&bluegreen(&c, &["switch", "web"]), 1);
    let err = error_line(&stderr);
    assert!(
        err.contains("switching Service web-preview to blue failed")
            && err.contains("was switched back to blue"),
        "{err}"
    );
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
    assert_eq!(
        selected_color(&c.get_json(&["svc", "web-preview"])),
        "green"
    );
    let svc = c.get_json(&["svc", "web"]);
    assert!(
        svc["metadata"]["annotations"]
            .get("switchyard.dev/history")
            .is_none(),
        "no history of a switch that did not happen"
    );
    assert_eq!(
        c.versions("default")["services/web-preview"],
        before["services/web-preview"]
    );
}

#[test]
fn concurrent_switches_leave_one_color_and_exit_zero_or_four() {
    let c = TestCluster::demo();
    let outs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| s.spawn(|| bluegreen(&c, &["switch", "web"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut switched = 0;
    for out in &outs {
        let code = out.status.code();
        assert!(
            code == Some(0) || code == Some(4),
            "{:?}",
            switchyard_e2e::texts(out)
        );
        if code == Some(4) {
            let err = error_line(&switchyard_e2e::texts(out).1);
            assert!(
                err.contains("busy") || err.contains("won the race"),
                "{err}"
            );
        } else {
            switched += 1;
        }
    }
    assert!(switched >= 1);
    let web = selected_color(&c.get_json(&["svc", "web"]));
    let preview = selected_color(&c.get_json(&["svc", "web-preview"]));
    assert!(web == "blue" || web == "green");
    assert_ne!(web, preview);
    let svc = c.get_json(&["svc", "web"]);
    let hist: Vec<serde_json::Value> = serde_json::from_str(
        svc["metadata"]["annotations"]["switchyard.dev/history"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let changed = outs
        .iter()
        .filter(|o| switchyard_e2e::texts(o).0.starts_with("switched"))
        .count();
    assert_eq!(
        hist.len(),
        changed,
        "one history entry per switch that happened"
    );
    assert!(
        c.object("coordination.k8s.io", "leases", "default", "switchyard-web")
            .is_none()
    );
}

#[test]
fn api_calls_per_switch_are_bounded() {
    let c = TestCluster::demo();
    c.cluster().requests.reset();
    expect(&bluegreen(&c, &["switch", "web"]), 0);
    // The lease, one read (Services, Deployments) to plan on, the Service and
    // the preview, one EndpointSlice list that verifies, the Event, the release.
    // The EndpointSlice controller lags the Service write (as on a real
    // cluster), so the list may not be final yet: then one watch follows it.
    let mut snapshot = c.cluster().requests.snapshot();
    let watches = snapshot["counts"]
        .as_object_mut()
        .unwrap()
        .remove("watch endpointslices")
        .map_or(0, |n| n.as_u64().unwrap());
    assert!(watches <= 1, "{snapshot}");
    assert_eq!(
        snapshot["counts"],
        serde_json::json!({
            "create leases": 1,
            "list services": 1,
            "list deployments": 1,
            "patch services": 2,
            "list endpointslices": 1,
            "create events": 1,
            "delete leases": 1,
        }),
        "{snapshot}"
    );
    assert_eq!(snapshot["total"], 8 + watches, "{snapshot}");
}
