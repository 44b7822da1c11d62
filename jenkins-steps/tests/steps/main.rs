//! The step executables as a Jenkins `sh` step runs them, against the sandbox.

mod analysis;
mod apply;
mod bad_input;
mod faults;
mod health_wait;
mod notify;
mod proxy;
mod races;
mod rollback;
mod rollout;
mod secrets;
mod signals;
mod switch;
mod weight;

use std::process::Output;

use switchyard_e2e::TestCluster;

pub fn step(c: &TestCluster, bin: &str, args: &[&str]) -> Output {
    c.run_bin(
        bin,
        args,
        &[
            ("JOB_NAME", "deploy-web"),
            ("BUILD_NUMBER", "7"),
            ("BUILD_URL", "https://ci.example.com/job/deploy-web/7/"),
        ],
    )
}

pub use switchyard_e2e::expect;

/// Patches the pod template of a Deployment with a sandbox annotation.
pub fn annotate_template(c: &TestCluster, deploy: &str, key: &str, value: &str) {
    let patch = format!(
        r#"{{"spec":{{"template":{{"metadata":{{"annotations":{{"{key}":"{value}"}}}}}}}}}}"#
    );
    c.kubectl_ok(&["patch", "deploy", deploy, "--type", "merge", "-p", &patch]);
}

pub fn result_file(c: &TestCluster, name: &str) -> (std::path::PathBuf, String) {
    let p = c.dir.join(name);
    let s = p.to_str().unwrap().to_string();
    (p, s)
}
