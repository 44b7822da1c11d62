//! The installed `kubectl` against kube-sandbox: the check that the sandbox
//! speaks real Kubernetes wherever the tools and their users depend on it.

use std::collections::BTreeSet;

use serde_json::Value;
use switchyard_e2e::{TestCluster, testdata, texts};

fn names(list: &Value) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
        .collect()
}

fn condition<'a>(obj: &'a Value, kind: &str) -> &'a Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[test]
fn gets_every_demo_kind() {
    let c = TestCluster::demo();
    let deploy = c.get_json(&["deployments"]);
    assert_eq!(
        names(&deploy),
        ["shop", "shop-canary", "web-blue", "web-green"]
            .map(String::from)
            .into()
    );
    let svc = c.get_json(&["svc"]);
    assert_eq!(
        names(&svc),
        ["shop", "shop-canary", "web", "web-preview"]
            .map(String::from)
            .into()
    );
    let route = c.get_json(&["httproute", "shop"]);
    let refs = &route["spec"]["rules"][0]["backendRefs"];
    assert_eq!(
        (refs[0]["weight"].as_i64(), refs[1]["weight"].as_i64()),
        (Some(100), Some(0))
    );
    assert_eq!(
        c.get_json(&["pods", "-l", "app=web"])["items"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        c.get_json(&["replicasets"])["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        c.get_json(&["endpointslices"])["items"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(
        c.get_json(&["virtualservices"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        c.get_json(&["svc", "web"])["spec"]["selector"]["color"],
        "blue"
    );
    // Human output is the server's Table, as on a real cluster.
    let table = c.kubectl_ok(&["get", "deploy", "web-blue"]);
    assert!(
        table.starts_with("NAME       READY   UP-TO-DATE   AVAILABLE   AGE"),
        "{table}"
    );
    assert!(
        table.contains("web-blue   3/3     3            3"),
        "{table}"
    );
    let wide = c.kubectl_ok(&["get", "svc", "web", "-o", "wide"]);
    assert!(wide.contains("app=web,color=blue"), "{wide}");
}

#[test]
fn apply_rolls_out_and_endpoints_list_ready_pods() {
    let c = TestCluster::demo();
    let app = testdata("app.yaml");
    let out = c.kubectl_ok(&["apply", "-f", app.to_str().unwrap()]);
    assert_eq!(out, "deployment.apps/api created\nservice/api created\n");
    let status = c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    assert!(
        status.ends_with("deployment \"api\" successfully rolled out\n"),
        "{status}"
    );
    let waited = c.kubectl_ok(&[
        "wait",
        "--for=condition=Available",
        "deploy/api",
        "--timeout=30s",
    ]);
    assert_eq!(waited, "deployment.apps/api condition met\n");

    let pod_ips: BTreeSet<String> = c.get_json(&["pods", "-l", "app=api"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pod_ips.len(), 3);
    let slices = c.wait_for(
        &["endpointslices", "-l", "kubernetes.io/service-name=api"],
        "api endpoints",
        |l| l["items"].as_array().is_some_and(|i| !i.is_empty()),
    );
    let ready: BTreeSet<String> = slices["items"][0]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["conditions"]["ready"] == true)
        .map(|e| e["addresses"][0].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ready, pod_ips);
    assert_eq!(slices["items"][0]["ports"][0]["port"], 8080);

    // A second apply with a new image rolls the Deployment.
    let changed = std::fs::read_to_string(&app)
        .unwrap()
        .replace("example/api:1.0", "example/api:2.0");
    let out = c.kubectl_with(&c.admin_kubeconfig, &["apply", "-f", "-"], Some(&changed));
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
    assert_eq!(
        stdout,
        "deployment.apps/api configured\nservice/api unchanged\n"
    );
    c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    // Old pods may still be Terminating (listed, with a deletionTimestamp),
    // as on a real cluster right after `rollout status` returns.
    let images: BTreeSet<String> = c.get_json(&["pods", "-l", "app=api"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
        .map(|p| {
            p["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(images, ["example/api:2.0".to_string()].into());
}

#[test]
fn patch_with_every_type() {
    let c = TestCluster::demo();
    c.kubectl_ok(&[
        "patch",
        "svc",
        "web",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"selector":{"color":"green"}}}"#,
    ]);
    assert_eq!(
        c.get_json(&["svc", "web"])["spec"]["selector"]["color"],
        "green"
    );
    c.kubectl_ok(&[
        "patch",
        "svc",
        "web",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/selector/color","value":"blue"}]"#,
    ]);
    assert_eq!(
        c.get_json(&["svc", "web"])["spec"]["selector"]["color"],
        "blue"
    );
    c.kubectl_ok(&[
        "patch", "deploy", "web-green", "--type", "strategic", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"example/web:1.2"}]}}}}"#,
    ]);
    let d = c.get_json(&["deploy", "web-green"]);
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "example/web:1.2");
    assert_eq!(
        container["ports"][0]["containerPort"], 8080,
        "strategic merge kept the ports"
    );
    c.kubectl_ok(&["rollout", "status", "deploy/web-green", "--timeout=30s"]);
}

