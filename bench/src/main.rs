//! `switchyard-bench`: runs the scenarios, prints tables, rewrites
//! bench/RESULTS.md. Run it through `cargo xtask bench`, which builds the
//! release binaries it measures first.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use switchyard_bench::env::{BINARIES, Config};
use switchyard_bench::report::Report;
use switchyard_bench::{Scenario, machine};

#[derive(Parser)]
#[command(
    name = "switchyard-bench",
    about = "Benchmarks the release binaries against an in-process kube-sandbox"
)]
struct Args {
    /// A smoke run: 5 runs per timing and fewer objects (RESULTS.md says so).
    #[arg(long)]
    quick: bool,
    /// Runs per timed command (default 20; 5 with --quick).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    runs: Option<u32>,
    /// Only these scenarios (repeatable); RESULTS.md is then left as it is.
    #[arg(long, value_enum, value_name = "SCENARIO")]
    only: Vec<Scenario>,
    /// Where the release binaries are.
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release"))]
    bin_dir: PathBuf,
    /// Where the results go when every scenario ran.
    #[arg(long, value_name = "PATH", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/RESULTS.md"))]
    results: PathBuf,
    /// Print only; write no RESULTS.md.
    #[arg(long)]
    no_write: bool,
    /// A line for the machine section, e.g. "shared with other builds".
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

/// The commit the binaries name in `--version`.
fn binaries_commit(bin_dir: &Path) -> String {
    std::process::Command::new(bin_dir.join(BINARIES[0]))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Args::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(a: Args) -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = std::env::temp_dir().join(format!("switchyard-bench-{}", std::process::id()));
    let cfg = Config {
        quick: a.quick,
        runs: a.runs.map_or(if a.quick { 5 } else { 20 }, |r| r as usize),
        bin_dir: a
            .bin_dir
            .canonicalize()
            .with_context(|| format!("{}", a.bin_dir.display()))?,
        work: work.clone(),
        peak_rss: std::env::current_exe()?.with_file_name("peak-rss"),
    };
    if !cfg.peak_rss.is_file() {
        anyhow::bail!(
            "{} is missing: build the harness with --bins",
            cfg.peak_rss.display()
        );
    }
    for b in BINARIES {
        cfg.bin(b)?;
    }
    let mut m = machine::describe(&root);
    m.binaries = format!(
        "{}, release profile, in {}",
        binaries_commit(&cfg.bin_dir),
        cfg.bin_dir.display()
    );
    let load_before = machine::load();
    println!(
        "# Switchyard benchmarks{}: {} runs per timing; binaries: {}",
        if cfg.quick { " (quick)" } else { "" },
        cfg.runs,
        m.binaries
    );
    println!(
        "{}, {} cores, {}, {}, {}",
        m.cpu, m.cores, m.memory, m.kernel, m.rustc
    );
    let mut sections = Vec::new();
    for s in Scenario::RUN_ORDER {
        if !a.only.is_empty() && !a.only.contains(&s) {
            continue;
        }
        eprintln!("running {s:?}...");
        let sec = s
            .run(&cfg)
            .await
            .with_context(|| format!("scenario {s:?}"))?;
        print!("{}", sec.text());
        sections.push((s, sec));
    }
    let _ = std::fs::remove_dir_all(&work);
    sections.sort_by_key(|(s, _)| *s);
    m.load = format!(
        "1-minute load average {load_before:.2} before the run, {:.2} after, on {} cores{}",
        machine::load(),
        m.cores,
        a.note.map(|n| format!("; {n}")).unwrap_or_default()
    );
    let report = Report {
        quick: cfg.quick,
        runs: cfg.runs,
        machine: m,
        sections: sections.into_iter().map(|(_, s)| s).collect(),
    };
    println!("\n== Summary ==\n\n{}", report.summary().text());
    if a.only.is_empty() && !a.no_write {
        std::fs::write(&a.results, report.markdown())
            .with_context(|| format!("writing {}", a.results.display()))?;
        println!("wrote {}", a.results.display());
    }
    Ok(())
}
