use switchyard_e2e::{TestCluster, selected_color};

use crate::{bluegreen, error_line, expect};

#[test]
fn rollback_returns_to_the_previous_color() {
    let c = TestCluster::demo();
    expect(&bluegreen(&c, &["switch", "web"]), 0);
    let (stdout, _) = expect(&bluegreen(&c, &["rollback"]), 0);
    assert_eq!(stdout, "rolled back web: green → blue (revision 2)\n");
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");
    assert_eq!(
        selected_color(&c.get_json(&["svc", "web-preview"])),
        "green"
    );
}

#[test]
fn rollback_without_history_is_refused() {
    let c = TestCluster::demo();
    let before = c.versions("default");
    let (_, stderr) = expect(&bluegreen(&c, &["rollback", "web"]), 3);
    assert!(
        error_line(&stderr).contains("nothing to roll back to"),
        "{stderr}"
    );
    assert_eq!(c.versions("default"), before);
}

#[test]
fn rollback_to_a_scaled_down_color_needs_scale_up() {
    let c = TestCluster::demo();
    expect(&bluegreen(&c, &["switch", "web"]), 0);
    expect(&bluegreen(&c, &["scale-down", "web"]), 0);
    let (_, stderr) = expect(&bluegreen(&c, &["rollback", "web"]), 3);
    assert!(
        error_line(&stderr).contains("web-blue is scaled to 0"),
        "{stderr}"
    );
    assert!(stderr.contains("--scale-up"), "{stderr}");
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "green");
    let (stdout, _) = expect(
        &bluegreen(&c, &["rollback", "web", "--scale-up", "--timeout", "60s"]),
        0,
    );
    assert!(
        stdout.starts_with("rolled back web: green → blue"),
        "{stdout}"
    );
    assert_eq!(
        c.get_json(&["deploy", "web-blue"])["status"]["readyReplicas"],
        3
    );
}
