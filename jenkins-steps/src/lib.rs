//! Step executables for Jenkins `sh` steps (`deploy-health-wait`,
//! `deploy-switch`, `deploy-weight`, `deploy-rollback`, `deploy-notify`,
//! `deploy-analysis`, `deploy-rollout`, `deploy-apply`) and what
//! they share: the flags, a log on stderr a Jenkins console shows well (one
//! timestamped line per change, no color), one JSON result on stdout with
//! `-o json` and in `--result-file` for `readJSON`, and the exit codes of
//! ARCHITECTURE.md. The rules live in the switchyard library.

pub mod junit;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use switchyard::exit::Exit;

/// Flags every step takes. kubectl's `-v LEVEL` is not here: it comes with
/// the connection flags (`switchyard::connect::KubeArgs`), and
/// `deploy-notify`, which has none, flattens `switchyard::connect::Verbosity`
/// itself; clap refuses one flag defined twice in a command.
#[derive(clap::Args, Clone, Debug)]
pub struct StepArgs {
    /// `json` prints the result document on stdout.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Also write the result document here (for Jenkins `readJSON`).
    #[arg(long, value_name = "PATH")]
    pub result_file: Option<PathBuf>,
    /// How long anything that waits may wait (0: no limit; at most 168h).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = switchyard::cli::timeout)]
    pub timeout: Duration,
    /// Print a shell completion script (bash, zsh, fish, powershell) and exit.
    #[arg(long, value_enum, value_name = "SHELL", exclusive = true)]
    pub completion: Option<switchyard::completion::Shell>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The step's log on stderr: `[time] step: message`, one line per change.
#[derive(Clone)]
pub struct Log {
    step: &'static str,
}

impl Log {
    pub fn new(step: &'static str) -> Self {
        Log { step }
    }

    pub fn line(&self, message: &str) {
        let t = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
        eprintln!("[{t}] {}: {message}", self.step);
    }

    /// A progress callback for the library.
    pub fn progress(&self) -> impl FnMut(&str) + Send + use<> {
        let log = self.clone();
        move |line: &str| log.line(line)
    }
}

/// What a step produced: its exit code, a one-line summary for the log, the
/// result for the document, and an error with a hint when it failed.
pub struct Outcome {
    pub exit: Exit,
    pub summary: String,
    pub result: Value,
    pub error: Option<(String, Option<String>)>,
}

impl Outcome {
    pub fn ok(summary: impl Into<String>, result: impl Serialize) -> Self {
        Outcome {
            exit: Exit::Ok,
            summary: summary.into(),
            result: serde_json::to_value(result).unwrap_or(Value::Null),
            error: None,
        }
    }

