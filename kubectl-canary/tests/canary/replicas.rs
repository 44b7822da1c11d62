use crate::{canary, expect, with_fixture};

fn replicas(c: &switchyard_e2e::TestCluster, name: &str) -> i64 {
    c.get_json(&["deploy", name])["spec"]["replicas"]
        .as_i64()
        .unwrap()
}

#[test]
fn replica_split_divides_the_total_and_reports_what_it_achieves() {
    let c = with_fixture("replicas.yaml");
    let (stdout, _) = expect(
        &canary(&c, &["set", "30", "cart", "--provider", "replicas"]),
        0,
    );
    assert_eq!(
        stdout,
        "cart canary weight 0% → 30% via Service cart over cart and cart-canary\n"
    );
    assert_eq!((replicas(&c, "cart"), replicas(&c, "cart-canary")), (7, 3));
    let (stdout, _) = expect(&canary(&c, &["set", "33", "cart", "--total", "4"]), 0);
    assert!(
        stdout.contains("the replica split achieves 25%"),
        "{stdout}"
    );
    assert_eq!((replicas(&c, "cart"), replicas(&c, "cart-canary")), (3, 1));
    let (status, _) = expect(&canary(&c, &["status", "cart", "-o", "json"]), 0);
    let doc: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(
        (
            doc["apps"][0]["weight"].as_u64(),
            doc["apps"][0]["achieved"].as_f64()
        ),
        (Some(33), Some(25.0))
    );
    expect(&canary(&c, &["abort", "cart"]), 0);
    assert_eq!((replicas(&c, "cart"), replicas(&c, "cart-canary")), (4, 0));
}
