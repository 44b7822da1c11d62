//! Output: tables for people, one JSON (or YAML) document for machines,
//! progress and errors on stderr. Color only on a terminal, never with NO_COLOR.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::exit::{self, Exit};

/// `-o` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Wide,
    Json,
    Yaml,
}

impl Format {
    pub fn is_machine(self) -> bool {
        matches!(self, Format::Json | Format::Yaml)
    }
}

/// Whether stdout may carry ANSI color.
pub fn color_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Wraps `text` in an ANSI color for its blue/green meaning, when allowed.
pub fn paint(text: &str, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match text {
        "blue" => "34",
        "green" => "32",
        _ => return text.to_string(),
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `n` and `noun`, in the plural unless `n` is 1: `1 replica`, `3 replicas`,
/// `1 ready endpoint`. Every count a person reads goes through here.
pub fn count(n: impl Into<i64>, noun: &str) -> String {
    let n = n.into();
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

/// Prints a machine document on stdout.
pub fn print_document<T: Serialize>(format: Format, doc: &T) -> anyhow::Result<()> {
    let text = match format {
        Format::Yaml => serde_saphyr::to_string(doc)?,
        _ => serde_json::to_string_pretty(doc)? + "\n",
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Renders rows as a kubectl-style table: upper-case headers, three spaces
/// between columns (as kubectl's tabwriter), no borders.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut builder = tabled::builder::Builder::default();
    builder.push_record(headers.iter().map(|h| h.to_string()));
    for r in rows {
        builder.push_record(r.clone());
    }
    let mut t = builder.build();
    t.with(tabled::settings::Style::blank())
        .with(tabled::settings::Padding::new(0, 2, 0, 0));
    // Trailing padding is invisible but breaks `| awk` users' expectations.
    t.to_string()
        .lines()
        .map(|l| l.trim_end().to_string() + "\n")
        .collect()
}

/// Progress and notes on stderr. On a terminal a progress line rewrites itself;
/// in a log (Jenkins) every change is its own line.
pub struct Progress {
    live: bool,
    dirty: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            live: std::io::stderr().is_terminal(),
            dirty: false,
        }
    }
}

impl Progress {
    /// A line that the next `update` may replace.
    pub fn update(&mut self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.live {
            let _ = write!(err, "\r\x1b[2K{line}");
            self.dirty = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
    }

    /// A line that stays.
    pub fn note(&mut self, line: &str) {
        self.finish();
        eprintln!("{line}");
    }

    /// Ends a live line.
    pub fn finish(&mut self) {
        if self.dirty {
            eprintln!();
            self.dirty = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Prints `error: ...` (one line) and a hint if there is one; returns the exit code.
pub fn report_error(err: &anyhow::Error) -> Exit {
    let code = exit::classify(err);
    let hint = hint(err);
    let message = one_line(err);
    eprintln!("error: {message}");
    if let Some(h) = hint {
        eprintln!("hint: {h}");
    }
    code
}

/// The hint under an error: its own, the permissions' for a 403, else the
/// one for its exit code (an unreachable cluster: `kubectl cluster-info`).
/// Every binary (plugins and steps) prints this one.
pub fn hint(err: &anyhow::Error) -> Option<String> {
    exit::hint_for(err).or_else(|| default_hint(exit::classify(err)).map(String::from))
}

/// Prints a clap usage error as one `error:` line and a hint; returns the
/// exit code (2, or 0 for --help and --version, which clap prints as is).
pub fn report_usage(err: clap::Error) -> i32 {
    match usage_error(&err) {
        None => {
            let _ = err.print();
            0
        }
        Some((message, hint)) => {
            eprintln!("error: {message}");
            eprintln!("hint: {hint}");
            Exit::Usage.code()
        }
    }
}

/// A clap error as (one-line message, hint), or None for --help and
/// --version, which are not errors.
pub fn usage_error(err: &clap::Error) -> Option<(String, String)> {
    if !err.use_stderr() {
        return None;
    }
    let rendered = err.render().to_string();
    let mut message = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim) {
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = Some(u.to_string());
        } else if line.starts_with("For more information") || line.is_empty() {
            continue;
        } else if usage.is_none() {
            message.push(line.trim_start_matches("error: ").to_string());
        }
    }
    let hint = match usage {
        Some(u) => format!("usage: {u} (see --help)"),
        None => "see --help".to_string(),
    };
    Some((message.join(" "), hint))
}

/// The error chain on one line, `context: cause: ...`; for an API error only
/// the server's message (kube's Display adds a debug dump of the Status).
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        if let Some(kube::Error::Api(s)) = cause.downcast_ref::<kube::Error>() {
            parts.push(s.message.clone());
            break;
        }
        // The client stack's own errors (transport failures worded for people)
        // come wrapped in kube's "ServiceError: ...": say them once, plainly.
        if let Some(kube::Error::Service(inner)) = cause.downcast_ref::<kube::Error>()
            && inner.is::<exit::Error>()
        {
            continue;
        }
        let text = cause.to_string();
        // Causes often repeat their source's text; keep each once.
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}

fn default_hint(code: Exit) -> Option<&'static str> {
    match code {
        Exit::Unreachable => {
            Some("check the cluster is reachable and your credentials: kubectl cluster-info")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_look_like_kubectl() {
        let t = table(
            &["NAME", "ACTIVE"],
            &[
                vec!["web".into(), "blue".into()],
                vec!["shop-api".into(), "green".into()],
            ],
        );
        assert_eq!(t, "NAME       ACTIVE\nweb        blue\nshop-api   green\n");
    }

    #[test]
    fn api_errors_read_as_the_server_says() {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "message": "services \"web\" not found", "reason": "NotFound", "code": 404
        }))
        .unwrap();
        let err =
            anyhow::Error::new(kube::Error::Api(Box::new(status))).context("patching Service web");
        assert_eq!(
            one_line(&err),
            "patching Service web: services \"web\" not found"
        );
    }

    #[test]
    fn counts_are_singular_only_for_one() {
        assert_eq!(count(1, "replica"), "1 replica");
        assert_eq!(count(0, "replica"), "0 replicas");
        assert_eq!(count(3_u32, "ready endpoint"), "3 ready endpoints");
        assert_eq!(count(1_usize as i64, "attempt"), "1 attempt");
    }

    #[test]
    fn paint_only_when_allowed() {
        assert_eq!(paint("blue", false), "blue");
        assert_eq!(paint("blue", true), "\x1b[34mblue\x1b[0m");
        assert_eq!(paint("other", true), "other");
    }
}
