use switchyard_e2e::TestCluster;

use crate::{bluegreen, expect};

#[test]
fn history_lists_switches_newest_first_with_build() {
    let c = TestCluster::demo();
    let (empty, _) = expect(&bluegreen(&c, &["history", "web"]), 0);
    assert_eq!(empty, "No switches of web recorded.\n");
    let jenkins = [
        ("JOB_NAME", "deploy-web"),
        ("BUILD_NUMBER", "42"),
        ("BUILD_URL", "https://ci.example.com/job/deploy-web/42/"),
    ];
    let out = c.run_bin(
        crate::BIN,
        &["switch", "web", "--reason", "release"],
        &jenkins,
    );
    expect(&out, 0);
    expect(&bluegreen(&c, &["rollback", "web"]), 0);
    let (stdout, _) = expect(&bluegreen(&c, &["history", "web"]), 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("TIME"), "{stdout}");
    assert!(
        lines[1].contains("green") && lines[1].contains("rollback"),
        "{stdout}"
    );
    assert!(
        lines[2].contains("jenkins:deploy-web#42")
            && lines[2].contains("https://ci.example.com/job/deploy-web/42/"),
        "{stdout}"
    );
    let (json, _) = expect(&bluegreen(&c, &["history", "web", "-o", "json"]), 0);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["revision"], 2);
    assert_eq!(
        doc["entries"][1]["build"],
        "https://ci.example.com/job/deploy-web/42/"
    );
}

/// With USER unset (a container, a systemd unit), the actor is who the
/// connection acts as: `--as`, else the kubeconfig context's user, not `unknown`.
#[test]
fn without_user_the_actor_is_the_kubeconfig_user() {
    let c = TestCluster::demo();
    let run = |args: &[&str]| {
        let mut cmd = c.command(crate::BIN, args, &[]);
        cmd.env_remove("USER").env_remove("USERNAME");
        switchyard_e2e::run(cmd, None)
    };
    expect(&run(&["switch", "web"]), 0);
    let history = |c: &TestCluster| {
        let (json, _) = expect(&bluegreen(c, &["history", "web", "-o", "json"]), 0);
        serde_json::from_str::<serde_json::Value>(&json).unwrap()
    };
    let actor = history(&c)["entries"][0]["actor"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(actor.starts_with("kube-sandbox@"), "{actor}");
    // Impersonating: the impersonated user acts (the admin may impersonate,
    // and the sandbox then judges the impersonated identity: the
    // ServiceAccount the Role binds).
    let admin = c.admin_kubeconfig.to_str().unwrap().to_string();
    let sa = switchyard_e2e::TOOL_USER;
    expect(
        &run(&["switch", "web", "--kubeconfig", &admin, "--as", sa]),
        0,
    );
    let actor = history(&c)["entries"][0]["actor"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(actor.starts_with(&format!("{sa}@")), "{actor}");
}
