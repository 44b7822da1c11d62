//! kubectl-bluegreen under faults: refused reads retried, refused writes sent
//! once with the history still describing what is served, TLS and
//! unreachable servers as one line (exit 5), and a Lease left by a killed
//! process: busy (exit 4) until it expires, then taken over.

use std::time::Duration;

use switchyard_e2e::faults::{Background, backdate_lease, fault, run_within, wait_until};
use switchyard_e2e::{TestCluster, selected_color};

use crate::{BIN, error_line, expect};

const LIMIT: Duration = Duration::from_secs(60);

fn run(c: &TestCluster, args: &[&str]) -> std::process::Output {
    run_within(c.command(BIN, args, &[]), LIMIT)
}

/// `switchyard.dev/...` annotations of Service web.
fn annotations(c: &TestCluster) -> serde_json::Value {
    c.get_json(&["svc", "web"])["metadata"]["annotations"].clone()
}

#[test]
fn status_and_switch_retry_refused_reads() {
    let c = TestCluster::demo();
    fault(
        &c,
        "status=429,verb=list,resource=services,count=2,retry-after=1",
    );
    fault(&c, "status=503,verb=list,resource=deployments,count=2");
    c.cluster().requests.reset();
    let (stdout, _) = expect(&run(&c, &["status", "web"]), 0);
    assert!(
        stdout.contains("web") && stdout.contains("blue"),
        "{stdout}"
    );
    let requests = &c.cluster().requests;
    assert_eq!(requests.count("list", "services"), 3);
    assert_eq!(requests.count("list", "deployments"), 3);

    fault(&c, "status=503,verb=list,resource=services,count=2");
    fault(&c, "status=504,verb=list,resource=deployments,count=2");
    c.cluster().requests.reset();
    let (_, stderr) = expect(&run(&c, &["switch", "web", "--v=6"]), 0);
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "green");
    assert_eq!(
        stderr.matches(" 503 Service Unavailable in ").count(),
        2,
        "{stderr}"
    );
    assert_eq!(
        stderr.matches(" 504 Gateway Timeout in ").count(),
        2,
        "{stderr}"
    );
    assert_eq!(
        c.cluster().requests.count("patch", "services"),
        2,
        "web and its preview"
    );
}

switchyard_e2e::on_both_timings!(
    a_refused_switch_is_sent_once_and_the_history_still_describes_what_is_served,
    |c| {
        expect(&run(&c, &["switch", "web"]), 0);
        let before = annotations(&c);
        assert_eq!(before["switchyard.dev/revision"], "1");
        fault(
            &c,
            "status=503,verb=patch,resource=services,name=web,count=1",
        );
        c.cluster().requests.reset();
        let (_, stderr) = expect(&run(&c, &["switch", "web"]), 1);
        let err = error_line(&stderr);
        assert!(err.contains("Service web") && err.contains("503"), "{err}");
        assert_eq!(
            c.cluster().requests.count("patch", "services"),
            1,
            "not retried"
        );
        // Still green behind web, blue behind the preview, and the history
        // (revision, last entry) says green is served.
        assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "green");
        assert_eq!(selected_color(&c.get_json(&["svc", "web-preview"])), "blue");
        assert_eq!(annotations(&c), before);
        let (json, _) = expect(&run(&c, &["history", "web", "-o", "json"]), 0);
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["revision"], 1);
        assert_eq!(doc["entries"][0]["to"], "green", "{doc}");
    }
);

#[test]
fn a_certificate_from_another_ca_is_refused_exit_5() {
    let c = TestCluster::demo();
    let other = kube_sandbox::tls::generate().unwrap();
    let path = c.dir.join("kubeconfig-other-ca");
    kube_sandbox::kubeconfig::write(
        &path,
        &kube_sandbox::kubeconfig::render(
            &c.sandbox().url(),
            &other.ca_pem,
            c.sandbox().admin_token(),
            "default",
        ),
    )
    .unwrap();
    c.cluster().requests.reset();
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("--kubeconfig").arg(&path).args(["switch", "web"]);
    let (_, stderr) = expect(&run_within(cmd, LIMIT), 5);
    let err = error_line(&stderr);
    assert!(
    err.contains(&format!(
        "the API server's certificate at {} is not signed by the kubeconfig's certificate-authority (",
        c.sandbox().url()
    )),
    "{err}"
);
    assert!(
        stderr.contains("hint: check the certificate-authority"),
        "{stderr}"
    );
    assert_eq!(
        c.cluster().requests.total(),
        0,
        "not a single request got through"
    );
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
}

