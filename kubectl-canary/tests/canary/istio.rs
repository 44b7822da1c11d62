use crate::{canary, expect, with_fixture};

#[test]
fn istio_route_destination_weights() {
    let c = with_fixture("istio.yaml");
    let (stdout, _) = expect(&canary(&c, &["set", "40", "api"]), 0);
    assert_eq!(
        stdout,
        "api canary weight 0% → 40% via VirtualService api\n"
    );
    let vs = c.get_json(&["virtualservice", "api"]);
    let route = &vs["spec"]["http"][0]["route"];
    assert_eq!(
        (route[0]["weight"].as_i64(), route[1]["weight"].as_i64()),
        (Some(60), Some(40))
    );
    let (status, _) = expect(&canary(&c, &["status", "api"]), 0);
    assert!(
        status.contains("40%") && status.contains("istio"),
        "{status}"
    );
}