#[test]
fn scale_changes_ready_replicas() {
    let c = TestCluster::demo();
    assert_eq!(
        c.kubectl_ok(&["scale", "deploy/web-green", "--replicas=5"]),
        "deployment.apps/web-green scaled\n"
    );
    c.wait_for(&["deploy", "web-green"], "5 ready", |d| {
        d["status"]["readyReplicas"] == 5
    });
    c.kubectl_ok(&["scale", "deploy/web-green", "--replicas=1"]);
    c.wait_for(&["pods", "-l", "app=web,color=green"], "one pod", |l| {
        l["items"].as_array().unwrap().len() == 1
    });
}

#[test]
fn replace_with_a_stale_object_conflicts() {
    let c = TestCluster::demo();
    let stale = c.kubectl_ok(&["get", "svc", "web", "-o", "json"]);
    c.kubectl_ok(&["annotate", "svc", "web", "touched=yes"]);
    let out = c.kubectl_with(&c.admin_kubeconfig, &["replace", "-f", "-"], Some(&stale));
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("Error from server (Conflict)"), "{stderr}");
    assert!(stderr.contains("the object has been modified"), "{stderr}");
    assert_eq!(
        c.get_json(&["svc", "web"])["metadata"]["annotations"]["touched"],
        "yes"
    );
}

#[test]
fn missing_object_is_not_found() {
    let c = TestCluster::demo();
    let out = c.kubectl(&["get", "deploy", "nope"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr.trim(),
        "Error from server (NotFound): deployments.apps \"nope\" not found"
    );
}

#[test]
fn crashloop_exceeds_the_progress_deadline_and_rollout_status_fails() {
    let c = TestCluster::demo();
    let crash = testdata("crashloop.yaml");
    c.kubectl_ok(&["apply", "-f", crash.to_str().unwrap()]);
    c.wait_for(&["pods", "-l", "app=crash"], "CrashLoopBackOff", |l| {
        let items = l["items"].as_array().unwrap();
        items.len() == 2
            && items.iter().all(|p| {
                p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                    == "CrashLoopBackOff"
            })
    });
    let table = c.kubectl_ok(&["get", "pods", "-l", "app=crash"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
    let out = c.kubectl(&["rollout", "status", "deploy/crash", "--timeout=60s"]);
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("deployment \"crash\" exceeded its progress deadline"),
        "{stderr}"
    );
    let d = c.get_json(&["deploy", "crash"]);
    assert_eq!(
        condition(&d, "Progressing")["reason"],
        "ProgressDeadlineExceeded"
    );
}

#[test]
fn readonly_token_may_read_but_not_patch() {
    let c = TestCluster::start(kube_sandbox::Options {
        demo: true,
        readonly_token: Some("viewer".into()),
        settings: switchyard_e2e::fast_settings(),
        ..Default::default()
    });
    let ro = c.kubeconfig_for("viewer");
    let get = c.kubectl_with(&ro, &["get", "svc", "web", "-o", "name"], None);
    assert_eq!(texts(&get).0, "service/web\n");
    let before = c.get_json(&["svc", "web"])["metadata"]["resourceVersion"].clone();
    let out = c.kubectl_with(
        &ro,
        &[
            "patch",
            "svc",
            "web",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"selector":{"color":"green"}}}"#,
        ],
        None,
    );
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("Error from server (Forbidden)"), "{stderr}");
    assert!(
        stderr.contains("User \"sandbox-readonly\" cannot patch resource \"services\""),
        "{stderr}"
    );
    assert_eq!(
        c.get_json(&["svc", "web"])["metadata"]["resourceVersion"],
        before
    );
}

/// `kubectl apply` takes the shipped `rbac/` manifests, and a token bound by
/// them gets exactly their rules, refused with the real server's message.
#[test]
fn rbac_manifests_apply_and_bind_a_token_to_their_rules() {
    let c = TestCluster::demo();
    let rbac = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rbac");
    let dir = rbac.display().to_string();
    // The harness applied them already, without kubectl's annotation: kubectl
    // warns about that and adds it.
    let out = c.kubectl(&["apply", "-f", &dir]);
    let (applied, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        applied.contains("clusterrole.rbac.authorization.k8s.io/switchyard-status"),
        "{applied}"
    );
    c.kubectl_ok(&["create", "namespace", "team"]);
    let tool = &c.kubeconfig;
    // No Role in `team` yet: listing pods is refused there (the ClusterRole
    // lists only what `status -A` needs, pods not among them).
    let out = c.kubectl_with(tool, &["get", "pods", "-n", "team"], None);
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "Error from server (Forbidden): pods is forbidden: User \"{}\" cannot list resource \"pods\" in API group \"\" in the namespace \"team\"",
            switchyard_e2e::TOOL_USER
        )),
        "{stderr}"
    );
    let role = rbac.join("role.yaml").display().to_string();
    let created = c.kubectl_ok(&["apply", "-n", "team", "-f", &role]);
    assert_eq!(
        created,
        "role.rbac.authorization.k8s.io/switchyard created\nrolebinding.rbac.authorization.k8s.io/switchyard created\n"
    );
    let out = c.kubectl_with(tool, &["get", "pods", "-n", "team"], None);
    assert!(out.status.success(), "{:?}", texts(&out));
    // The Role grants patch on deployments, not on their scale subresource.
    let before = c.get_json(&["deploy", "web-blue"])["metadata"]["resourceVersion"].clone();
    let out = c.kubectl_with(
        tool,
        &["scale", "deployment", "web-blue", "--replicas=1"],
        None,
    );
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!(
            "deployments.apps \"web-blue\" is forbidden: User \"{}\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace \"default\"",
            switchyard_e2e::TOOL_USER
        )),
        "{stderr}"
    );
    assert_eq!(
        c.get_json(&["deploy", "web-blue"])["metadata"]["resourceVersion"],
        before
    );
    let roles = c.kubectl_ok(&["get", "roles", "-A", "-o", "name"]);
    assert!(
        roles.contains("role.rbac.authorization.k8s.io/switchyard"),
        "{roles}"
    );
}

