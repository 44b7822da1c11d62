//! What every front end shares: where results go, progress on stderr,
//! duration arguments, and stopping cleanly on SIGINT/SIGTERM.

use std::time::Duration;

use crate::output::{Format, Progress};
use serde::Serialize;

/// Where results go.
pub struct Out {
    pub format: Format,
}

impl Out {
    /// Prints `doc` for machines, or `human` for people.
    pub fn result<T: Serialize>(
        &self,
        doc: &T,
        human: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        if self.format.is_machine() {
            crate::output::print_document(self.format, doc)
        } else {
            print!("{}", human());
            Ok(())
        }
    }
}

/// A progress callback writing to stderr.
pub fn progress() -> impl FnMut(&str) + Send {
    let mut p = Progress::default();
    move |line: &str| p.update(line)
}

/// A duration flag (`--pause 2m`): see [`crate::connect::parse_duration`].
pub fn duration(s: &str) -> Result<Duration, String> {
    crate::connect::parse_duration(s)
}

/// A timeout flag (`--timeout 10m`, `--timeout 0` for no limit): see
/// [`crate::connect::parse_timeout`].
pub fn timeout(s: &str) -> Result<Duration, String> {
    crate::connect::parse_timeout(s)
}

static SIGNALLED: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// The signal (`SIGINT`, `SIGTERM`) that stopped [`until_signalled`]'s work,
/// once it has: what a report written while the work is dropped says.
pub fn signalled() -> Option<&'static str> {
    SIGNALLED.get().copied()
}

/// How long a signalled process lets a write sequence in progress finish.
pub const GRACE: Duration = Duration::from_secs(10);

/// Runs `work` to its end, or until SIGINT or SIGTERM. On a signal, a write
/// sequence in progress (`lock::critical`, e.g. a switch's Service and preview
/// writes) may finish, for `GRACE` at most, so the app is left in a state the
/// next run reads as is; then the work is dropped and the leases this process
/// holds are released. A signal gives the conventional exit code (130, 143)
/// and the message to report (the caller prints it: one error line).
pub async fn until_signalled<F: std::future::Future>(work: F) -> Result<F::Output, (i32, String)> {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return Ok(work.await);
    };
    // Boxed, so that dropping it below really ends the work before the release.
    let mut work = Box::pin(work);
    let (code, name) = tokio::select! {
        r = work.as_mut() => return Ok(r),
        _ = int.recv() => (130, "interrupted"),
        _ = term.recv() => (143, "terminated"),
    };
    let _ = SIGNALLED.set(if code == 130 { "SIGINT" } else { "SIGTERM" });
    if crate::lock::in_critical() {
        // The work keeps running only until its write sequence is done.
        tokio::select! {
            _ = work.as_mut() => {}
            _ = crate::lock::critical_done() => {}
            _ = tokio::time::sleep(GRACE) => {}
        }
    }
    drop(work);
    let mut message = match crate::lock::release_all().await {
        0 => name.to_string(),
        _ => format!("{name}; the app's lock was released"),
    };
    if let Some(note) = interrupt_note() {
        message = format!("{message}; {note}");
    }
    Err((code, message))
}

/// What a signal should tell the user about where the work stopped (a ramp:
/// the weight it left and how to resume or abort). Set as the work moves.
static INTERRUPT_NOTE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Sets (or clears) the note a signal adds to its error line.
pub fn set_interrupt_note(note: Option<String>) {
    *INTERRUPT_NOTE.lock().unwrap_or_else(|e| e.into_inner()) = note;
}

fn interrupt_note() -> Option<String> {
    INTERRUPT_NOTE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Runs a plugin's command on a current-thread runtime and exits with its
/// code: errors reported as one `error:` line and a hint, SIGINT/SIGTERM
/// releasing held leases first (130/143).
pub fn run_to_exit<F>(work: F) -> !
where
    F: std::future::Future<Output = anyhow::Result<crate::exit::Exit>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = runtime.block_on(async {
        match until_signalled(work).await {
            Ok(Ok(code)) => code.code(),
            Ok(Err(e)) => crate::output::report_error(&e).code(),
            Err((code, message)) => {
                eprintln!("error: {message}");
                code
            }
        }
    });
    std::process::exit(code);
}

/// Every option and positional argument of `cmd` and its subcommands that
/// has no help text, as `command --flag`: what `--help` would show bare.
/// Each binary's tests assert there is none.
pub fn undocumented(cmd: &clap::Command) -> Vec<String> {
    let mut missing = Vec::new();
    let mut cmd = cmd.clone();
    cmd.build();
    walk(&cmd, cmd.get_name(), &mut missing);
    missing
}

fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for arg in cmd.get_arguments() {
        let generated = matches!(arg.get_id().as_str(), "help" | "version");
        if generated || arg.is_hide_set() {
            continue;
        }
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            let name = match (arg.get_long(), arg.is_positional()) {
                (Some(l), _) => format!("--{l}"),
                (None, _) => format!("<{}>", arg.get_id().as_str().to_uppercase()),
            };
            missing.push(format!("{path} {name}"));
        }
    }
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        walk(sub, &format!("{path} {}", sub.get_name()), missing);
    }
}

/// A number of replicas (`--replicas`, `--to`, `--total`): a whole number,
/// 0 or more. Options taking it set `allow_negative_numbers`, so `-1` reaches
/// here and gets this error, not clap's `use '-- -1'` tip.
pub fn replicas(s: &str) -> Result<i32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if (0..=i32::MAX as i64).contains(&n) => Ok(n as i32),
        _ => Err(format!(
            "invalid number of replicas {s:?}: a whole number, 0 or more"
        )),
    }
}

/// A number of attempts: a whole number, 1 or more (see [`replicas`] for `-1`).
pub fn attempts(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid number of attempts {s:?}: a whole number, 1 or more"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_whole_numbers() {
        assert_eq!(replicas("0"), Ok(0));
        assert_eq!(replicas("3"), Ok(3));
        for bad in ["-1", "1.5", "x", "", "99999999999"] {
            assert!(replicas(bad).unwrap_err().contains("0 or more"), "{bad}");
        }
        assert_eq!(attempts("5"), Ok(5));
        for bad in ["0", "-1", "x"] {
            assert!(attempts(bad).is_err(), "{bad}");
        }
    }
}
