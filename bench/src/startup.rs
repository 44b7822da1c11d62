//! Scenario 5: cold start, memory and size of every shipped binary:
//! `--version` wall time and peak RSS, and the stripped size on disk.

use std::process::Command;

use anyhow::{Context, Result};

use crate::env::{BINARIES, Config};
use crate::proc::run;
use crate::report::{Section, Table, Verdict};
use crate::stats::{Summary, fmt};

const TARGET_MS: f64 = 5.0;
const TARGET_RSS_MB: f64 = 20.0;
const TARGET_SIZE_MB: f64 = 8.0;
/// Decimal megabytes: the stricter reading of the targets.
const MB: f64 = 1e6;

/// Peak RSS of `cmd`, in KiB, through the `peak-rss` helper.
fn peak_rss(cfg: &Config, cmd: &[&std::ffi::OsStr], dir: &std::path::Path) -> Result<u64> {
    let r = run(
        {
            let mut c = Command::new(&cfg.peak_rss);
            c.args(cmd);
            c
        },
        dir,
    )?;
    r.expect(0, &format!("peak-rss {cmd:?}"))?;
    r.stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kib: ")?.trim().parse().ok())
        .with_context(|| format!("peak-rss printed no figure: {}", r.stderr))
}

fn version(bin: &std::path::Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--version");
    cmd
}

/// Whether the ELF file at `path` still has a symbol table (`.symtab`).
fn has_symtab(path: &std::path::Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.windows(8).any(|w| w == b".symtab\0"))
}

pub async fn run_all(cfg: &Config) -> Result<Section> {
    let dir = cfg.scratch("startup")?;
    let mut t = Table::new(
        "",
        &[
            "binary",
            "runs",
            "median ms",
            "min ms",
            "max ms",
            "peak RSS MB",
            "size MB",
            "stripped",
        ],
    );
    let (mut worst_ms, mut worst_rss, mut worst_size) = ((0.0, ""), (0.0, ""), (0.0, ""));
    let floor = peak_rss(cfg, &["true".as_ref()], &dir)? as f64 * 1024.0 / MB;
    for name in BINARIES {
        let bin = cfg.bin(name)?;
        // One untimed run first: the file is in the page cache for every timed one.
        run(version(&bin), &dir)?.expect(0, name)?;
        let mut wall = Vec::new();
        let mut rss = 0u64;
        for _ in 0..cfg.runs {
            let r = run(version(&bin), &dir)?;
            r.expect(0, &format!("{name} --version"))?;
            wall.push(r.wall);
            rss = rss.max(peak_rss(
                cfg,
                &[bin.as_os_str(), "--version".as_ref()],
                &dir,
            )?);
        }
        let s = Summary::of(&wall);
        let size = std::fs::metadata(&bin)?.len() as f64 / MB;
        let rss_mb = rss as f64 * 1024.0 / MB;
        for (worst, x) in [
            (&mut worst_ms, s.median),
            (&mut worst_rss, rss_mb),
            (&mut worst_size, size),
        ] {
            if x > worst.0 {
                *worst = (x, name);
            }
        }
        t.row(vec![
            format!("`{name}`"),
            s.n.to_string(),
            fmt(s.median),
            fmt(s.min),
            fmt(s.max),
            fmt(rss_mb),
            fmt(size),
            if has_symtab(&bin) { "no" } else { "yes" }.into(),
        ]);
    }
    let mut sec = Section {
        id: "startup",
        title: "5. Cold start, memory, size".into(),
        intro: format!(
            "`BINARY --version`, {} timed runs per binary after one untimed run (the \
             binary is in the page cache: \"cold\" is a new process, not a cold disk). \
             Peak RSS is the largest `ru_maxrss` over as many more runs, each started \
             by the harness's small `peak-rss` helper (Linux counts the image a process \
             had before `exec` into its peak, and a child of the harness starts as a \
             copy of the harness, sandbox and all); the floor this method reports, \
             `peak-rss true`, is {} MB. Size is the release binary on disk \
             (`strip = true`). MB are 10^6 bytes.",
            cfg.runs,
            fmt(floor)
        ),
        tables: vec![t],
        ..Default::default()
    };
    sec.headline(
        "`--version` wall time, slowest binary's median",
        format!("{} ms ({})", fmt(worst_ms.0), worst_ms.1),
        &format!("<= {TARGET_MS:.0} ms"),
        Verdict::of(worst_ms.0 <= TARGET_MS),
    );
    sec.headline(
        "peak RSS, largest",
        format!("{} MB ({})", fmt(worst_rss.0), worst_rss.1),
        &format!("<= {TARGET_RSS_MB:.0} MB"),
        Verdict::of(worst_rss.0 <= TARGET_RSS_MB),
    );
    sec.headline(
        "stripped size, largest",
        format!("{} MB ({})", fmt(worst_size.0), worst_size.1),
        &format!("<= {TARGET_SIZE_MB:.0} MB"),
        Verdict::of(worst_size.0 <= TARGET_SIZE_MB),
    );
    Ok(sec)
}
