use switchyard_e2e::TestCluster;

use crate::{bluegreen, expect};

#[test]
fn status_lists_the_demo_app() {
    let c = TestCluster::demo();
    let (stdout, _) = expect(&bluegreen(&c, &["status"]), 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "APP   ACTIVE   BLUE                  GREEN                 PREVIEW             LAST SWITCH"
    );
    assert_eq!(
        lines[1],
        "web   blue     example/web:1.0 3/3   example/web:1.1 3/3   web-preview→green   <none>"
    );
    assert_eq!(
        lines.len(),
        2,
        "shop is a canary app, not blue/green: {stdout}"
    );
}

#[test]
fn status_json_carries_colors_preview_and_last_switch() {
    let c = TestCluster::demo();
    expect(&bluegreen(&c, &["switch", "web", "--reason", "r1"]), 0);
    let (stdout, _) = expect(&bluegreen(&c, &["status", "web", "-o", "json"]), 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let app = &doc["apps"][0];
    assert_eq!(app["active"], "green");
    assert_eq!(app["blue"]["images"][0], "example/web:1.0");
    assert_eq!(
        (
            app["green"]["ready"].as_i64(),
            app["green"]["desired"].as_i64()
        ),
        (Some(3), Some(3))
    );
    assert_eq!(app["preview"]["selects"], "blue");
    assert_eq!(app["lastSwitch"]["reason"], "r1");
    assert_eq!(app["revision"], 1);
    let (yaml, _) = expect(&bluegreen(&c, &["status", "web", "-o", "yaml"]), 0);
    assert!(yaml.contains("active: green"), "{yaml}");
}

/// Many apps in many namespaces cost the same two LIST calls.
#[test]
fn status_all_namespaces_costs_two_lists_however_many_apps() {
    let c = TestCluster::demo();
    let mut yaml = String::new();
    for i in 0..6 {
        let ns = format!("team-{i}");
        yaml.push_str(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\n"
        ));
        for app in ["api", "ui"] {
            yaml.push_str(&format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: {app}, namespace: {ns}}}\nspec: {{selector: {{app: {app}, color: green}}, ports: [{{port: 80}}]}}\n---\n"
            ));
            for color in ["blue", "green"] {
                yaml.push_str(&format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {app}-{color}, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {app}, color: {color}}}}}\n  template:\n    metadata: {{labels: {{app: {app}, color: {color}}}}}\n    spec: {{containers: [{{name: {app}, image: 'example/{app}:1'}}]}}\n---\n"
                ));
            }
        }
    }
    c.apply(&yaml);
    c.cluster().requests.reset();
    let (stdout, _) = expect(&bluegreen(&c, &["status", "-A", "-o", "json"]), 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["apps"].as_array().unwrap().len(), 13);
    let r = &c.cluster().requests;
    assert_eq!(
        (r.count("list", "services"), r.count("list", "deployments")),
        (1, 1),
        "{}",
        r.snapshot()
    );
    let (table, _) = expect(&bluegreen(&c, &["status", "-A"]), 0);
    assert!(table.starts_with("NAMESPACE"), "{table}");
}

#[test]
fn status_in_an_empty_namespace_says_so() {
    let c = TestCluster::demo();
    let (stdout, _) = expect(&bluegreen(&c, &["status", "-n", "kube-system"]), 0);
    assert_eq!(
        stdout,
        "No blue/green apps found in namespace kube-system.\n"
    );
}
