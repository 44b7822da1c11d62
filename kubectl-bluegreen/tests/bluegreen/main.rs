//! kubectl-bluegreen as users run it: the built binary, and once through the
//! installed kubectl finding it on PATH, against the demo sandbox.

mod bad_input;
mod deploy;
mod history;
mod init;
mod rollback;
mod scale_down;
mod status;
mod switch;

use std::process::Output;

use switchyard_e2e::{TestCluster, texts};

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-bluegreen");

/// `kubectl-bluegreen ARGS` against `c`.
pub fn bluegreen(c: &TestCluster, args: &[&str]) -> Output {
    c.run_bin(BIN, args, &[])
}

/// Asserts the exit code and returns (stdout, stderr).
pub fn expect(out: &Output, code: i32) -> (String, String) {
    let (o, e) = texts(out);
    assert_eq!(out.status.code(), Some(code), "stdout: {o}\nstderr: {e}");
    (o, e)
}

/// The error line and hint of a failed command: one `error:` line, maybe a `hint:`.
pub fn error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "exactly one error line: {stderr}");
    errors[0].to_string()
}