/// Every `kubectl create` subcommand for a kind the sandbox serves: kubectl
/// sends these bodies as protobuf (`application/vnd.kubernetes.protobuf`),
/// and what it created reads back as JSON, as on a real server.
#[test]
fn every_create_subcommand_sends_protobuf_and_reads_back() {
    let c = TestCluster::demo();
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = rcgen::CertificateParams::new(vec!["shop.example.com".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("a certificate");
    let (cert_file, key_file) = (c.dir.join("tls.crt"), c.dir.join("tls.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let cert_arg = format!("--cert={}", cert_file.display());
    let key_arg = format!("--key={}", key_file.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "deployment",
                "api",
                "--image=example/api:1.0",
                "--replicas=2",
                "--port=8080",
            ],
            "deployment.apps/api created",
        ),
        (vec!["namespace", "team"], "namespace/team created"),
        (
            vec![
                "secret",
                "generic",
                "creds",
                "--from-literal=user=ci",
                "--from-literal=empty=",
            ],
            "secret/creds created",
        ),
        (
            vec![
                "secret",
                "docker-registry",
                "pull",
                "--docker-server=r.example.com",
                "--docker-username=u",
                "--docker-password=p",
            ],
            "secret/pull created",
        ),
        (
            vec!["secret", "tls", "shop-tls", &cert_arg, &key_arg],
            "secret/shop-tls created",
        ),
        (
            vec![
                "configmap",
                "settings",
                "--from-literal=mode=blue",
                "--from-literal=blank=",
            ],
            "configmap/settings created",
        ),
        (
            vec!["serviceaccount", "deployer"],
            "serviceaccount/deployer created",
        ),
        (
            vec!["service", "clusterip", "api", "--tcp=80:8080"],
            "service/api created",
        ),
        (
            vec!["service", "nodeport", "api-np", "--tcp=80:8080"],
            "service/api-np created",
        ),
        (
            vec!["service", "loadbalancer", "api-lb", "--tcp=443:8443"],
            "service/api-lb created",
        ),
        (
            vec![
                "service",
                "externalname",
                "ext",
                "--external-name=db.example.com",
            ],
            "service/ext created",
        ),
        (
            vec!["job", "once", "--image=busybox", "--", "true"],
            "job.batch/once created",
        ),
        (
            vec![
                "cronjob",
                "nightly",
                "--image=busybox",
                "--schedule=0 3 * * *",
            ],
            "cronjob.batch/nightly created",
        ),
        (
            vec![
                "role",
                "reader",
                "--verb=get,list",
                "--resource=pods,deployments.apps",
            ],
            "role.rbac.authorization.k8s.io/reader created",
        ),
        (
            vec![
                "rolebinding",
                "reader",
                "--role=reader",
                "--user=jane",
                "--serviceaccount=default:deployer",
            ],
            "rolebinding.rbac.authorization.k8s.io/reader created",
        ),
        (
            vec![
                "clusterrole",
                "lease-reader",
                "--verb=get",
                "--resource=leases.coordination.k8s.io",
                "--resource-name=switchyard-web",
            ],
            "clusterrole.rbac.authorization.k8s.io/lease-reader created",
        ),
        (
            vec![
                "clusterrolebinding",
                "lease-reader",
                "--clusterrole=lease-reader",
                "--group=ops",
            ],
            "clusterrolebinding.rbac.authorization.k8s.io/lease-reader created",
        ),
        (
            vec![
                "ingress",
                "api",
                "--rule=api.example.com/v1*=api:80,tls=shop-tls",
            ],
            "ingress.networking.k8s.io/api created",
        ),
    ];
    for (args, want) in &cases {
        let mut all = vec!["create"];
        all.extend(args);
        let out = c.kubectl_ok(&all);
        assert_eq!(out.trim(), *want, "kubectl create {args:?}");
    }

    let d = c.get_json(&["deploy", "api"]);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "api");
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "example/api:1.0");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    // Go's zero values are not fields: no `hostPort: 0`, no empty strings.
    assert!(
        container["ports"][0].get("hostPort").is_none(),
        "{container}"
    );
    assert!(d["metadata"].get("generateName").is_none(), "{d}");
    c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);

    assert_eq!(c.get_json(&["ns", "team"])["status"]["phase"], "Active");
    let creds = c.get_json(&["secret", "creds"]);
    assert_eq!(creds["type"], "Opaque");
    assert_eq!(
        creds["data"],
        serde_json::json!({"user": "Y2k=", "empty": ""})
    );
    let pull = c.get_json(&["secret", "pull"]);
    assert_eq!(pull["type"], "kubernetes.io/dockerconfigjson");
    assert!(pull["data"][".dockerconfigjson"].is_string());
    assert_eq!(
        c.get_json(&["secret", "shop-tls"])["type"],
        "kubernetes.io/tls"
    );
    assert_eq!(
        c.get_json(&["cm", "settings"])["data"],
        serde_json::json!({"mode": "blue", "blank": ""})
    );
    c.get_json(&["sa", "deployer"]);
    let svc = c.get_json(&["svc", "api"]);
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10."))
    );
    assert!(c.get_json(&["svc", "api-np"])["spec"]["ports"][0]["nodePort"].is_u64());
    assert_eq!(
        c.get_json(&["svc", "api-lb"])["spec"]["type"],
        "LoadBalancer"
    );
    assert_eq!(
        c.get_json(&["svc", "ext"])["spec"]["externalName"],
        "db.example.com"
    );
    let job = c.get_json(&["job", "once"]);
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["true"])
    );
    assert_eq!(
        c.get_json(&["cronjob", "nightly"])["spec"]["schedule"],
        "0 3 * * *"
    );
    let role = c.get_json(&["role", "reader"]);
    assert_eq!(
        role["rules"],
        serde_json::json!([
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
        ])
    );
    let rb = c.get_json(&["rolebinding", "reader"]);
    assert_eq!(rb["roleRef"]["kind"], "Role");
    assert_eq!(rb["subjects"].as_array().unwrap().len(), 2);
    assert_eq!(
        c.get_json(&["clusterrole", "lease-reader"])["rules"][0]["resourceNames"],
        serde_json::json!(["switchyard-web"])
    );
    assert_eq!(
        c.get_json(&["clusterrolebinding", "lease-reader"])["subjects"][0],
        serde_json::json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "ops"})
    );
    // An embedded Go struct (IngressRuleValue) is flattened in JSON.
    let ing = c.get_json(&["ingress", "api"]);
    let rule = &ing["spec"]["rules"][0];
    assert_eq!(rule["host"], "api.example.com");
    assert_eq!(rule["http"]["paths"][0]["pathType"], "Prefix");
    assert_eq!(
        rule["http"]["paths"][0]["backend"]["service"]["port"]["number"],
        80
    );
    assert_eq!(ing["spec"]["tls"][0]["secretName"], "shop-tls");
}