#[test]
fn an_unreachable_server_is_one_line_naming_it_exit_5() {
    // A port nobody listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let dir = std::env::temp_dir().join(format!("bluegreen-unreachable-{}", std::process::id()));
    let path = dir.join("kubeconfig");
    let ca = kube_sandbox::tls::generate().unwrap().ca_pem;
    kube_sandbox::kubeconfig::write(
        &path,
        &kube_sandbox::kubeconfig::render(&url, &ca, "token", "default"),
    )
    .unwrap();
    for args in [&["status"][..], &["switch", "web"]] {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("--kubeconfig").arg(&path).args(args);
        let (_, stderr) = expect(&run_within(cmd, LIMIT), 5);
        let err = error_line(&stderr);
        assert!(
            err.contains(&format!("cannot connect to the API server at {url}")),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A Lease left by a process killed with SIGKILL (no handler runs) keeps the
/// app busy, naming its holder and age; once its duration has passed (here:
/// renewTime moved back, as if 60 s had gone by), the next run takes it over.
#[test]
fn a_lease_left_by_a_killed_process_blocks_until_it_expires_then_is_taken_over() {
    let c = TestCluster::demo();
    // A deploy that waits for green under the lease, for longer than the test.
    c.kubectl_ok(&[
    "patch",
    "deploy",
    "web-green",
    "--type",
    "merge",
    "-p",
    r#"{"spec":{"template":{"metadata":{"annotations":{"sandbox.switchyard.dev/ready-after":"10m"}}}}}"#,
]);
    let deploy = Background::spawn(c.command(
        BIN,
        &[
            "deploy",
            "web",
            "--image",
            "example/web:2.0",
            "--wait",
            "--timeout",
            "10m",
        ],
        &[],
    ));
    let pid = deploy.pid();
    let lease = || c.object("coordination.k8s.io", "leases", "default", "switchyard-web");
    wait_until("the deploy to hold the lease", LIMIT, || lease().is_some());
    deploy.kill9();
    let held = lease().expect("left behind");
    assert!(
        held["spec"]["holderIdentity"]
            .as_str()
            .unwrap()
            .ends_with(&format!("pid {pid}")),
        "{held}"
    );

    // Busy: exit 4, naming the holder and its age, nothing changed.
    // What the tools write (pods and ReplicaSets of the rollout change on their own).
    let written = || {
        let mut v = c.versions("default");
        v.retain(|k, _| k.starts_with("services/") || k.starts_with("leases/"));
        let green = c
            .object("apps", "deployments", "default", "web-green")
            .unwrap();
        (
            v,
            green["metadata"]["generation"].clone(),
            green["spec"].clone(),
        )
    };
    let before = written();
    let (_, stderr) = expect(
        &run(&c, &["deploy", "web", "--image", "example/web:3.0"]),
        4,
    );
    let err = error_line(&stderr);
    assert!(
        err.contains("app web is busy")
            && err.contains(&format!("pid {pid}"))
            && err.contains(" for "),
        "{err}"
    );
    assert!(stderr.contains("expires in"), "{stderr}");
    assert_eq!(written(), before);

    // Its duration has passed: taken over, even with the lease read refused twice.
    backdate_lease(&c, "switchyard-web", 60);
    fault(&c, "status=503,verb=get,resource=leases,count=2");
    c.cluster().requests.reset();
    let (stdout, stderr) = expect(
        &run(&c, &["deploy", "web", "--image", "example/web:3.0"]),
        0,
    );
    assert!(stdout.contains("example/web:3.0"), "{stdout}{stderr}");
    assert_eq!(
        c.cluster().requests.count("get", "leases"),
        3,
        "the read was retried"
    );
    assert_eq!(
        c.cluster().requests.count("update", "leases"),
        1,
        "taken over once"
    );
    assert!(lease().is_none(), "released after the run");
}
