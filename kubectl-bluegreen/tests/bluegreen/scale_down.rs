use switchyard_e2e::TestCluster;

use crate::{bluegreen, error_line, expect};

#[test]
fn scale_down_scales_the_idle_color_only() {
    let c = TestCluster::demo();
    let (stdout, _) = expect(&bluegreen(&c, &["scale-down", "web"]), 0);
    assert_eq!(stdout, "scaled web-green: 3 → 0 replicas\n");
    c.wait_for(
        &["pods", "-l", "app=web,color=green"],
        "no green pods",
        |l| l["items"].as_array().unwrap().is_empty(),
    );
    let (again, _) = expect(&bluegreen(&c, &["scale-down", "web"]), 0);
    assert!(again.contains("unchanged"));
    let before = c.versions("default");
    let (_, stderr) = expect(&bluegreen(&c, &["scale-down", "web", "--color", "blue"]), 3);
    assert!(error_line(&stderr).contains("blue is active"), "{stderr}");
    assert_eq!(c.versions("default"), before);
    expect(&bluegreen(&c, &["scale-down", "web", "--to", "1"]), 0);
    assert_eq!(c.get_json(&["deploy", "web-green"])["spec"]["replicas"], 1);
}

#[test]
fn scale_down_dry_runs_change_nothing() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    for mode in ["--dry-run", "--dry-run=client", "--dry-run=server"] {
        let (stdout, stderr) = expect(&bluegreen(&c, &["scale-down", "web", mode]), 0);
        assert_eq!(
            stdout, "web-green would be scaled 3 → 0 replicas (dry run: nothing changed)\n",
            "{mode}"
        );
        assert!(
            stderr.contains("would patch Deployment web-green: ") && stderr.contains("dry run"),
            "{mode}: {stderr}"
        );
    }
    assert_eq!(
        c.versions("default"),
        before,
        "nothing changed, no Lease left"
    );
    // The active color is refused in a dry run too.
    let (_, stderr) = expect(
        &bluegreen(&c, &["scale-down", "web", "--color", "blue", "--dry-run"]),
        3,
    );
    assert!(error_line(&stderr).contains("blue is active"), "{stderr}");
}
