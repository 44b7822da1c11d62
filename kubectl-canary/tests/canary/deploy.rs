use switchyard_e2e::TestCluster;

use crate::{canary, error_line, expect, route_weights};

#[test]
fn deploy_sets_the_canary_image_and_no_traffic() {
    let c = TestCluster::demo();
    let (stdout, _) = expect(
        &canary(
            &c,
            &[
                "deploy",
                "shop",
                "--image",
                "example/shop:2.0",
                "--wait",
                "--timeout",
                "60s",
            ],
        ),
        0,
    );
    assert!(
        stdout.starts_with("updated shop-canary: shop=example/shop:2.0 (1 replica)"),
        "{stdout}"
    );
    assert!(stdout.contains("shop-canary is healthy"), "{stdout}");
    assert_eq!(
        c.get_json(&["deploy", "shop-canary"])["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/shop:2.0"
    );
    assert_eq!(
        c.get_json(&["deploy", "shop"])["spec"]["template"]["spec"]["containers"][0]["image"],
        "example/shop:1.0"
    );
    assert_eq!(route_weights(&c), (100, 0));
    // Scaled to 0 by an abort, a new deploy brings one pod back.
    expect(&canary(&c, &["abort"]), 0);
    expect(
        &canary(
            &c,
            &["deploy", "shop", "--image", "example/shop:2.1", "--wait"],
        ),
        0,
    );
    assert_eq!(
        c.get_json(&["deploy", "shop-canary"])["spec"]["replicas"],
        1
    );
    let (_, e) = expect(&canary(&c, &["deploy", "shop", "--image", "bad image"]), 2);
    assert!(error_line(&e).contains("invalid image"), "{e}");
}
