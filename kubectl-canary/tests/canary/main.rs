//! kubectl-canary as users run it, against the sandbox: the demo app `shop`
//! for Gateway API, fixtures for ingress-nginx, Istio and the replica split.

mod analysis;
mod bad_input;
mod deploy;
mod faults;
mod gateway;
mod istio;
mod nginx;
mod races;
mod ramp;
mod rbac;
mod replicas;
mod secrets;

use std::process::Output;

use switchyard_e2e::TestCluster;

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-canary");

pub fn canary(c: &TestCluster, args: &[&str]) -> Output {
    c.run_bin(BIN, args, &[])
}

pub use switchyard_e2e::{error_line, expect};

/// The demo cluster plus a fixture from tests/testdata.
pub fn with_fixture(name: &str) -> TestCluster {
    let c = TestCluster::demo();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name);
    c.apply(&std::fs::read_to_string(path).expect("fixture"));
    c.settle();
    c
}

/// (stable, canary) backendRef weights of the demo HTTPRoute `shop`.
pub fn route_weights(c: &TestCluster) -> (i64, i64) {
    let r = c.get_json(&["httproute", "shop"]);
    let refs = &r["spec"]["rules"][0]["backendRefs"];
    (
        refs[0]["weight"].as_i64().unwrap(),
        refs[1]["weight"].as_i64().unwrap(),
    )
}