    pub fn failed(exit: Exit, message: impl Into<String>, result: impl Serialize) -> Self {
        let message = message.into();
        Outcome {
            exit,
            summary: message.clone(),
            result: serde_json::to_value(result).unwrap_or(Value::Null),
            error: Some((message, None)),
        }
    }
}

fn build_info() -> Value {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    json!({ "job": env("JOB_NAME"), "number": env("BUILD_NUMBER"), "url": switchyard::history::build_url() })
}

/// Runs a step: a runtime, SIGINT/SIGTERM handling (leases released, 130/143),
/// the log, the result document, the exit code. Never returns.
pub fn main<F, Fut>(step: &'static str, args: StepArgs, body: F) -> !
where
    F: FnOnce(Log) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Outcome>>,
{
    let log = Log::new(step);
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let ended =
        runtime.block_on(async { switchyard::cli::until_signalled(body(log.clone())).await });
    let (outcome, code) = match ended {
        Ok(Ok(o)) => {
            let code = o.exit.code();
            (o, code)
        }
        Ok(Err(e)) => {
            let exit = switchyard::exit::classify(&e);
            let hint = switchyard::output::hint(&e);
            let message = switchyard::output::one_line(&e);
            (
                Outcome {
                    exit,
                    summary: message.clone(),
                    result: Value::Null,
                    error: Some((message, hint)),
                },
                exit.code(),
            )
        }
        // The signal handler released the leases; keep the conventional code.
        Err((code, what)) => (
            Outcome {
                exit: Exit::Failed,
                summary: what.clone(),
                result: Value::Null,
                error: Some((what, None)),
            },
            code,
        ),
    };
    match &outcome.error {
        Some((message, hint)) => {
            log.line(&format!("error: {message}"));
            if let Some(h) = hint {
                log.line(&format!("hint: {h}"));
            }
        }
        None => log.line(&outcome.summary),
    }
    let text = document(step, code, &outcome, started);
    if args.output == OutputFormat::Json {
        println!("{text}");
    }
    if let Some(path) = &args.result_file {
        write_result_file(path, &text, |w| log.line(w));
    }
    std::process::exit(code);
}

/// The result document (`-o json`, `--result-file`), pretty JSON.
fn document(step: &str, code: i32, outcome: &Outcome, started: Instant) -> String {
    let doc = json!({
        "step": step,
        "ok": code == 0,
        "exitCode": code,
        "summary": outcome.summary,
        "result": outcome.result,
        "error": outcome.error.as_ref().map(|(m, h)| json!({ "message": m, "hint": h })),
        "build": build_info(),
        "durationMs": started.elapsed().as_millis() as u64,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn write_result_file(path: &std::path::Path, text: &str, warn: impl FnOnce(&str)) {
    if let Err(e) = std::fs::write(path, format!("{text}\n")) {
        warn(&format!(
            "warning: could not write the result file {}: {e}",
            path.display()
        ));
    }
}

/// `--result-file PATH` (or `--result-file=PATH`) from the raw arguments,
/// for a usage error, when clap has parsed nothing. Scanning stops at `--`.
fn result_file_arg(args: &[std::ffi::OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_str()?;
        if s == "--" {
            return None;
        }
        if s == "--result-file" {
            return it
                .next()
                .filter(|v| !v.is_empty() && !v.to_string_lossy().starts_with('-'))
                .map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--result-file=") {
            return (!v.is_empty()).then(|| PathBuf::from(v));
        }
    }
    None
}

/// Parses a step's arguments; usage errors are one line and exit 2.
/// `--version` names the commit; `--completion SHELL` prints the script and
/// exits before the step's required flags are asked for.
pub fn parse<T: clap::Parser>() -> T {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cmd = T::command().version(switchyard::completion::VERSION);
    switchyard::completion::exit_if_flag(cmd.clone(), &args);
    let parsed = cmd
        .clone()
        .try_get_matches_from(&args)
        .and_then(|mut m| T::from_arg_matches_mut(&mut m));
    match parsed {
        Ok(t) => t,
        Err(e) => {
            let Some((message, hint)) = switchyard::output::usage_error(&e) else {
                std::process::exit(switchyard::output::report_usage(e));
            };
            eprintln!("error: {message}");
            eprintln!("hint: {hint}");
            // The Groovy library reads the result file: a usage error gets one too.
            if let Some(path) = result_file_arg(&args) {
                let step = cmd.get_name().to_string();
                let outcome = Outcome {
                    exit: Exit::Usage,
                    summary: message.clone(),
                    result: Value::Null,
                    error: Some((message, Some(hint))),
                };
                let code = Exit::Usage.code();
                let text = document(&step, code, &outcome, Instant::now());
                write_result_file(&path, &text, |w| eprintln!("{w}"));
            }
            std::process::exit(Exit::Usage.code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_file_is_found_before_clap_parses() {
        let os = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let find = |a: &[&str]| result_file_arg(&os(a));
        assert_eq!(
            find(&["deploy-switch", "--to", "blu", "--result-file", "r.json"]),
            Some(PathBuf::from("r.json"))
        );
        assert_eq!(
            find(&["deploy-switch", "--result-file=out/r.json", "--x"]),
            Some(PathBuf::from("out/r.json"))
        );
        // No value, a flag where the value should be, or after `--`: unknown.
        assert_eq!(find(&["deploy-switch", "--result-file"]), None);
        assert_eq!(find(&["deploy-switch", "--result-file", "-o"]), None);
        assert_eq!(find(&["deploy-switch", "--result-file="]), None);
        assert_eq!(find(&["deploy-switch", "--", "--result-file", "r"]), None);
    }
}
