use switchyard_e2e::{TestCluster, selected_color};

use crate::{expect, step};

const BIN: &str = env!("CARGO_BIN_EXE_deploy-rollback");
const SWITCH: &str = env!("CARGO_BIN_EXE_deploy-switch");
const WEIGHT: &str = env!("CARGO_BIN_EXE_deploy-weight");

#[test]
fn rollback_knows_each_model() {
    let c = TestCluster::demo();
    expect(&step(&c, SWITCH, &["--app", "web"]), 0);
    let (_, e) = expect(&step(&c, BIN, &["--app", "web"]), 0);
    assert!(e.contains("rolled back web: green → blue"), "{e}");
    assert_eq!(selected_color(&c.get_json(&["svc", "web"])), "blue");

    expect(&step(&c, WEIGHT, &["--app", "shop", "--weight", "30"]), 0);
    let (_, e) = expect(&step(&c, BIN, &["--app", "shop"]), 0);
    assert!(
        e.contains("rolled back shop: canary weight 30% → 0%"),
        "{e}"
    );
    let (_, e) = expect(&step(&c, BIN, &["--app", "nope"]), 3);
    assert!(e.contains("neither a blue/green nor a canary app"), "{e}");
}
