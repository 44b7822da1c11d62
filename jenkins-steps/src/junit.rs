//! JUnit XML reports, which Jenkins' `junit` step shows as test results: one
//! testcase per check a step made.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One check.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub time: Duration,
    /// (type, message, details) when the check failed.
    pub failure: Option<(String, String, String)>,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The report for `suite` (e.g. `deploy-health-wait web-green`).
pub fn render(suite: &str, classname: &str, cases: &[Case]) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let total: f64 = cases.iter().map(|c| c.time.as_secs_f64()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{total:.3}\">",
        escape(suite),
        cases.len()
    );
    for c in cases {
        let open = format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            escape(classname),
            escape(&c.name),
            c.time.as_secs_f64()
        );
        match &c.failure {
            None => {
                let _ = writeln!(x, "{open}/>");
            }
            Some((kind, message, details)) => {
                let _ = writeln!(x, "{open}>");
                let _ = writeln!(
                    x,
                    "    <failure type=\"{}\" message=\"{}\">{}</failure>",
                    escape(kind),
                    escape(message),
                    escape(details)
                );
                let _ = writeln!(x, "  </testcase>");
            }
        }
    }
    x.push_str("</testsuite>\n");
    x
}

/// One testcase per metric of an analysis: failed unless the metric ended
/// Successful, its measurements as the details.
pub fn analysis_cases(report: &switchyard::analysis::Report) -> Vec<Case> {
    use switchyard::analysis::Phase;
    report
        .metrics
        .iter()
        .map(|m| Case {
            name: m.name.clone(),
            time: m.measurements.iter().map(|x| x.took).sum(),
            failure: (m.phase != Phase::Successful).then(|| {
                let details = m
                    .measurements
                    .iter()
                    .map(|x| {
                        format!(
                            "{} {} → {}: {}",
                            x.started_at,
                            x.value.as_deref().unwrap_or("-"),
                            x.phase,
                            x.message
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                (
                    m.phase.to_string(),
                    m.message.clone().unwrap_or_else(|| m.phase.to_string()),
                    details,
                )
            }),
        })
        .collect()
}

pub fn write(path: &Path, suite: &str, classname: &str, cases: &[Case]) -> std::io::Result<()> {
    std::fs::write(path, render(suite, classname, cases))
}

/// A report written however the step ends: by [`Report::finish`] when it
/// runs to its end, by [`Report::error`] when it fails with an error, and
/// when it is dropped unfinished (SIGINT/SIGTERM drop the step's work) with
/// the check that was running failed as `Interrupted`. Without a path it
/// only keeps the cases.
pub struct Report {
    path: Option<PathBuf>,
    pub suite: String,
    classname: &'static str,
    pub cases: Vec<Case>,
    running: Option<(String, Instant)>,
    written: bool,
}

impl Report {
    pub fn new(path: Option<PathBuf>, suite: impl Into<String>, classname: &'static str) -> Self {
        Report {
            path,
            suite: suite.into(),
            classname,
            cases: Vec::new(),
            running: None,
            written: false,
        }
    }

    /// A check begins; it ends with [`Report::end`].
    pub fn start(&mut self, name: impl Into<String>) {
        self.running = Some((name.into(), Instant::now()));
    }

    /// The running check ended: passed, or failed with (type, message, details).
    pub fn end(&mut self, failure: Option<(String, String, String)>) {
        if let Some((name, t)) = self.running.take() {
            self.cases.push(Case {
                name,
                time: t.elapsed(),
                failure,
            });
        }
    }

    fn write_now(&mut self) -> std::io::Result<()> {
        self.written = true;
        match &self.path {
            Some(p) => write(p, &self.suite, self.classname, &self.cases),
            None => Ok(()),
        }
    }

    /// Writes the report of a step that ran to its end.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.end(None);
        self.write_now().map_err(|e| self.write_error(e))
    }

    /// The step failed with `message`: the running check (or a check named
    /// after the suite, when none ran yet) fails with it, and the report is written.
    pub fn error(&mut self, message: &str) {
        if self.running.is_none() && self.cases.iter().all(|c| c.failure.is_none()) {
            self.start(self.suite.clone());
        }
        self.end(Some(("Error".into(), message.to_string(), String::new())));
        let _ = self.write_now();
    }

    /// Ends the report with the step's result: written as passed on `Ok`,
    /// with the error's line on `Err` (see [`Report::finish`], [`Report::error`]).
    pub fn conclude<T>(mut self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        match result {
            Ok(v) => {
                self.finish()?;
                Ok(v)
            }
            Err(e) => {
                self.error(&switchyard::output::one_line(&e));
                Err(e)
            }
        }
    }

    fn write_error(&self, e: std::io::Error) -> anyhow::Error {
        let path = self.path.as_deref().unwrap_or(Path::new(""));
        anyhow::anyhow!("writing the JUnit report {}: {e}", path.display())
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if self.written || self.path.is_none() {
            return;
        }
        let why = match switchyard::cli::signalled() {
            Some(sig) => format!("stopped by {sig} before the check finished"),
            None => "the step ended before the check finished".to_string(),
        };
        if self.running.is_none() {
            self.start(self.suite.clone());
        }
        self.end(Some(("Interrupted".into(), why, String::new())));
        let _ = self.write_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_failures_escaped() {
        let cases = vec![
            Case {
                name: "rollout web-green".into(),
                time: Duration::from_millis(1500),
                failure: None,
            },
            Case {
                name: "GET /health".into(),
                time: Duration::from_millis(20),
                failure: Some((
                    "HTTP".into(),
                    "answered 503 <DOWN> & \"bad\"".into(),
                    "{\"status\":\"DOWN\"}".into(),
                )),
            },
        ];
        let x = render("deploy-health-wait web", "switchyard", &cases);
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(
            x.contains(
                "<testcase classname=\"switchyard\" name=\"rollout web-green\" time=\"1.500\"/>"
            ),
            "{x}"
        );
        assert!(
            x.contains("message=\"answered 503 &lt;DOWN&gt; &amp; &quot;bad&quot;\""),
            "{x}"
        );
        assert!(
            x.contains(">{&quot;status&quot;:&quot;DOWN&quot;}</failure>"),
            "{x}"
        );
    }
}
