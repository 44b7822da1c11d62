//! `cargo xtask bench`: build what ships with the release profile, then run the
//! harness (`bench/`, package `switchyard-bench`) against those binaries.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cargo::{self, Workspace};

/// What `cargo xtask bench` passes on to the harness.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Options {
    /// A smoke run: fewer runs and objects (RESULTS.md says it is one).
    #[arg(long)]
    pub quick: bool,
    /// Runs per timed command (default 20; 5 with --quick).
    #[arg(long, value_name = "N")]
    pub runs: Option<u32>,
    /// Only this scenario (repeatable): switch, health-wait, fail-fast, scale,
    /// startup, sandbox, analysis, apply. Tables only: bench/RESULTS.md is left as it is.
    #[arg(long, value_name = "SCENARIO")]
    pub only: Vec<String>,
    /// Print the tables only; do not rewrite bench/RESULTS.md.
    #[arg(long)]
    pub no_write: bool,
    /// A line for RESULTS.md's machine section, e.g. "shared with other builds".
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
}

/// The harness's arguments.
pub fn harness_args(o: &Options, bin_dir: &Path, results: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--bin-dir".into(),
        bin_dir.into(),
        "--results".into(),
        results.into(),
    ];
    if o.quick {
        args.push("--quick".into());
    }
    if let Some(n) = o.runs {
        args.extend(["--runs".into(), n.to_string().into()]);
    }
    for s in &o.only {
        args.extend(["--only".into(), s.into()]);
    }
    if o.no_write {
        args.push("--no-write".into());
    }
    if let Some(n) = &o.note {
        args.extend(["--note".into(), n.into()]);
    }
    args
}

/// Builds the shipped binaries (release profile: an up-to-date build is
/// reused) and runs the harness, built with the `bench` profile.
pub fn run(ws: &Workspace, o: &Options) -> Result<()> {
    let exes = cargo::build_release(ws, "release", None)?;
    let bin_dir = exes
        .values()
        .next()
        .and_then(|e| e.parent())
        .context("the build produced no binary")?;
    let results = ws.root.join("bench").join("RESULTS.md");
    // Both of the harness's binaries: it runs the `peak-rss` helper.
    let built = cargo::cargo()
        .args([
            "build",
            "--locked",
            "--profile",
            "bench",
            "-p",
            "switchyard-bench",
            "--bins",
        ])
        .current_dir(&ws.root)
        .status()
        .context("running cargo build -p switchyard-bench")?;
    if !built.success() {
        bail!("building the benchmark harness failed");
    }
    let status = cargo::cargo()
        .args([
            "run",
            "--locked",
            "--profile",
            "bench",
            "-p",
            "switchyard-bench",
            "--bin",
            "switchyard-bench",
            "--",
        ])
        .args(harness_args(o, bin_dir, &results))
        .current_dir(&ws.root)
        .status()
        .context("running cargo run -p switchyard-bench")?;
    if !status.success() {
        bail!("the benchmark harness failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_pass_on_to_the_harness() {
        let o = Options {
            quick: true,
            runs: Some(30),
            only: vec!["switch".into(), "scale".into()],
            no_write: true,
            note: Some("shared".into()),
        };
        let args = harness_args(
            &o,
            Path::new("/t/release"),
            Path::new("/w/bench/RESULTS.md"),
        );
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--bin-dir",
                "/t/release",
                "--results",
                "/w/bench/RESULTS.md",
                "--quick",
                "--runs",
                "30",
                "--only",
                "switch",
                "--only",
                "scale",
                "--no-write",
                "--note",
                "shared"
            ]
        );
        let plain = harness_args(&Options::default(), Path::new("b"), Path::new("r"));
        assert_eq!(
            plain,
            ["--bin-dir", "b", "--results", "r"].map(OsString::from)
        );
    }
}
