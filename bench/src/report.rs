//! What a run found, as aligned tables on stdout and as bench/RESULTS.md.

use std::fmt::Write;

/// Whether a figure meets its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// A figure without a target.
    Info,
}

impl Verdict {
    pub fn of(met: bool) -> Verdict {
        if met { Verdict::Met } else { Verdict::Missed }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::Info => "-",
        }
    }
}

/// One line of the summary: a figure against its target.
#[derive(Clone, Debug)]
pub struct Headline {
    pub measure: String,
    pub figure: String,
    pub target: String,
    pub verdict: Verdict,
}

/// A table: in markdown, columns of figures right-aligned, others left.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub caption: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(caption: &str, headers: &[&str]) -> Table {
        Table {
            caption: caption.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether every cell of column `i` (after the first) starts like a figure.
    fn numeric(&self, i: usize) -> bool {
        i > 0
            && self.rows.iter().all(|r| {
                r.get(i)
                    .and_then(|c| c.chars().next())
                    .is_none_or(|c| c.is_ascii_digit() || c == '-')
            })
    }

    /// Plain text for a terminal, columns padded to their widest cell.
    pub fn text(&self) -> String {
        let cols = self.headers.len();
        let mut width = vec![0; cols];
        for r in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |r: &[String]| {
            let cells: Vec<String> = (0..cols)
                .map(|i| {
                    let c = r.get(i).map(String::as_str).unwrap_or("");
                    match i {
                        0 => format!("{c:<w$}", w = width[i]),
                        _ => format!("{c:>w$}", w = width[i]),
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        };
        let mut out = String::new();
        if !self.caption.is_empty() {
            let _ = writeln!(out, "{}", self.caption);
        }
        let _ = writeln!(out, "{}", line(&self.headers));
        for r in &self.rows {
            let _ = writeln!(out, "{}", line(r));
        }
        out
    }

    /// A GitHub-flavoured markdown table.
    pub fn markdown(&self) -> String {
        let cols = self.headers.len();
        let line = |r: &[String]| {
            let cells: Vec<String> = (0..cols)
                .map(|i| escape(r.get(i).map(String::as_str).unwrap_or("")))
                .collect();
            format!("| {} |", cells.join(" | "))
        };
        let mut out = String::new();
        if !self.caption.is_empty() {
            let _ = writeln!(out, "{}\n", self.caption);
        }
        let _ = writeln!(out, "{}", line(&self.headers));
        let rule: Vec<&str> = (0..cols)
            .map(|i| if self.numeric(i) { "---:" } else { "---" })
            .collect();
        let _ = writeln!(out, "|{}|", rule.join("|"));
        for r in &self.rows {
            let _ = writeln!(out, "{}", line(r));
        }
        out
    }
}

/// A cell that cannot break the table: `|` escaped, newlines as spaces.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// One scenario's results.
#[derive(Clone, Debug, Default)]
pub struct Section {
    /// The `--only` name.
    pub id: &'static str,
    pub title: String,
    /// What was run, one paragraph.
    pub intro: String,
    pub tables: Vec<Table>,
    /// Findings below the tables: call lists, profiles, why a target is missed.
    pub notes: Vec<String>,
    pub headlines: Vec<Headline>,
}

impl Section {
    pub fn headline(&mut self, measure: &str, figure: String, target: &str, verdict: Verdict) {
        self.headlines.push(Headline {
            measure: measure.into(),
            figure,
            target: target.into(),
            verdict,
        });
    }

    /// The tables and notes for a terminal.
    pub fn text(&self) -> String {
        let mut out = format!("\n== {} ==\n", self.title);
        for t in &self.tables {
            let _ = write!(out, "\n{}", t.text());
        }
        for n in &self.notes {
            let _ = write!(out, "\n{n}\n");
        }
        out
    }
}

/// Where and when the figures were taken.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub date: String,
    pub commit: String,
    /// What the measured binaries say of themselves (`--version`).
    pub binaries: String,
    /// Load averages before and after, and whether others used the machine.
    pub load: String,
}

/// A whole run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub quick: bool,
    pub runs: usize,
    pub machine: Machine,
    pub sections: Vec<Section>,
}

impl Report {
    /// Every headline of every section, as one table.
    pub fn summary(&self) -> Table {
        let mut t = Table::new("", &["scenario", "measure", "figure", "target", "verdict"]);
        for s in &self.sections {
            for h in &s.headlines {
                t.row(vec![
                    s.title.clone(),
                    h.measure.clone(),
                    h.figure.clone(),
                    h.target.clone(),
                    h.verdict.label().into(),
                ]);
            }
        }
        t
    }

    /// bench/RESULTS.md.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::from("# Benchmark results\n\n");
        let _ = writeln!(
            out,
            "Generated by `cargo xtask bench{}` on {} at commit `{}`. Do not edit: \
             rerun the command (see [How to reproduce](#how-to-reproduce)).\n",
            if self.quick { " --quick" } else { "" },
            m.date,
            m.commit,
        );
        if self.quick {
            out.push_str(
                "**Quick run**: fewer runs and objects than the real benchmark; a smoke \
                 test of the harness, not figures to quote.\n\n",
            );
        }
        let _ = writeln!(
            out,
            "Whole-process timings are measured by the harness from spawn to exit \
             (median, min, max over {} runs unless a table says otherwise); API calls \
             come from the sandbox's request counter and do not depend on machine noise.\n",
            self.runs
        );
        out.push_str("## Summary\n\n");
        out.push_str(&self.summary().markdown());
        out.push_str("\n## Machine\n\n");
        for (k, v) in [
            ("CPU", m.cpu.clone()),
            ("cores", m.cores.to_string()),
            ("memory", m.memory.clone()),
            ("kernel", m.kernel.clone()),
            ("rustc", m.rustc.clone()),
            ("date", m.date.clone()),
            ("commit", m.commit.clone()),
            ("binaries", m.binaries.clone()),
            ("load", m.load.clone()),
        ] {
            let _ = writeln!(out, "- {k}: {v}");
        }
        out.push_str(
            "\n## How to reproduce\n\n```sh\n\
             cargo xtask bench                  # every scenario, rewrites bench/RESULTS.md\n\
             cargo xtask bench --quick          # smoke run: fewer runs and objects\n\
             cargo xtask bench --only scale     # one scenario (tables only; RESULTS.md is kept)\n\
             cargo xtask bench --runs 50        # more runs per timing\n\
             ```\n\n\
             It builds the shipped binaries with the release profile (what users run; an \
             up-to-date build is reused), builds the harness (`bench/`, profile `bench`) \
             and runs it against those binaries and an in-process kube-sandbox. It needs \
             `kubectl` on PATH for the comparisons, and `prometheus` (Debian's package; \
             `scripts/test` installs it) for the metric analysis.\n",
        );
        for s in &self.sections {
            let _ = write!(out, "\n## {}\n\n{}\n", s.title, s.intro);
            for t in &s.tables {
                let _ = write!(out, "\n{}", t.markdown());
            }
            for n in &s.notes {
                let _ = write!(out, "\n{n}\n");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::new("latency (ms)", &["what", "p50", "max"]);
        t.row(vec!["get".into(), "0.091".into(), "1.50".into()]);
        t.row(vec!["a|b".into(), "12.0".into(), "300".into()]);
        t
    }

    #[test]
    fn text_table_aligns_columns() {
        assert_eq!(
            table().text(),
            "latency (ms)\nwhat    p50   max\nget   0.091  1.50\na|b    12.0   300\n"
        );
    }

    #[test]
    fn markdown_table_escapes_pipes_and_right_aligns_figures() {
        assert_eq!(
            table().markdown(),
            "latency (ms)\n\n| what | p50 | max |\n|---|---:|---:|\n| get | 0.091 | 1.50 |\n| a\\|b | 12.0 | 300 |\n"
        );
    }

    #[test]
    fn short_rows_are_padded() {
        let mut t = Table::new("", &["a", "b"]);
        t.row(vec!["x".into()]);
        assert_eq!(t.markdown(), "| a | b |\n|---|---:|\n| x |  |\n");
        assert_eq!(t.text(), "a  b\nx\n");
        t.row(vec!["y".into(), "<= 6".into()]);
        assert!(
            t.markdown().contains("|---|---|"),
            "text columns stay left-aligned"
        );
    }

    fn report(quick: bool) -> Report {
        let mut s = Section {
            id: "switch",
            title: "1. Switch".into(),
            intro: "Switches the demo app.".into(),
            tables: vec![table()],
            notes: vec!["10 calls.".into()],
            headlines: Vec::new(),
        };
        s.headline("wall time", "58x less".into(), ">= 10x", Verdict::of(true));
        s.headline("API calls", "10".into(), "<= 6", Verdict::of(false));
        s.headline("GET p50", "0.09 ms".into(), "-", Verdict::Info);
        Report {
            quick,
            runs: 20,
            machine: Machine {
                cpu: "Test CPU".into(),
                cores: 2,
                commit: "abc123".into(),
                ..Default::default()
            },
            sections: vec![s],
        }
    }

    #[test]
    fn results_markdown_has_summary_machine_reproduction_and_sections() {
        let md = report(false).markdown();
        assert!(md.starts_with("# Benchmark results\n"));
        assert!(md.contains("`cargo xtask bench` on"), "{md}");
        assert!(!md.contains("Quick run"));
        assert!(md.contains(
            "| scenario | measure | figure | target | verdict |\n|---|---|---:|---|---|\n\
             | 1. Switch | wall time | 58x less | >= 10x | met |\n\
             | 1. Switch | API calls | 10 | <= 6 | missed |\n\
             | 1. Switch | GET p50 | 0.09 ms | - | - |\n"
        ));
        assert!(md.contains("- CPU: Test CPU\n- cores: 2\n"));
        assert!(md.contains("commit `abc123`"));
        assert!(md.contains("## How to reproduce"));
        let section = md.find("## 1. Switch").expect("section");
        assert!(md[section..].contains("Switches the demo app.\n\nlatency (ms)\n\n| what |"));
        assert!(md[section..].contains("\n10 calls.\n"));
    }

    #[test]
    fn quick_runs_say_so() {
        let md = report(true).markdown();
        assert!(md.contains("`cargo xtask bench --quick`"));
        assert!(md.contains("**Quick run**"));
    }
}