/// `--as`/`--as-group`: impersonation is checked for the requester, then the
/// request is judged as the impersonated identity, with the real 403s.
#[test]
fn impersonation_is_checked_and_then_judged_as_the_impersonated_user() {
    let c = TestCluster::demo();
    let out = c.kubectl(&["get", "pods", "--as", "jane"]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr.trim(),
        "Error from server (Forbidden): pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    // A group that may do everything makes jane an admin.
    let pods = c.kubectl_ok(&[
        "get",
        "pods",
        "--as",
        "jane",
        "--as-group",
        "system:masters",
        "-o",
        "name",
    ]);
    assert!(pods.contains("pod/web-blue-"), "{pods}");
    // The service account itself may not impersonate.
    let out = c.kubectl_with(&c.kubeconfig, &["get", "pods", "--as", "jane"], None);
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert_eq!(
        stderr.trim(),
        format!(
            "Error from server (Forbidden): users \"jane\" is forbidden: User \"{}\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope",
            switchyard_e2e::TOOL_USER
        )
    );
    let out = c.kubectl_with(
        &c.kubeconfig,
        &["get", "pods", "--as", "system:serviceaccount:ci:other"],
        None,
    );
    assert!(
        texts(&out).1.contains("serviceaccounts \"other\" is forbidden: User \"system:serviceaccount:ci:switchyard\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"ci\""),
        "{:?}",
        texts(&out)
    );
    // Impersonating the service account, the admin gets exactly its rights.
    let sa = switchyard_e2e::TOOL_USER;
    c.kubectl_ok(&["get", "pods", "--as", sa]);
    let out = c.kubectl(&["get", "secrets", "--as", sa]);
    assert!(
        texts(&out)
            .1
            .contains(&format!("User \"{sa}\" cannot list resource \"secrets\""))
    );
}

/// `kubectl auth can-i` (SelfSubjectAccessReview) answers what
/// `rbac/role.yaml` grants, rule by rule, and nothing else.
#[test]
fn auth_can_i_matches_the_shipped_role() {
    let c = TestCluster::demo();
    let sa = switchyard_e2e::TOOL_USER;
    let role: Vec<Value> =
        serde_saphyr::from_multiple(&switchyard_e2e::rbac_manifest("role.yaml")).unwrap();
    let rules = role[0]["rules"].as_array().expect("the Role's rules");
    let mut granted = 0;
    for rule in rules {
        let group = rule["apiGroups"][0].as_str().unwrap();
        for resource in rule["resources"].as_array().unwrap() {
            let (resource, sub) = match resource.as_str().unwrap().split_once('/') {
                Some((r, s)) => (r.to_string(), Some(s.to_string())),
                None => (resource.as_str().unwrap().to_string(), None),
            };
            let qualified = match group {
                "" => resource.clone(),
                g => format!("{resource}.{g}"),
            };
            for verb in rule["verbs"].as_array().unwrap() {
                let verb = verb.as_str().unwrap();
                let mut args = vec![
                    "auth", "can-i", verb, &qualified, "--as", sa, "-n", "default",
                ];
                let sub_arg;
                if let Some(s) = &sub {
                    sub_arg = format!("--subresource={s}");
                    args.push(&sub_arg);
                }
                assert_eq!(c.kubectl_ok(&args), "yes\n", "{args:?}");
                granted += 1;
            }
        }
    }
    assert!(granted > 20, "{granted}");
    // What the Role does not grant, or not there (kubectl, unlike the
    // harness, does not put the Role in a new namespace).
    c.kubectl_ok(&["create", "namespace", "elsewhere"]);
    for (verb, what, ns) in [
        ("delete", "deployments.apps", "default"),
        ("list", "secrets", "default"),
        ("create", "leases.coordination.k8s.io", "elsewhere"),
    ] {
        let out = c.kubectl(&["auth", "can-i", verb, what, "--as", sa, "-n", ns]);
        assert_eq!(out.status.code(), Some(1), "{verb} {what} in {ns}");
        assert_eq!(texts(&out).0, "no\n");
    }
    // The token itself asks the same (every user may, by system:basic-user).
    let out = c.kubectl_with(
        &c.kubeconfig,
        &["auth", "can-i", "create", "leases.coordination.k8s.io"],
        None,
    );
    assert_eq!(texts(&out).0, "yes\n", "{:?}", texts(&out));
    assert_eq!(c.kubectl_ok(&["auth", "can-i", "*", "*"]), "yes\n");

    // `--list` (SelfSubjectRulesReview): the Role's rules, by resource.
    let list = c.kubectl_ok(&["auth", "can-i", "--list", "--as", sa, "-n", "default"]);
    let row = |name: &str| {
        list.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row {name}: {list}"))
            .to_string()
    };
    assert!(row("leases.coordination.k8s.io").ends_with("[get create update patch delete]"));
    assert!(row("services/proxy").ends_with("[get]"));
    assert!(row("selfsubjectaccessreviews.authorization.k8s.io").ends_with("[create]"));
    assert!(!list.contains("secrets"), "{list}");
}

/// `kubectl auth whoami` (SelfSubjectReview), as the admin, as the tools'
/// service account, and impersonating.
#[test]
fn auth_whoami_names_the_user_and_groups() {
    let c = TestCluster::demo();
    assert_eq!(
        c.kubectl_ok(&["auth", "whoami"]),
        "ATTRIBUTE   VALUE\nUsername    sandbox-admin\nGroups      [system:masters system:authenticated]\n"
    );
    let out = c.kubectl_with(&c.kubeconfig, &["auth", "whoami", "-o", "json"], None);
    let review: Value = serde_json::from_str(&texts(&out).0).expect("JSON");
    assert_eq!(review["kind"], "SelfSubjectReview");
    assert_eq!(
        review["status"]["userInfo"]["username"],
        switchyard_e2e::TOOL_USER
    );
    assert_eq!(
        review["status"]["userInfo"]["groups"],
        serde_json::json!([
            "system:serviceaccounts",
            "system:serviceaccounts:ci",
            "system:authenticated"
        ])
    );
    // Groups named are all the groups: without system:authenticated, not
    // even system:basic-user applies, as on a real server.
    let out = c.kubectl(&["auth", "whoami", "--as", "jane", "--as-group", "ops"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        texts(&out).1.contains("the selfsubjectreviews API is not enabled in the cluster or you do not have permission to call it"),
        "{:?}",
        texts(&out)
    );
    let out = c.kubectl_ok(&[
        "auth",
        "whoami",
        "--as",
        "jane",
        "--as-group",
        "ops",
        "--as-group",
        "system:authenticated",
    ]);
    assert_eq!(
        out,
        "ATTRIBUTE   VALUE\nUsername    jane\nGroups      [ops system:authenticated]\n"
    );
}

/// The node the pods name: a real Node object, served with a Table.
#[test]
fn get_nodes_shows_the_node_the_pods_run_on() {
    let c = TestCluster::demo();
    let table = c.kubectl_ok(&["get", "nodes"]);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        (row[0], row[1], row[2]),
        ("sandbox-node", "Ready", "control-plane")
    );
    let version: Value = serde_json::from_str(&c.kubectl_ok(&["version", "-o", "json"])).unwrap();
    assert_eq!(row[4], version["serverVersion"]["gitVersion"]);
    assert!(lines.next().is_none(), "{table}");

    let node = c.get_json(&["node", "sandbox-node"]);
    assert_eq!(condition(&node, "Ready")["status"], "True");
    assert_eq!(condition(&node, "MemoryPressure")["status"], "False");
    for field in ["cpu", "memory", "pods"] {
        assert!(node["status"]["capacity"][field].is_string(), "{field}");
        assert!(node["status"]["allocatable"][field].is_string(), "{field}");
    }
    assert_eq!(node["status"]["nodeInfo"]["operatingSystem"], "linux");
    let internal = node["status"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .unwrap()["address"]
        .clone();
    let pods = c.get_json(&["pods"]);
    for p in pods["items"].as_array().unwrap() {
        assert_eq!(p["spec"]["nodeName"], "sandbox-node");
        assert_eq!(p["status"]["hostIP"], internal);
    }
    let wide = c.kubectl_ok(&["get", "no", "-o", "wide"]);
    assert!(wide.contains(internal.as_str().unwrap()), "{wide}");
    // Non-terminated pods are listed by node, as describe does.
    let described = c.kubectl_ok(&["describe", "node", "sandbox-node"]);
    assert!(
        described.contains(&format!(
            "Non-terminated Pods:          ({} in total)",
            pods["items"].as_array().unwrap().len()
        )),
        "{described}"
    );
    assert!(
        described.contains("Lease:\n  HolderIdentity:  sandbox-node"),
        "{described}"
    );
}

/// DELETE answers as the real registry does: a `Success` Status naming the
/// object when it is gone at once, the object (with deletionTimestamp) when
/// finalizers keep it, and the object for the registries that return it.
#[test]
fn delete_answers_a_status_unless_finalizers_keep_the_object() {
    let c = TestCluster::demo();
    c.kubectl_ok(&["create", "configmap", "cfg", "--from-literal=k=v"]);
    let uid = c.get_json(&["cm", "cfg"])["metadata"]["uid"].clone();
    let body = c.kubectl_ok(&[
        "delete",
        "--raw",
        "/api/v1/namespaces/default/configmaps/cfg",
    ]);
    let status: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        status,
        serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": "cfg", "kind": "configmaps", "uid": uid},
        })
    );
    let body = c.kubectl_ok(&[
        "delete",
        "--raw",
        "/apis/apps/v1/namespaces/default/deployments/web-green",
    ]);
    let status: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(status["details"]["group"], "apps");
    assert_eq!(status["details"]["kind"], "deployments");

    // A finalizer keeps it: the object comes back, marked for deletion.
    let kept = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  finalizers: [example.com/keep]\n";
    let out = c.kubectl_with(&c.admin_kubeconfig, &["apply", "-f", "-"], Some(kept));
    assert!(out.status.success(), "{:?}", texts(&out));
    let body = c.kubectl_ok(&[
        "delete",
        "--raw",
        "/api/v1/namespaces/default/configmaps/kept",
    ]);
    let obj: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(obj["kind"], "ConfigMap");
    assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj}");
    c.kubectl_ok(&[
        "patch",
        "cm",
        "kept",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let out = c.kubectl(&["get", "cm", "kept"]);
    assert!(!out.status.success(), "gone once the finalizer is");

    // Pods, Services, ServiceAccounts answer with the object.
    let body = c.kubectl_ok(&[
        "delete",
        "--raw",
        "/api/v1/namespaces/default/services/web-preview",
    ]);
    let obj: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(obj["kind"], "Service");
}

fn revisions(c: &TestCluster, app: &str) -> Vec<(String, String, i64)> {
    let rss = c.get_json(&["rs", "-l", &format!("app={app}")]);
    let mut out: Vec<(String, String, i64)> = rss["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| {
            (
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                rs["spec"]["replicas"].as_i64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// `kubectl rollout undo` brings back the old ReplicaSet as the newest
/// revision (1, 2, then 1 becomes 3), as the real controller does: the
/// template kubectl sends back hashes as the one it came from.
#[test]
fn rollout_undo_reuses_the_old_replica_set() {
    let c = TestCluster::demo();
    let app = testdata("app.yaml");
    c.kubectl_ok(&["apply", "-f", app.to_str().unwrap()]);
    c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    c.kubectl_ok(&["set", "image", "deploy/api", "api=example/api:2.0"]);
    c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    assert_eq!(
        c.kubectl_ok(&["rollout", "undo", "deploy/api"]),
        "deployment.apps/api rolled back\n"
    );
    c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    assert_eq!(
        revisions(&c, "api"),
        [
            ("2".to_string(), "example/api:2.0".to_string(), 0),
            ("3".to_string(), "example/api:1.0".to_string(), 3),
        ]
    );
    let history = c.kubectl_ok(&["rollout", "history", "deploy/api"]);
    let listed: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, ["2", "3"], "{history}");
    c.kubectl_ok(&["rollout", "undo", "deploy/api"]);
    c.kubectl_ok(&["rollout", "status", "deploy/api", "--timeout=30s"]);
    assert_eq!(
        revisions(&c, "api"),
        [
            ("3".to_string(), "example/api:1.0".to_string(), 0),
            ("4".to_string(), "example/api:2.0".to_string(), 3),
        ]
    );
    // Undo to a revision that is the current template is skipped, as kubectl says.
    let out = c.kubectl_ok(&["rollout", "undo", "deploy/api", "--to-revision=4"]);
    assert!(out.contains("skipped rollback"), "{out}");
}

/// No `null` is stored or served: not the defaulter's, not a client's.
#[test]
fn null_fields_are_never_stored_or_served() {
    let c = TestCluster::demo();
    let app = testdata("app.yaml");
    c.kubectl_ok(&["apply", "-f", app.to_str().unwrap()]);
    c.kubectl_ok(&["create", "deployment", "bare", "--image=example/bare:1.0"]);
    for what in [["deploy", "api"], ["deploy", "bare"], ["svc", "api"]] {
        let yaml = c.kubectl_ok(&["get", what[0], what[1], "-o", "yaml"]);
        assert!(!yaml.contains("null"), "{what:?}: {yaml}");
    }
    let pods = c.kubectl_ok(&["get", "pods", "-l", "app=bare", "-o", "yaml"]);
    assert!(!pods.contains("null"), "{pods}");
    // A client's explicit nulls are the zero value: not stored.
    let with_nulls = std::fs::read_to_string(&app).unwrap().replace(
        "      containers:",
        "      initContainers: null\n      nodeSelector: null\n      containers:",
    );
    assert!(with_nulls.contains("initContainers: null"));
    let out = c.kubectl_with(&c.admin_kubeconfig, &["diff", "-f", "-"], Some(&with_nulls));
    assert_eq!(
        out.status.code(),
        Some(0),
        "kubectl diff is clean: {:?}",
        texts(&out)
    );
    let out = c.kubectl_with(
        &c.admin_kubeconfig,
        &["diff", "-f", app.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", texts(&out));
    let d = c.get_json(&["deploy", "api"]);
    assert!(
        d["spec"]["template"]["spec"]
            .get("initContainers")
            .is_none()
    );
}

/// The deployment controller's Events, as `kubectl describe` shows them.
#[test]
fn describe_deploy_shows_the_scaling_events() {
    let c = TestCluster::demo();
    let rs = c.get_json(&["rs", "-l", "app=web,color=blue"])["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let described = c.kubectl_ok(&["describe", "deploy", "web-blue"]);
    let events: Vec<&str> = described
        .lines()
        .skip_while(|l| !l.starts_with("Events:"))
        .collect();
    assert_eq!(
        events[1].split_whitespace().collect::<Vec<_>>(),
        ["Type", "Reason", "Age", "From", "Message"],
        "{described}"
    );
    let row = events[3];
    assert!(row.starts_with("  Normal  ScalingReplicaSet"), "{row}");
    assert!(row.contains("deployment-controller"), "{row}");
    assert!(
        row.ends_with(&format!("Scaled up replica set {rs} from 0 to 3")),
        "{row}"
    );
    c.kubectl_ok(&["scale", "deploy/web-blue", "--replicas=1"]);
    c.wait_for(
        &["events", "--field-selector", "involvedObject.name=web-blue"],
        "the scale-down event",
        |l| {
            l["items"].as_array().unwrap().iter().any(|e| {
                e["message"] == format!("Scaled down replica set {rs} from 3 to 1").as_str()
                    && e["reason"] == "ScalingReplicaSet"
                    && e["involvedObject"]["kind"] == "Deployment"
                    && e["source"]["component"] == "deployment-controller"
            })
        },
    );
}

fn apply_as(c: &TestCluster, manager: &str, yaml: &str, force: bool) -> std::process::Output {
    let mut args = vec![
        "apply",
        "--server-side",
        "--field-manager",
        manager,
        "-f",
        "-",
    ];
    if force {
        args.push("--force-conflicts");
    }
    c.kubectl_with(&c.admin_kubeconfig, &args, Some(yaml))
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or("").to_string(),
                e["operation"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Server-side apply keeps field ownership per manager: disjoint fields
/// apply side by side, a field another manager owns is a 409 with the real
/// message unless `--force-conflicts`, which takes it.
#[test]
fn server_side_apply_tracks_managers_and_conflicts_on_shared_fields() {
    let c = TestCluster::demo();
    let cm = |data: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n{data}")
    };
    assert!(
        apply_as(&c, "alice", &cm("  k: one\n"), false)
            .status
            .success()
    );
    assert!(
        apply_as(&c, "bob", &cm("  other: x\n"), false)
            .status
            .success()
    );
    // The same value is co-owned, not a conflict.
    assert!(
        apply_as(&c, "carol", &cm("  k: one\n"), false)
            .status
            .success()
    );
    let before = c.get_json(&["cm", "shared"]);
    assert_eq!(
        before["data"],
        serde_json::json!({"k": "one", "other": "x"})
    );

    let out = apply_as(&c, "bob", &cm("  other: x\n  k: two\n"), false);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with(
            "error: Apply failed with 2 conflicts: conflicts with \"alice\":\n- .data.k\nconflicts with \"carol\":\n- .data.k\n"
        ),
        "{stderr}"
    );
    assert_eq!(
        c.get_json(&["cm", "shared"])["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"],
        "a conflict changes nothing"
    );
    let out = apply_as(&c, "bob", &cm("  other: x\n  k: two\n"), true);
    assert!(out.status.success(), "{:?}", texts(&out));
    let after = c.get_json(&["cm", "shared", "--show-managed-fields"]);
    assert_eq!(after["data"]["k"], "two");
    assert_eq!(managers(&after), [("bob".to_string(), "Apply".to_string())]);

    // `--show-managed-fields` shows them; plain -o yaml hides them.
    let yaml = c.kubectl_ok(&["get", "cm", "shared", "-o", "yaml", "--show-managed-fields"]);
    assert!(yaml.contains("manager: bob"), "{yaml}");
    assert!(yaml.contains("f:other: {}"), "{yaml}");
    assert!(
        !c.kubectl_ok(&["get", "cm", "shared", "-o", "yaml"])
            .contains("managedFields")
    );

    // An imperative write owns what it changed: kubectl scale takes
    // .spec.replicas, and the next apply of a different count conflicts.
    let app = testdata("app.yaml");
    let app = app.to_str().unwrap();
    c.kubectl_ok(&["apply", "--server-side", "-f", app]);
    c.kubectl_ok(&["scale", "deploy/api", "--replicas=5"]);
    let out = c.kubectl(&["apply", "--server-side", "-f", app]);
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas\n"),
        "{stderr}"
    );
    assert_eq!(c.get_json(&["deploy", "api"])["spec"]["replicas"], 5);
    let d = c.get_json(&["deploy", "api", "--show-managed-fields"]);
    let apply = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["operation"] == "Apply")
        .unwrap();
    assert_eq!(
        apply["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"api\"}"]
            ["f:image"],
        serde_json::json!({})
    );
    c.kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", app]);
    assert_eq!(c.get_json(&["deploy", "api"])["spec"]["replicas"], 3);
}

/// A CustomResourceDefinition is served as a real server serves it:
/// Established, in discovery with every served version, CRUD with the
/// schema's defaults and 422s, the status subresource, watch (`kubectl
/// wait`), printer columns, and gone with its objects when deleted.
#[test]
fn custom_resource_definitions_are_served_from_their_schema() {
    let c = TestCluster::demo();
    let crd = testdata("widgets-crd.yaml");
    c.kubectl_ok(&["apply", "-f", crd.to_str().unwrap()]);
    assert_eq!(
        c.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=10s"
        ]),
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com condition met\n"
    );
    let resources = c.kubectl_ok(&["api-resources", "--api-group=example.com"]);
    assert!(
        resources
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["widgets", "wd", "example.com/v1", "true", "Widget"]),
        "{resources}"
    );
    let widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n";
    let out = c.kubectl_with(&c.admin_kubeconfig, &["apply", "-f", "-"], Some(widget));
    assert_eq!(
        texts(&out).0,
        "widget.example.com/w created\n",
        "{:?}",
        texts(&out)
    );
    let w = c.get_json(&["widget", "w"]);
    assert_eq!(
        w["spec"],
        serde_json::json!({"size": 3, "mode": "fast"}),
        "defaulted"
    );
    let table = c.kubectl_ok(&["get", "wd"]);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SIZE", "MODE", "AGE"]
    );
    assert_eq!(
        &lines.next().unwrap().split_whitespace().collect::<Vec<_>>()[..3],
        ["w", "3", "fast"]
    );
    // The schema's bounds and enum, worded as the real server's.
    let bad = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: bad}\nspec: {size: 20, mode: odd}\n";
    let out = c.kubectl_with(&c.admin_kubeconfig, &["apply", "-f", "-"], Some(bad));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        texts(&out).1.trim(),
        "The Widget \"bad\" is invalid: \n* spec.mode: Unsupported value: \"odd\": supported values: \"fast\", \"slow\"\n* spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10"
    );
    // kubectl validates strictly by default: an undeclared field is a 400;
    // without it, the field is pruned.
    let extra = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: extra}\nspec: {size: 1, colour: red}\n";
    let out = c.kubectl_with(&c.admin_kubeconfig, &["apply", "-f", "-"], Some(extra));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        texts(&out).1.contains("Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: unknown field \"spec.colour\""),
        "{:?}",
        texts(&out)
    );
    let out = c.kubectl_with(
        &c.admin_kubeconfig,
        &["apply", "--validate=false", "-f", "-"],
        Some(extra),
    );
    assert!(out.status.success(), "{:?}", texts(&out));
    assert_eq!(
        c.get_json(&["widget", "extra"])["spec"],
        serde_json::json!({"size": 1, "mode": "fast"})
    );
    let none = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: none}\nspec: {}\n";
    let out = c.kubectl_with(&c.admin_kubeconfig, &["apply", "-f", "-"], Some(none));
    assert!(
        texts(&out).1.contains("spec.size: Required value"),
        "{:?}",
        texts(&out)
    );
    // Status only through its subresource; `kubectl wait` watches for it.
    c.kubectl_ok(&[
        "patch",
        "widget",
        "w",
        "--type=merge",
        "-p",
        r#"{"status":{"ready":true}}"#,
    ]);
    assert!(
        c.get_json(&["widget", "w"]).get("status").is_none(),
        "the main resource ignores status"
    );
    c.kubectl_ok(&[
        "patch",
        "widget",
        "w",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"ready":true}}"#,
    ]);
    c.kubectl_ok(&[
        "wait",
        "--for=jsonpath={.status.ready}=true",
        "widget/w",
        "--timeout=10s",
    ]);
    // The other served version reads the same objects.
    let beta = c.get_json(&["widgets.v1beta1.example.com", "w"]);
    assert_eq!(beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(beta["spec"]["size"], 3);
    // Deleting the definition deletes its objects and the type.
    c.kubectl_ok(&["delete", "crd", "widgets.example.com"]);
    for path in [
        "/apis/example.com/v1",
        "/apis/example.com/v1/namespaces/default/widgets/w",
    ] {
        let out = c.kubectl(&["get", "--raw", path]);
        assert!(!out.status.success(), "{path} is gone");
        assert!(
            texts(&out).1.contains("(NotFound)"),
            "{path}: {:?}",
            texts(&out)
        );
    }
}
