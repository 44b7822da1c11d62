//! kubectl-bluegreen as users run it: the built binary, and once through the
//! installed kubectl finding it on PATH, against the demo sandbox.

mod analysis;
mod bad_input;
mod deploy;
mod faults;
mod history;
mod impersonation;
mod init;
mod rbac;
mod rollback;
mod scale_down;
mod secrets;
mod signals;
mod status;
mod switch;

use std::process::Output;

use switchyard_e2e::TestCluster;

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-bluegreen");

/// `kubectl-bluegreen ARGS` against `c`.
pub fn bluegreen(c: &TestCluster, args: &[&str]) -> Output {
    c.run_bin(BIN, args, &[])
}

pub use switchyard_e2e::{error_line, expect};
