//! Step executables for Jenkins `sh` steps (`deploy-health-wait`,
//! `deploy-switch`, `deploy-weight`, `deploy-rollback`, `deploy-notify`,
//! `deploy-analysis`) and what
//! they share: the flags, a log on stderr a Jenkins console shows well (one
//! timestamped line per change, no color), one JSON result on stdout with
//! `-o json` and in `--result-file` for `readJSON`, and the exit codes of
//! DESIGN.md. The rules live in the switchyard library.

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
    /// How long anything that waits may wait.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = switchyard::cli::duration)]
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
            let hint = switchyard::exit::hint_for(&e);
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
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    if args.output == OutputFormat::Json {
        println!("{text}");
    }
    if let Some(path) = &args.result_file
        && let Err(e) = std::fs::write(path, format!("{text}\n"))
    {
        log.line(&format!(
            "warning: could not write the result file {}: {e}",
            path.display()
        ));
    }
    std::process::exit(code);
}

/// Parses a step's arguments; usage errors are one line and exit 2.
/// `--version` names the commit; `--completion SHELL` prints the script and
/// exits before the step's required flags are asked for.
pub fn parse<T: clap::Parser>() -> T {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cmd = T::command().version(switchyard::completion::VERSION);
    switchyard::completion::exit_if_flag(cmd.clone(), &args);
    let parsed = cmd
        .try_get_matches_from(args)
        .and_then(|mut m| T::from_arg_matches_mut(&mut m));
    match parsed {
        Ok(t) => t,
        Err(e) => std::process::exit(switchyard::output::report_usage(e)),
    }
}
