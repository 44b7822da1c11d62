use crate::{canary, error_line, expect, with_fixture};

fn weight(c: &switchyard_e2e::TestCluster) -> String {
    c.get_json(&["ingress", "site-canary"])["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn nginx_canary_weight_annotation() {
    let c = with_fixture("nginx.yaml");
    let (stdout, _) = expect(&canary(&c, &["set", "25", "site"]), 0);
    assert_eq!(
        stdout,
        "site canary weight 0% → 25% via Ingress site-canary\n"
    );
    assert_eq!(weight(&c), "25");
    let (status, _) = expect(&canary(&c, &["status", "site", "-o", "json"]), 0);
    assert!(status.contains("\"provider\": \"nginx\""), "{status}");
    expect(&canary(&c, &["abort", "site"]), 0);
    assert_eq!(weight(&c), "0");
}

#[test]
fn create_canary_ingress_from_the_stable_one() {
    let c = with_fixture("nginx.yaml");
    c.kubectl_ok(&["delete", "ingress", "site-canary"]);
    let before = c.versions("default");
    let (_, stderr) = expect(
        &canary(&c, &["set", "10", "site", "--provider", "nginx"]),
        3,
    );
    assert!(
        error_line(&stderr).contains("no canary Ingress site-canary"),
        "{stderr}"
    );
    assert_eq!(c.versions("default"), before);
    expect(
        &canary(
            &c,
            &[
                "set",
                "10",
                "site",
                "--provider",
                "nginx",
                "--create-canary-ingress",
            ],
        ),
        0,
    );
    let ing = c.get_json(&["ingress", "site-canary"]);
    assert_eq!(
        ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"],
        "true"
    );
    assert_eq!(
        ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"],
        "10"
    );
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "site-canary"
    );
}
